"""The editor's preview over real HTTP: a real server on a free loopback port, raw request
paths, files edited on disk while it runs, and real Chromium watching the page reload."""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from browser_support import CHROMIUM, preview_page
from conftest import run, write_article, write_config
from newsletter.rendering.templating import TEMPLATES
from newsletter.web.preview import PreviewServer

DATE = dt.date(2021, 2, 22)
SLUG = DATE.isoformat()


def _project(folder: Path) -> Path:
    """Three AI articles in the window (two fit), one outside it; topic AI holds two."""
    config = write_config(folder, topics=[{"name": "AI", "max_articles": 2}])
    articles = folder / "articles"
    write_article(articles, "alpha", title="Alpha Robots Learn To Walk", quality=90)
    write_article(articles, "beta", title="Beta Chips Get Faster", quality=70)
    write_article(articles, "gamma", title="Gamma Below The Cut", quality=10)
    write_article(articles, "old", title="An Old Story",
                  publishedDateTime=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    return config


@pytest.fixture
def served(tmp_path) -> Iterator[PreviewServer]:
    server = PreviewServer(_project(tmp_path), port=0, default_date=DATE).start()
    try:
        yield server
    finally:
        server.close()


def get(server: PreviewServer, path: str, headers: dict[str, str] | None = None
        ) -> tuple[int, str, str]:
    """GET the raw ``path`` (sent exactly as given, never normalised); status, type, body."""
    host, port = server.httpd.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        body = response.read().decode("utf-8", "replace")
        return response.status, response.getheader("Content-Type", ""), body
    finally:
        connection.close()


def edit_article(folder: Path, slug: str, **fields) -> None:
    write_article(folder / "articles", slug, **fields)


@contextlib.contextmanager
def changes_seen(server: PreviewServer, within: float = 3.0) -> Iterator[None]:
    """Wait, after the block's edits, until the preview has seen a change (notifications
    arrive a few milliseconds after the write)."""
    before = server.cache.version
    yield
    assert server.cache.wait_for_change(before, within) != before, "no change seen"


def test_routes(served, tmp_path):
    status, kind, body = get(served, "/")
    assert status == 200 and kind.startswith("text/html")
    assert f'href="/draft/{SLUG}/"' in body

    status, kind, page = get(served, f"/draft/{SLUG}/")
    assert status == 200 and kind.startswith("text/html")
    assert 'id="subject">AI Weekly: February 22, 2021<' in page
    assert 'id="preheader">Alpha Robots Learn To Walk · Beta Chips Get Faster<' in page
    assert 'src="email.html" width="800"' in page and 'src="email.html" width="375"' in page
    assert "KB of the ~102 KB at which Gmail clips a message" in page
    assert "Alpha Robots Learn To Walk" in page  # the plain text, and the explain table
    assert "add `pin: [gamma]` to issues/2021-02-22/overrides.yaml" in page
    assert "to leave it out, add `exclude: [alpha]` to issues/2021-02-22/overrides.yaml" in page
    assert "An Old Story" not in page  # outside the window: counted, not listed
    assert "1 other article file(s) are outside the window" in page
    assert "new EventSource" in page

    status, kind, email = get(served, f"/draft/{SLUG}/email.html")
    assert status == 200 and kind.startswith("text/html")
    assert "Alpha Robots Learn To Walk" in email
    assert "<script" not in email.lower() and "EventSource" not in email

    status, kind, text = get(served, f"/draft/{SLUG}/email.txt")
    assert status == 200 and kind.startswith("text/plain")
    assert "Beta Chips Get Faster" in text and "Gamma Below The Cut" not in text

    status, kind, table = get(served, f"/draft/{SLUG}/explain")
    assert status == 200 and '<table id="explain">' in table
    assert "Below the cut" in table and "<script" not in table

    status, _, _ = get(served, f"/draft/{SLUG}")
    assert status == 303  # to the folder, so relative links (email.html) resolve
    status, _, _ = get(served, f"/draft/?date={SLUG}")
    assert status == 303  # the index page's "another date" form
    # Previewing wrote nothing and published nothing.
    assert not (tmp_path / "issues").exists()

    with changes_seen(served):
        assert run(tmp_path, "build", "--date", SLUG, "--publish").exit_code == 0
    index = get(served, "/")[2]
    assert f'<ul id="published">\n<li><a href="/draft/{SLUG}/">' in index
    assert f"Issue {SLUG} is already published" in get(served, f"/draft/{SLUG}/")[2]


def test_events_announce_a_new_version(served, tmp_path):
    host, port = served.httpd.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=5)
    connection.request("GET", f"/draft/{SLUG}/events")
    response = connection.getresponse()
    assert response.getheader("Content-Type") == "text/event-stream"

    def next_data() -> str:
        while True:
            line = response.fp.readline().decode()
            if line.startswith("data: "):
                return line.removeprefix("data: ").strip()

    first = next_data()
    edit_article(tmp_path, "beta", title="Beta Chips Get Even Faster", quality=70)
    started = time.monotonic()
    assert next_data() != first
    assert time.monotonic() - started < 1.5  # the page reloads within about a second
    connection.close()


@pytest.mark.parametrize("path", [
    "/draft/../../etc/passwd",
    f"/draft/{SLUG}/../../newsletter.yaml",
    "/draft/%2e%2e/%2e%2e/etc/passwd",
    f"/draft/{SLUG}/%2e%2e/%2e%2e/newsletter.yaml",
    "/draft/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
    "/draft/%252e%252e/%252e%252e/etc/passwd",
    f"/draft/{SLUG}/%252e%252e%252fnewsletter.yaml",
    "/draft/..%5c..%5cetc%5cpasswd",
    f"/draft/{SLUG}\\..\\..\\newsletter.yaml",
    "/draft\\..\\..\\etc\\passwd",
    "//etc/passwd",
    "/etc/passwd",
    "http://127.0.0.1/etc/passwd",
    f"/draft/{SLUG}/email%2ehtml",
    f"/draft/{SLUG}/issue.json",
    f"/draft/{SLUG}/email.eml",
    f"/draft/{SLUG}/email.html/",
    "/draft/2021-02-30/",
    "/draft/2021-2-22/",
    "/draft/21-02-22/",
    "/draft/latest/",
    "/draft/",
    "/nope",
    "/articles/alpha.md",
    "/newsletter.yaml",
])
def test_unknown_routes_and_escapes_are_404(served, path):
    status, _, body = get(served, path)
    assert status == 404, body
    assert "title:" not in body and "root:" not in body


def test_a_foreign_host_header_is_refused(served):
    status, _, _ = get(served, f"/draft/{SLUG}/", headers={"Host": "evil.example"})
    assert status == 403
    assert get(served, "/", headers={"Host": "localhost"})[0] == 200


def test_an_edit_is_rebuilt(served, tmp_path):
    assert "Beta Chips Get Faster" in get(served, f"/draft/{SLUG}/email.html")[2]
    with changes_seen(served):
        edit_article(tmp_path, "beta", title="Beta Chips Break A Record", quality=70)
    assert "Beta Chips Break A Record" in get(served, f"/draft/{SLUG}/email.html")[2]
    overrides = tmp_path / "issues" / SLUG / "overrides.yaml"
    with changes_seen(served):
        overrides.parent.mkdir(parents=True)
        overrides.write_text('subject: "Chips week"\npin: [gamma]\n', "utf-8")
    page = get(served, f"/draft/{SLUG}/")[2]
    assert 'id="subject">Chips week<' in page
    assert "pinned in issues/2021-02-22/overrides.yaml" in page
    assert "Gamma Below The Cut" in get(served, f"/draft/{SLUG}/email.txt")[2]


def test_an_edit_to_the_template_overrides_is_rebuilt(tmp_path):
    """The config's templates: folder is watched like the corpus: a template added there
    or edited renders the draft again, and the page is told to reload."""
    (tmp_path / "templates").mkdir()
    text = tmp_path / "templates" / "email.txt.j2"
    _project(tmp_path)
    config = write_config(tmp_path, topics=[{"name": "AI", "max_articles": 2}],
                          templates="templates")
    packaged = (TEMPLATES / "email.txt.j2").read_text("utf-8")
    with PreviewServer(config, port=0, default_date=DATE) as server:
        assert "Overridden" not in get(server, f"/draft/{SLUG}/email.txt")[2]
        with changes_seen(server):
            text.write_text("Overridden\n" + packaged, "utf-8")
        assert get(server, f"/draft/{SLUG}/email.txt")[2].startswith("Overridden")
        with changes_seen(server):
            text.write_text("Edited again\n" + packaged, "utf-8")
        assert get(server, f"/draft/{SLUG}/email.txt")[2].startswith("Edited again")
        assert "Edited again" in get(server, f"/draft/{SLUG}/")[2]


def test_a_broken_edit_shows_its_error_and_a_fix_recovers(served, tmp_path):
    config = tmp_path / "newsletter.yaml"
    good = config.read_text("utf-8")
    with changes_seen(served):
        config.write_text(good.replace("window_days: 7", 'window_days: "<b>seven</b>"'),
                          "utf-8")
    status, _, page = get(served, f"/draft/{SLUG}/")
    assert status == 500
    assert "window_days: expected a positive integer" in page
    assert "&lt;b&gt;seven&lt;/b&gt;" in page and "<b>seven</b>" not in page
    assert "new EventSource" in page  # so the fix reloads it
    status, kind, text = get(served, f"/draft/{SLUG}/email.html")
    assert status == 500 and kind.startswith("text/plain")

    with changes_seen(served):
        config.write_text(good, "utf-8")
    status, _, page = get(served, f"/draft/{SLUG}/")
    assert status == 200 and "Alpha Robots Learn To Walk" in page

    overrides = tmp_path / "issues" / SLUG / "overrides.yaml"
    with changes_seen(served):
        overrides.parent.mkdir(parents=True)
        overrides.write_text("pin: [\n", "utf-8")
    status, _, page = get(served, f"/draft/{SLUG}/")
    assert status == 500 and "overrides.yaml" in page and "YAML syntax error" in page
    with changes_seen(served):
        overrides.unlink()
    assert get(served, f"/draft/{SLUG}/")[0] == 200


def test_a_mistyped_pin_shows_the_draft_without_it_and_says_so(served, tmp_path):
    """The fix of a mistyped pin is an id from the explain table: the page keeps showing
    the table (and the draft without that entry) under the error, instead of the error
    alone."""
    overrides = tmp_path / "issues" / SLUG / "overrides.yaml"
    with changes_seen(served):
        overrides.parent.mkdir(parents=True)
        overrides.write_text("pin: [gamma, gamam]\n", "utf-8")
    status, _, page = get(served, f"/draft/{SLUG}/")
    assert status == 200
    assert ('<div class="banner error" role="alert">'
            f'{overrides}:1: pin[1]: no valid article has the id or URL &#34;gamam&#34;') in page
    assert "(not applied here; `build`, `publish` and the schedule refuse the file until it " \
           "is fixed)" in page
    assert "<code>gamma</code>" in page and "pinned in issues/2021-02-22/overrides.yaml" in page
    assert "Gamma Below The Cut" in get(served, f"/draft/{SLUG}/email.txt")[2]
    assert run(tmp_path, "build", SLUG).exit_code == 1
    with changes_seen(served):
        overrides.write_text("pin: [gamma]\n", "utf-8")
    assert "banner error" not in get(served, f"/draft/{SLUG}/")[2]


@pytest.mark.usefixtures("in_project")
def test_an_edit_made_after_the_issue_was_published_is_named_as_not_in_it(served, tmp_path):
    """The schedule published the issue while the editor was still adjusting it: the
    preview shows their next edits at once, and must say that the issue out there lacks
    them, and how to correct it."""
    overrides = tmp_path / "issues" / SLUG / "overrides.yaml"
    overrides.parent.mkdir(parents=True)
    overrides.write_text('intro: "A first intro."\n', "utf-8")
    with changes_seen(served):
        assert run(tmp_path, "build", SLUG, "--publish").exit_code == 0
    page = get(served, f"/draft/{SLUG}/")[2]
    assert f"Issue {SLUG} is already published" in page and 'id="not-published"' not in page
    with changes_seen(served):
        overrides.write_text('intro: "A better intro."\nsubject: "Robots"\npin: [gamma]\n',
                             "utf-8")
    page = get(served, f"/draft/{SLUG}/")[2]
    assert (f"since issue {SLUG} was published, and not in it: intro, subject, pin; "
            f"<code>newsletter build --date {SLUG} --force</code> corrects the published issue "
            "(its web page, the archive and the feeds; an email already sent is not sent "
            "again). Or undo the change.") in page
    assert 'id="subject">Robots<' in page  # the preview shows the edit all the same
    with changes_seen(served):
        assert run(tmp_path, "build", SLUG, "--force").exit_code == 0
    assert 'id="not-published"' not in get(served, f"/draft/{SLUG}/")[2]


@pytest.mark.usefixtures("in_project")
def test_an_edit_after_publishing_that_places_nothing_differently_is_no_correction(
        served, tmp_path):
    """alpha is first anyway: the pin taken out after the issue went out changes nothing
    readers see, so the page says what explain says (the same issue; --force only updates
    the record) instead of offering to correct it; a pin that moves beta up is a correction
    again."""
    overrides = tmp_path / "issues" / SLUG / "overrides.yaml"
    overrides.parent.mkdir(parents=True)
    overrides.write_text("pin: [alpha]\n", "utf-8")
    with changes_seen(served):
        assert run(tmp_path, "build", SLUG, "--publish").exit_code == 0
    with changes_seen(served):
        overrides.write_text("", "utf-8")
    page = get(served, f"/draft/{SLUG}/")[2]
    assert ('<div class="banner" id="placing-nothing">overrides.yaml changed since (pin), '
            "placing nothing differently: rebuilding it gives the same issue; `newsletter "
            f"build --date {SLUG} --force` updates the record, dating no correction.</div>"
            ) in page
    assert 'id="not-published"' not in page and "To correct the published issue" not in page
    explained = run(tmp_path, "explain", SLUG).stdout  # the same words, from the same place
    assert "overrides.yaml changed since (pin), placing nothing differently" in explained
    with changes_seen(served):
        overrides.write_text("pin: [gamma]\n", "utf-8")  # gamma, below the cut, goes in
    page = get(served, f"/draft/{SLUG}/")[2]
    assert 'id="not-published"' in page and 'id="placing-nothing"' not in page
    assert (f"and not in it: pin; <code>newsletter build --date {SLUG} --force</code> "
            "corrects the published issue (its web page") in page


def test_an_empty_issue_says_why(served):
    status, _, page = get(served, "/draft/2021-01-04/")
    assert status == 200 and "Nothing to preview: no article was published" in page
    assert get(served, "/draft/2021-01-04/email.html")[0] == 404


# -- real Chromium ---------------------------------------------------------------------------

def test_the_page_reloads_itself_when_an_article_changes(served, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    with preview_page(served, 1400) as page:
        page.goto(served.draft_url(DATE))
        phone = page.frame_locator('iframe[width="375"]')
        headline = "link"  # the article's headline in the email
        sync_api.expect(phone.get_by_role(headline, name="Alpha Robots Learn To Walk",
                                          exact=True)).to_be_visible()
        frame = next(f for f in page.frames if f.url.endswith("/email.html"))
        assert frame.evaluate("document.scripts.length") == 0

        page.evaluate("window.notReloadedYet = true")
        edit_article(tmp_path, "alpha", title="Alpha Robots Learn To Dance", quality=90)
        sync_api.expect(phone.get_by_role(headline, name="Alpha Robots Learn To Dance",
                                          exact=True)).to_be_visible(timeout=15000)
        assert page.evaluate("window.notReloadedYet") is None  # it reloaded by itself
        sync_api.expect(page.locator("#subject")).to_have_text(
            "AI Weekly: February 22, 2021")
        assert "Learn To Dance" in page.locator("#preheader").inner_text()


def test_explain_table_shows_why_an_article_was_folded(tmp_path):
    config = _project(tmp_path)
    write_article(tmp_path / "articles", "delta", quality=80,
                  title="Alpha Robots Learn To Walk On Ice, Lab Says",
                  excerpt="Alpha's walking robots crossed an icy lab floor.")
    server = PreviewServer(config, port=0, default_date=DATE).start()
    try:
        status, _, table = get(server, f"/draft/{SLUG}/explain")
    finally:
        server.close()
    assert status == 200
    row = next(r for r in table.split("<tr") if "<code>delta</code>" in r)
    assert "same story as alpha (similar text 0.70 (alpha, robots, walk))" in row
    assert "add `pin: [delta]`" in row


@pytest.mark.parametrize("path", [
    "/draft/0001-01-01/", "/draft/0999-12-31/email.html", "/draft/9999-12-31/",
    "/draft/9990-01-01/email.txt", "/draft/9999-12-31/explain", "/draft/9999-12-31/events",
    "/draft/0001-01-01", "/draft/?date=9999-12-31",
])
def test_a_date_outside_the_issue_dates_is_404_saying_which_dates(served, path):
    status, kind, body = get(served, path)
    assert (status, kind) == (404, "text/plain; charset=utf-8"), body
    assert "issue dates go from 1000-01-01 to 9989-12-31" in body
    assert "Traceback" not in body and "Error" not in body


def test_an_issue_folder_dated_outside_the_issue_dates_is_not_listed(served, tmp_path):
    for name in ("0001-01-01", "9999-12-31"):
        (tmp_path / "issues" / name).mkdir(parents=True)
        (tmp_path / "issues" / name / "overrides.yaml").write_text("exclude: []\n")
    status, _, body = get(served, "/")
    assert status == 200 and "0001-01-01" not in body and "9999-12-31" not in body


@pytest.mark.skipif(CHROMIUM is None,
                    reason="Chromium not installed: `apt-get install chromium` (.ci/run does)")
@pytest.mark.parametrize("width", [320, 375, 1280])
def test_on_a_phone_the_page_fits_its_width_and_the_hints_are_on_screen(tmp_path, width):
    """An editor on a phone reads the explain table: the page does not scroll sideways
    (the email frames scroll in their own box) and every hint of what to write in
    overrides.yaml is within the screen, however long the article's id."""
    config = _project(tmp_path)
    write_article(tmp_path / "articles", "2021-02-19-a-rather-long-id-as-feeds-write-them",
                  title="A Long Identifier", quality=5)
    (tmp_path / "issues" / SLUG).mkdir(parents=True)
    (tmp_path / "issues" / SLUG / "overrides.yaml").write_text("pin: [gamam]\n", "utf-8")
    with PreviewServer(config, port=0, default_date=DATE) as server, \
            preview_page(server, width) as page:
        page.goto(server.draft_url(DATE))
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        hints = page.locator("#explain td.hint")
        assert hints.count() == 4  # alpha, beta, gamma and the long one
        for index in range(hints.count()):
            box = hints.nth(index).bounding_box()
            assert box is not None and box["x"] + box["width"] <= width, index
        banner = page.locator(".banner.error").bounding_box()
        assert banner is not None and banner["x"] + banner["width"] <= width
