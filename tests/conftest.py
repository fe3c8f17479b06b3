"""Shared helpers: write article files and configs the way users do, as real files."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from hypothesis import settings

from newsletter.cli import cli
from newsletter.core.config import Config, load_config
from newsletter.core.models import Article, Issue, PlacedArticle, Provider, Section, Window
from newsletter.publishing.publishlock import PUBLISH_LOCK
from newsletter.state.database import Database

# Shared machines and CI runners stall now and then: an example that took long is not a
# failure of the property, so no per-example deadline (the hostile-corpus test has its own
# overall time budget).
settings.register_profile("newsletter", deadline=None)
settings.load_profile("newsletter")


@pytest.fixture(scope="session", autouse=True)
def interruptible_processes() -> Iterator[None]:
    """A suite started as a shell script's background job (``pytest &``, some CI runners)
    starts with SIGINT ignored, and every process it starts inherits that: a ``newsletter``
    process a test interrupts with SIGINT, as Ctrl-C does, would go on as if nothing came.
    Handling SIGINT here as Python does by default gives them what a terminal gives (a
    handled signal is set back to its default in a new program)."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield


# Compiled templates go to the user's cache folder (rendering/templating.py): the tests,
# and the commands they run, keep theirs apart and leave nothing behind.
_COMPILED = tempfile.TemporaryDirectory(prefix="newsletter-tests-cache-")
os.environ["XDG_CACHE_HOME"] = _COMPILED.name

PROJECT = Path(__file__).resolve().parent.parent
SHARED_CORPUS = PROJECT.parent / "shared" / "corpus"
# The reference copy of the sample site the code must build, with the editor's overrides.
# issues/ is the user's own copy to open and change: no test reads or writes it.
GOLDEN = PROJECT / "tests" / "golden"
SAMPLE_DATES = ("2021-02-15", "2021-02-22")  # the published sample issues in GOLDEN


def article_text(fields: dict[str, Any], body: str = "") -> str:
    """An article file as a feed would write it: YAML front matter between '---' lines."""
    front = yaml.safe_dump(fields, sort_keys=False, allow_unicode=True)
    return f"---\n{front}---\n{body}"


def article_fields(slug: str, **fields: Any) -> dict[str, Any]:
    """A valid article's fields; keyword arguments override or add (None removes a key)."""
    base: dict[str, Any] = {
        "title": f"Story {slug}",
        "excerpt": f"What happened in {slug}.",
        "publishedDateTime": dt.datetime(2021, 2, 17, 12, 0, tzinfo=dt.UTC),
        "webUrl": f"https://news.example/{slug}",
        "type": "article",
        "quality": 50,
        "heat": 10,
        "provider": {"name": "News Example", "domain": "news.example"},
        "topics": ["AI"],
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def write_article(folder: Path, slug: str, body: str = "", suffix: str = ".md",
                  **fields: Any) -> Path:
    """Write ``folder/<slug><suffix>`` holding a valid article with ``fields`` applied."""
    path = folder / f"{slug}{suffix}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(article_text(article_fields(slug, **fields), body), encoding="utf-8")
    return path


def write_config(folder: Path, **settings: Any) -> Path:
    """Write ``folder/newsletter.yaml``; keyword arguments override the defaults below."""
    data: dict[str, Any] = {
        "title": "AI Weekly",
        "site_url": "https://news.example.org/ai/",
        "timezone": "UTC",
        "corpus": "articles",
        "output": "issues",
        "window_days": 7,
        "min_quality": 0,
        "topics": ["AI"],
        "related": {"max_per_article": 3},
        "email": {"from": "AI Weekly <newsletter@news.example.org>",
                  "postal_address": "100 Example Street, Springfield"},
    }
    if _STATE_URL[0] is not None:  # the test runs against PostgreSQL (state_backend)
        data["state_url"] = _STATE_URL[0]
    data.update(settings)
    data = {k: v for k, v in data.items() if v is not None}
    (folder / "articles").mkdir(exist_ok=True)
    path = folder / "newsletter.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def make_config(folder: Path, **settings: Any) -> Config:
    return load_config(write_config(folder, **settings))


@pytest.fixture(scope="session")
def sample_config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    """The sample newsletter's config (America/New_York, six topics, the articles/ corpus)
    with an empty output folder and its own state folder: nothing a test or another run
    published changes the selection, and no test writes into the checkout."""
    sample = load_config(PROJECT / "newsletter.yaml")
    folder = tmp_path_factory.mktemp("sample")
    return replace(sample, output=folder / "issues", state_dir=folder / "state")


@pytest.fixture(scope="session")
def config(sample_config: Config) -> Config:
    return sample_config


@pytest.fixture(scope="session")
def published(sample_config: Config) -> list[Issue]:
    """The sample's three weekly issues (2021-02-15, -22, -03-01), published, oldest first."""
    from newsletter.publishing.build import read_and_select

    return [replace(read_and_select(sample_config, date).selection.issue, status="published")
            for date in (dt.date(2021, 2, 15), dt.date(2021, 2, 22), dt.date(2021, 3, 1))]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty newsletter project: newsletter.yaml (topic AI, UTC) and an articles/ folder."""
    write_config(tmp_path)
    return tmp_path


# -- sending: the secret that signs readers' links, the published site a send reads -------

SECRET = "test-secret-0123456789-abcdefghij"


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """NEWSLETTER_SECRET set to ``SECRET`` for the test: what sends and the public pages
    sign and check readers' links with. A module that needs it says so with
    ``pytestmark = pytest.mark.usefixtures("secret")``."""
    monkeypatch.setenv("NEWSLETTER_SECRET", SECRET)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The published site of sending_support.build_site, built once per test module (a
    module may define its own ``site``)."""
    from sending_support import build_site  # it imports this module: not at the top

    return build_site(tmp_path_factory.mktemp("site"))


@pytest.fixture
def world(site: Path, tmp_path: Path) -> Iterator[tuple[Config, Any, Any]]:
    """serve (with its mail sender) and an SMTP server, for one test: the config, a
    signup_support.Reader of the site and the smtp_support.Recorder of what was sent."""
    # They import this module: not at the top.
    from signup_support import Reader, configure
    from smtp_support import Recorder, smtp_server
    from web_support import serving

    recorder = Recorder()
    with smtp_server(recorder) as smtp_port:
        config = configure(site, tmp_path, smtp_port)
        with serving(config, send_mail=True) as http_port:
            yield config, Reader(http_port), recorder


# -- real headless Chromium (browser_support.py) --------------------------------------------

@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium, started once per test module (skips without Playwright)."""
    from browser_support import CHROMIUM, FLAGS  # it imports this module: not at the top

    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def sample_pages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample newsletter's published site (``sample_site``), built once per test module:
    the pages the browser tests open."""
    return sample_site(tmp_path_factory.mktemp("site"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="Rebuild the reference sample site in tests/golden/ instead of "
                          "comparing against it; review the diff with git.")


def decoy_environment(folder: Path) -> dict[str, str]:
    """The environment with a decoy ``newsletter`` package first on PYTHONPATH, which stops
    any process that imports it: a script run with it must start its processes on this
    checkout's code, as it must from a git worktree, where the installed copy is another."""
    decoy = folder / "decoy" / "newsletter"
    decoy.mkdir(parents=True)
    (decoy / "__init__.py").write_text(
        "raise SystemExit('a process ran the decoy newsletter package, not this checkout')\n")
    return {**os.environ, "PYTHONPATH": str(decoy.parent)}


def reap(*processes: subprocess.Popen[Any] | None) -> None:
    """Kill each process a test started that is still running (the test failed or timed out
    before it ended), and wait for it, so that no process outlives its test."""
    for process in processes:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()


def run(folder: Path, *args: str) -> Result:
    """``newsletter --config <folder>/newsletter.yaml ARGS`` through click's runner, run in
    ``folder`` as a person runs it: the commands it names by hand are then the short ones
    (run from elsewhere, they carry --config: test_by_hand_config)."""
    with contextlib.chdir(folder):
        return CliRunner().invoke(cli, ["--config", str(folder / "newsletter.yaml"), *args])


@pytest.fixture
def in_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test's folder, holding its newsletter.yaml, as the current folder: what the
    scheduler and the send say to run by hand is then the short command."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def sample_site(target: Path, corpus: Path = PROJECT / "articles") -> Path:
    """The sample newsletter built and published into ``target/issues`` the way
    tests/golden was: the sample's articles (or a copy of them: ``corpus``), config and the
    editor's overrides in GOLDEN."""
    target.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((PROJECT / "newsletter.yaml").read_text("utf-8"))
    config["corpus"] = str(corpus)
    config["output"] = str(target / "issues")
    (target / "newsletter.yaml").write_text(yaml.safe_dump(config, sort_keys=False), "utf-8")
    for date in SAMPLE_DATES:
        overrides = GOLDEN / date / "overrides.yaml"
        if overrides.is_file():
            (target / "issues" / date).mkdir(parents=True, exist_ok=True)
            shutil.copy(overrides, target / "issues" / date / "overrides.yaml")
    for date in SAMPLE_DATES:
        result = run(target, "build", "--date", date, "--publish")
        assert result.exit_code == 0, result.output
    return target / "issues"


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` but the lock a build or publish takes of an output
    folder, which holds the PID of the process that took it last."""
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != PUBLISH_LOCK}


def make_article(slug: str, **fields: Any) -> Article:
    """An :class:`Article` built directly (no file), for rendering and feed tests."""
    base: dict[str, Any] = dict(
        id=slug, path=f"{slug}.md", title=f"Story {slug}",
        url=f"https://outlet.example/{slug}", canonical_url=f"outlet.example/{slug}",
        domain="outlet.example", published=dt.datetime(2021, 2, 17, 12, 0, tzinfo=dt.UTC),
        excerpt=f"What happened in {slug}.", provider=Provider("Outlet", "outlet.example"),
        topics=("AI",),
    )
    base.update(fields)
    return Article(**base)


def make_issue(config: Config, date: dt.date, sections: dict[str, list[PlacedArticle]],
               **fields: Any) -> Issue:
    """A published :class:`Issue` dated ``date`` with ``sections`` ({topic: articles})."""
    tz = config.timezone
    window = Window(dt.datetime.combine(date - dt.timedelta(days=7), dt.time(0), tz),
                    dt.datetime.combine(date, dt.time(0), tz), tz)
    return Issue(slug=date.isoformat(), date=date, title=config.title, window=window,
                 sections=tuple(Section(t, tuple(a)) for t, a in sections.items()),
                 status="published", **fields)


# -- the state backends: SQLite, and PostgreSQL when there is one ---------------------------

_STATE_URL: list[str | None] = [None]  # what write_config puts in state_url (None: SQLite)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[tuple[str | None, str]]:
    """(admin URL, "") for a PostgreSQL server the tests may create databases on, or
    (None, why not). ``NEWSLETTER_TEST_POSTGRES`` names one (``.ci/run`` starts a throwaway
    cluster and sets it); without it, a throwaway cluster is started here when Debian's
    PostgreSQL is installed, and stopped at the end of the session."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        yield None, "psycopg is not installed: pip install -e '.[test]'"
        return
    from pgcluster import ENV_URL, binaries, start, stop

    url = os.environ.get(ENV_URL)
    if url:
        yield url, ""
        return
    if binaries() is None:
        yield None, (f"PostgreSQL is not installed (apt-get install postgresql), and {ENV_URL} "
                     "names no server: the PostgreSQL variants of the state tests skip")
        return
    cluster = start()
    try:
        yield cluster.url, ""
    finally:
        stop(cluster.folder)


@pytest.fixture
def postgres_url(postgres_server: tuple[str | None, str]) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped after the test."""
    admin, why = postgres_server
    if admin is None:
        pytest.skip(why)
    import psycopg
    from psycopg import sql

    name = f"newsletter_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base = admin.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))


@dataclass(frozen=True)
class StateBackend:
    name: str  # "sqlite" or "postgresql"
    url: str | None  # state_url, None for the SQLite file in state_dir


@pytest.fixture(params=["sqlite", "postgresql"])
def state_backend(request: pytest.FixtureRequest) -> Iterator[StateBackend]:
    """Runs the test once per backend: every config written by ``write_config`` during the
    test keeps its state there. The PostgreSQL variant skips, saying why, without a server."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    _STATE_URL[0] = url
    try:
        yield StateBackend(request.param, url)
    finally:
        _STATE_URL[0] = None


# Every test so marked keeps its state in SQLite, then in PostgreSQL.
both = pytest.mark.usefixtures("state_backend")


def state_sql(config: Config, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Run ``sql`` (``?`` placeholders) on ``config``'s state, whichever backend: what a test
    looks at or changes behind the product's back. The rows, if any."""
    from newsletter.state.database import open_database

    with open_database(config) as db:
        if db.dialect == "postgresql" and params:
            sql = sql.replace("%", "%%").replace("?", "%s")
        cursor = db.raw.execute(sql, params) if params else db.raw.execute(sql)
        return [tuple(row) for row in cursor.fetchall()] if cursor.description else []


def target_of(backend: StateBackend, tmp_path: Path) -> str:
    """Where ``newsletter state copy`` copies to: the backend's database, or a new SQLite
    file in ``tmp_path``."""
    return backend.url or str(tmp_path / "target.sqlite3")


def target_sql(target: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Run ``sql`` (``?`` placeholders) on the state at ``target`` (a URL or a file) and
    commit: the rows, if any."""
    from newsletter.state.database import location_from_url, open_location

    with open_location(location_from_url(target)) as db:
        if db.dialect == "postgresql":
            sql = sql.replace("?", "%s")
        cursor = db.raw.execute(sql, params)
        rows = [tuple(r) for r in cursor.fetchall()] if cursor.description else []
        db.raw.commit()
        return rows


def state_of_version(config: Config, version: int) -> Database:
    """``config``'s state, new, as a version of newsletter whose schema was ``version`` left
    it, open and not migrated further: where a test of a migration starts."""
    from newsletter.state.database import open_database
    from newsletter.state.schema import MIGRATIONS

    db = open_database(config, migrate=False)
    with db.transaction():
        for migration in MIGRATIONS[:version]:
            db.execute_script(migration.for_dialect(db.dialect))
        if db.dialect == "sqlite":
            db.raw.execute(f"PRAGMA user_version = {version}")
        else:
            db.raw.execute("CREATE TABLE newsletter_schema (version INTEGER PRIMARY KEY, "
                           "applied TEXT NOT NULL)")
            db.raw.execute("INSERT INTO newsletter_schema SELECT generate_series(1, %s), 't'",
                           (version,))
    return db
