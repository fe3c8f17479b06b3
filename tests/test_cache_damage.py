"""What the corpus reading does when the disk, the permissions or the cache go wrong: a file
that could not be read is tried again, a damaged cache is rebuilt once, never served, and
nothing outside the corpus folder is ever shown."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import PROJECT, run, write_article, write_config
from newsletter.reading import cache as corpus_cache
from newsletter.reading import corpus, files

MARGIN_NS = 10_000_000  # the racy margin, test-sized: settle() waits it out


@pytest.fixture(autouse=True)
def settled(monkeypatch):
    monkeypatch.setattr(corpus_cache, "RACY_MARGIN_NS", MARGIN_NS)


def settle() -> None:
    time.sleep(2 * MARGIN_NS / 1e9)


def article(number: int, padding: int = 0) -> str:
    return (f'---\ntitle: "Story {number}"\npublishedDateTime: 2021-02-17T12:00:00Z\n'
            f"webUrl: https://a.example/{number}\nquality: 10\ntopics: [AI]\n---\nbody\n"
            + "x" * padding)


def make_corpus(folder: Path, count: int, padding: int = 0) -> tuple[Path, Path]:
    """A corpus folder of ``count`` valid articles, and a state folder for its cache."""
    root, state = folder / "articles", folder / "state"
    root.mkdir()
    for number in range(count):
        (root / f"a{number:04d}.md").write_text(article(number, padding), encoding="utf-8")
    settle()
    return root, state


def titles(reading: corpus.CorpusReading) -> list[str]:
    return sorted(a.title for a in reading.articles)


def counting_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    read: list[str] = []
    original = files.read_file
    monkeypatch.setattr(files, "read_file", lambda relative, *a, **k: (
        read.append(relative), original(relative, *a, **k))[1])
    return read


# -- a file that could not be read ----------------------------------------------------------

@pytest.mark.parametrize("parallel", [False, True])
def test_a_file_that_could_not_be_read_is_read_again_next_build(tmp_path, monkeypatch,
                                                                 parallel):
    """Access may come back without the file's stamp changing (the user joins the file's
    group, a network disk recovers): its problem must not be served from the cache."""
    root, state = make_corpus(tmp_path, 30)
    if parallel:
        monkeypatch.setattr(files, "PARALLEL_MIN_FILES", 1)
    real = files._read_bytes

    def refused(path: str, size: int) -> bytes:
        if path.endswith("a0007.md"):
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real(path, size)

    monkeypatch.setattr(files, "_read_bytes", refused)
    first = corpus.read_corpus(root, cache_dir=state)
    assert [(p.path, p.message) for p in first.problems] == [
        ("a0007.md", "cannot be read: Permission denied")]
    monkeypatch.setattr(files, "_read_bytes", real)
    for _ in range(2):  # read again, and then served from the cache
        again = corpus.read_corpus(root, cache_dir=state)
        assert again.problems == () and "Story 7" in titles(again)
    read = counting_reads(monkeypatch)
    corpus.read_corpus(root, cache_dir=state)
    assert read == []  # the article read, once access came back, is trusted as any other


def without_access(*command: str) -> list[str]:
    """``command`` run as a user that file permissions apply to: root with its override
    capabilities dropped."""
    if os.geteuid() != 0:
        return list(command)
    caps = "-dac_override,-dac_read_search"
    return ["setpriv", f"--bounding-set={caps}", f"--inh-caps={caps}", *command]


needs_permissions = pytest.mark.skipif(
    os.name != "posix" or (os.geteuid() == 0 and not shutil.which("setpriv")),
    reason="needs POSIX permissions (and setpriv, as root)")


@needs_permissions
def test_a_file_unreadable_to_one_build_is_read_by_the_next(tmp_path):
    """For real: a build without the right to read one file, then a build with it (as
    root), the file and its stamp untouched meanwhile."""
    if os.geteuid() != 0:
        pytest.skip("needs root for the second build")
    root, state = make_corpus(tmp_path, 5)
    (root / "a0002.md").chmod(0o000)
    settle()
    code = ("import sys; from pathlib import Path; from newsletter.reading import cache, corpus;"
            f"cache.RACY_MARGIN_NS = {MARGIN_NS};"
            "r = corpus.read_corpus(Path(sys.argv[1]), cache_dir=Path(sys.argv[2]));"
            "print([p.message for p in r.problems])")
    refused = subprocess.run(without_access(sys.executable, "-c", code, str(root), str(state)),
                             capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONPATH": str(PROJECT)})
    assert refused.stdout.strip() == "['cannot be read: Permission denied']", refused
    assert corpus.read_corpus(root, cache_dir=state).problems == ()  # root reads it now


@needs_permissions
def test_an_unreadable_corpus_folder_is_named_with_the_fix(tmp_path):
    write_config(tmp_path)
    write_article(tmp_path / "articles", "one")
    (tmp_path / "articles").chmod(0o000)
    result = subprocess.run(
        without_access(sys.executable, "-m", "newsletter", "--config",
                       str(tmp_path / "newsletter.yaml"), "build", "--date", "2021-02-22"),
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(PROJECT)})
    (tmp_path / "articles").chmod(0o755)
    assert result.returncode == 1, result
    assert result.stderr.strip() == (
        f"Error: the corpus folder {tmp_path / 'articles'} cannot be read (Permission "
        "denied): give the user running newsletter access to it, or set `corpus:` in "
        "the configuration to the folder of the articles"), result.stderr


# -- a damaged SQLite cache -----------------------------------------------------------------

def damage_a_middle_page(database: Path) -> None:
    """Overwrite one page among the rows, the header and the format table left intact."""
    with open(database, "r+b") as handle:
        handle.seek(database.stat().st_size // 2 & ~4095)
        handle.write(b"\xff" * 4096)


def assert_sound(database: Path) -> None:
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@pytest.mark.parametrize("edited", [False, True])
def test_damage_among_the_rows_is_rebuilt_once(tmp_path, monkeypatch, capsys, edited):
    """Damage the format check cannot see: met when the rows are fetched (a warm build) or
    written (every file edited): the cache files go, with one note, and the next build
    makes a sound cache again, then uses it."""
    root, state = make_corpus(tmp_path, 300, padding=2000)
    expected = titles(corpus.read_corpus(root))
    corpus.read_corpus(root, cache_dir=state)
    database = corpus_cache.cache_path(state, root)
    damage_a_middle_page(database)
    if edited:
        for path in root.iterdir():
            path.write_text(path.read_text(encoding="utf-8") + "y", encoding="utf-8")
        settle()
    capsys.readouterr()
    assert titles(corpus.read_corpus(root, cache_dir=state)) == expected
    notes = capsys.readouterr().err.splitlines()
    assert notes == [f"note: corpus cache {database} is damaged: removed, the next build "
                     "rebuilds it"], notes
    assert titles(corpus.read_corpus(root, cache_dir=state)) == expected  # the rebuild
    assert capsys.readouterr().err == ""
    assert_sound(database)
    read = counting_reads(monkeypatch)
    assert titles(corpus.read_corpus(root, cache_dir=state)) == expected
    assert read == [] and capsys.readouterr().err == ""


# -- one file read alone (the preview) as the walk reads it -------------------------------

def test_one_file_read_alone_follows_the_walks_rule_for_links(tmp_path):
    """The preview reads the files a watcher names one by one: each must read as a build
    reads it, so that a link out of the corpus folder is refused by both."""
    root, _state = make_corpus(tmp_path, 2)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text(article(99), encoding="utf-8")
    (root / "sub").mkdir()
    (root / "sub" / "inner.md").write_text(article(5), encoding="utf-8")
    links = {"out.md": outside / "secret.md", "in.md": root / "a0001.md",
             "dangling.md": root / "gone.md", "loop.md": root / "loop.md",
             "outfolder": outside, "infolder": root / "sub"}
    for name, target in links.items():
        os.symlink(target, root / name)
    build = corpus.read_corpus(root)
    as_built: dict[str, object] = {a.path: a for a in build.articles}
    as_built.update((p.path, p) for p in build.problems)
    names = ["a0000.md", "sub/inner.md", "out.md", "in.md", "dangling.md", "loop.md",
             "outfolder/secret.md", "infolder/inner.md", "missing.md", ".hidden.md"]
    alone = {name: corpus.read_article_file(root, name) for name in names}
    assert alone == {name: as_built.get(name) for name in names}
    assert "Story 99" not in str(alone)


# -- the state folder ---------------------------------------------------------------------

@pytest.mark.parametrize("command", [("build", "--date", "2021-02-22"), ("check",)])
def test_the_cache_leaves_a_state_folder_holding_the_site_open(tmp_path, command):
    """``state_dir: .`` with ``output: issues``: the project folder holds the published site,
    which a web server must still read once the corpus cache is made there."""
    project, articles = tmp_path / "site", tmp_path / "articles"
    project.mkdir()
    project.chmod(0o755)
    write_config(project, corpus=str(articles), output="issues", state_dir=".")
    write_article(articles, "one")
    result = run(project, *command)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(project.stat().st_mode) == 0o755
    assert list(project.glob("corpus-cache-*.sqlite3"))  # the cache was made, privately
    assert all(stat.S_IMODE(p.stat().st_mode) & 0o077 == 0
               for p in project.glob("corpus-cache-*"))


# -- a damaged compact table ----------------------------------------------------------------

@pytest.mark.parametrize("field", [0, 1, 2])
def test_a_damaged_length_in_the_tables_header_is_rebuilt(tmp_path, monkeypatch, capsys,
                                                          field):
    """The header's lengths say how much to read: a damaged one (header and checksum fields
    intact) must not make a build ask for terabytes, but rebuild the table as other damage
    does."""
    root, state = make_corpus(tmp_path, 5)
    expected = titles(corpus.read_corpus(root))
    corpus.read_corpus(root, cache_dir=state)
    table = corpus_cache.CorpusCache(corpus_cache.cache_path(state, root)).tables.table_path
    head, body = table.read_bytes().split(b"\n", 1)
    fields = head.split(b" ")
    lengths = fields[3].split(b",")
    lengths[field] = b"999999999999984"  # a multiple of 48, as the columns' length must be
    fields[3] = b",".join(lengths)
    table.write_bytes(b" ".join(fields) + b"\n" + body)
    capsys.readouterr()
    assert titles(corpus.read_corpus(root, cache_dir=state)) == expected
    notes = capsys.readouterr().err.splitlines()
    assert len(notes) == 1 and f"{table} is unreadable" in notes[0], notes
    read = counting_reads(monkeypatch)
    assert titles(corpus.read_corpus(root, cache_dir=state)) == expected  # rebuilt
    assert read == [] and capsys.readouterr().err == ""


# -- temporary table files --------------------------------------------------------------

def leftovers(state: Path) -> list[str]:
    return sorted(p.name for p in state.iterdir() if p.name.startswith("."))


def test_table_files_of_builds_killed_before_their_rename_are_removed(tmp_path):
    """A build killed between writing the table's temporary file and renaming it (as big
    as the table) leaves the file behind: the next build that saves the table removes it."""
    root, state = make_corpus(tmp_path, 20)
    code = ("import os, signal, sys; from pathlib import Path;"
            "from newsletter.reading import corpus, tablefiles;"
            "tablefiles.os.replace = lambda a, b: os.kill(os.getpid(), signal.SIGKILL);"
            "corpus.read_corpus(Path(sys.argv[1]), cache_dir=Path(sys.argv[2]))")
    left: list[list[str]] = []
    for _ in range(2):
        killed = subprocess.run([sys.executable, "-c", code, str(root), str(state)],
                                env={**os.environ, "PYTHONPATH": str(PROJECT)})
        assert killed.returncode == -9
        left.append(leftovers(state))
    assert len(left[0]) == len(left[1]) == 1 and left[0] != left[1]  # the first one removed
    corpus.read_corpus(root, cache_dir=state)
    assert leftovers(state) == []
    table = corpus_cache.CorpusCache(corpus_cache.cache_path(state, root)).tables.table_path
    assert table.exists()


def test_a_table_write_stopped_by_any_exception_leaves_no_temporary_file(tmp_path,
                                                                        monkeypatch):
    root, state = make_corpus(tmp_path, 5)

    def interrupted(source: str, target: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        corpus.read_corpus(root, cache_dir=state)
    assert leftovers(state) == []
