"""Which failure of a run lasts, told from the error itself: each errno the file system
answers (made for real through the one writer where a test can make it), the chain of causes
a traceback shows, and what a lasting failure names: the fix, the inputs whose change tries
the run again, and the commands that make it by hand, dated in the newsletter's zone."""

from __future__ import annotations

import datetime as dt
import errno
import os
import threading
from pathlib import Path

import pytest

from conftest import make_config, write_article
from newsletter.core.config import Config
from newsletter.core.errors import NewsletterError
from newsletter.publishing.output import write_files
from newsletter.schedule.failures import by_hand, lasting
from newsletter.schedule.runs import run_pass
from scheduler_support import FIRE, scheduled, writing_where_it_may_not

pytestmark = pytest.mark.usefixtures("in_project")

READ_ONLY = "the file system is mounted read-only"
MISPLACED = "a file stands where a folder should be, or a folder where a file should"
MAY_NOT = "let the user running the scheduler ({user}) write there (chown or chmod)"


def _written(root: Path, files: dict[str, bytes]) -> NewsletterError:
    with pytest.raises(NewsletterError) as refused:
        write_files(root, files)
    return refused.value


def _wrapped(code: int, path: Path) -> NewsletterError:
    """What the writer raises for an OSError a test cannot make (a read-only mount, an
    operation the kernel forbids root too)."""
    try:
        try:
            raise OSError(code, os.strerror(code), str(path))
        except OSError as error:
            raise NewsletterError(f"cannot write in {path.parent}: {error}") from error
    except NewsletterError as wrapped:
        return wrapped


def test_a_file_where_a_folder_should_be_is_lasting(tmp_path: Path) -> None:
    config = scheduled(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "2021-02-22").write_text("a file", encoding="utf-8")
    (out / "feed.xml").mkdir()
    for error, code, named in [
            (_written(out, {"2021-02-22/index.html": b"x"}), errno.EEXIST, out / "2021-02-22"),
            (_written(out, {"2021-02-22/a/b.html": b"x"}), errno.ENOTDIR,
             out / "2021-02-22" / "a"),
            # os.replace names the temporary file first, then the folder in the way
            (_written(out, {"feed.xml": b"x"}), errno.EISDIR, out / "feed.xml")]:
        assert isinstance(error.__cause__, OSError) and error.__cause__.errno == code
        found = lasting(error, config)
        assert found is not None, error
        assert found.cause == str(error)
        assert found.fix.startswith(MISPLACED)
        assert named in found.inputs and named.parent in found.inputs


@pytest.mark.parametrize(("code", "fix"), [(errno.EROFS, READ_ONLY),
                                           (errno.EPERM, MAY_NOT.format(user="root"))])
def test_a_read_only_mount_or_a_forbidden_operation_is_lasting(tmp_path: Path, code: int,
                                                               fix: str) -> None:
    config = scheduled(tmp_path)
    target = tmp_path / "out" / "index.html"
    found = lasting(_wrapped(code, target), config)
    assert found is not None
    assert found.fix.startswith(fix if os.geteuid() == 0 else fix.split(" (")[0])
    assert found.inputs == (target, target.parent)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO, errno.ENOENT])
def test_what_lacks_room_or_fails_for_now_passes(tmp_path: Path, code: int) -> None:
    assert lasting(_wrapped(code, tmp_path / "out" / "index.html"), scheduled(tmp_path)) \
        is None


def test_the_cause_is_found_however_the_error_was_raised(tmp_path: Path) -> None:
    """Raised inside the handler of an OSError (a context, as a traceback shows it): lasting;
    raised ``from None``, which says the error raised says all: only that error counts; an
    error that is its own cause does not keep the scheduler looking."""
    config = scheduled(tmp_path)
    refused = OSError(errno.EROFS, os.strerror(errno.EROFS), str(tmp_path / "x"))
    for hide in (False, True):
        try:
            try:
                raise refused
            except OSError:
                if hide:
                    raise NewsletterError("cannot write") from None
                raise NewsletterError("cannot write")  # noqa: B904 - the context is the test
        except NewsletterError as error:
            found = lasting(error, config)
        assert (found is None) is hide
    looping = NewsletterError("a loop")
    looping.__cause__ = looping
    answers: list[object] = []
    looking = threading.Thread(target=lambda: answers.append(lasting(looping, config)),
                               daemon=True)
    looking.start()
    looking.join(10)
    assert answers == [None]


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to another user needs root")
def test_a_user_without_a_name_is_named_by_its_uid(tmp_path: Path) -> None:
    _, answer = writing_where_it_may_not(scheduled(tmp_path), uid=54321)  # a uid no user has
    assert f"fix='{MAY_NOT.format(user='uid 54321')}" in answer, answer


def test_the_commands_by_hand_are_dated_in_the_newsletters_zone(tmp_path: Path) -> None:
    config = make_config(tmp_path, timezone="America/New_York", state_dir="state",
                         schedule={"cron": "0 22 * * sun", "catch_up_hours": 24})
    sunday_evening = dt.datetime(2021, 2, 22, 3, tzinfo=dt.UTC)  # 22:00 in New York
    assert by_hand(config, sunday_evening, strict=False) == (
        "make it by hand with `newsletter build --date 2021-02-21 --publish`")


def _failed(config: Config, *, strict: bool = False) -> tuple[str, str, tuple[Path, ...]]:
    outcome = run_pass(config, FIRE + dt.timedelta(minutes=1), strict=strict)
    assert not outcome and outcome.lasting is not None
    return outcome.lasting.cause, outcome.lasting.fix, outcome.lasting.inputs


def test_a_strict_run_waits_for_the_corpus_and_the_files_named(tmp_path: Path) -> None:
    config = scheduled(tmp_path)
    bad = config.corpus / "bad.md"
    bad.write_text("---\ntitle: [\n---\nBody.\n", encoding="utf-8")
    cause, _, inputs = _failed(config, strict=True)
    assert "bad.md:3" in cause
    assert inputs == (config.corpus, bad)  # a new or removed article changes the corpus


def test_an_undefined_name_in_a_template_waits_for_the_template_folders(
        tmp_path: Path) -> None:
    write_article(tmp_path / "articles", "one", quality=80)
    overrides = tmp_path / "my-templates"
    overrides.mkdir()
    page = overrides / "issue.html.j2"
    page.write_text("<p>{{ no_such_thing.title }}</p>\n", encoding="utf-8")
    config = make_config(tmp_path, state_dir="state", templates="my-templates",
                         schedule={"cron": "0 7 * * mon", "catch_up_hours": 24})
    cause, fix, inputs = _failed(config)
    assert "UndefinedError" in cause and "no_such_thing" in cause
    assert fix.startswith("correct the template")
    # the folder of overrides (a template added there), not the packaged one
    assert inputs[0] == overrides.resolve() and len(inputs) <= 2
    assert all(path == page.resolve() for path in inputs[1:])
