"""A reader signs up, confirms, changes topics and leaves in real headless Chromium, against
a running ``newsletter serve`` and a real SMTP server: the whole flow of the README's
"Letting readers subscribe". Every public page passes axe-core with no violation and fits
320 px; screenshots at 375 px go to test-artifacts/."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from browser_support import ARTIFACTS, CHROMIUM
from conftest import SECRET, run
from newsletter.delivery.signups import key_of
from newsletter.delivery.tokens import make_token
from sending_support import TOPICS
from signup_support import DATES, sections, statuses, three_topic_site
from smtp_support import Recorder, parse, parts, smtp_server
from web_support import serving

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium not installed: `apt-get install chromium` (.ci/run does)")


def check_page(page, name: str) -> None:
    """axe-core finds nothing; nothing scrolls sideways at 320 px; a screenshot at 375 px."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    assert results.violations_count == 0, f"{name}: {results.generate_report()}"
    width = page.viewport_size["width"]
    page.set_viewport_size({"width": 320, "height": 800})
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name} scrolls sideways at 320 px"
    page.set_viewport_size({"width": 375, "height": 800})
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"signup-{name}-375.png"), full_page=True)
    page.set_viewport_size({"width": width, "height": 800})


def site_layout(page) -> dict[str, object]:
    """What a reader sees around a public page's own words: the site's navigation and footer
    (their links), and the heading's and the page's look."""
    return page.evaluate("""() => {
        const links = (selector) => [...document.querySelectorAll(selector + " a")]
            .map((a) => [a.textContent.trim(), a.getAttribute("href")]);
        const look = (element) => { const style = getComputedStyle(element);
            return [style.fontFamily, style.fontSize, style.color, style.backgroundColor]; };
        return {nav: links("nav.site-nav"), footer: links("footer.site-footer"),
                heading: look(document.querySelector("main h1")), body: look(document.body),
                main: document.querySelector("main").getBoundingClientRect().width};
    }""")


def wait_for_mail(recorder: Recorder, address: str, count: int = 1, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while recorder.count()[address] < count:
        assert time.monotonic() < deadline, f"no email for {address}"
        time.sleep(0.05)
    return [parse(raw) for to, raw in recorder.messages if to == address][count - 1]


def local(message, route: str, base: str) -> str:
    match = re.search(rf"https://news\.example\.org/ai/({route}\?token=[A-Za-z0-9_.-]+)",
                      parts(message)[0])
    assert match, f"no {route} link"
    return base + match.group(1)


def without_scripts(route) -> None:
    response = route.fetch()
    route.fulfill(response=response,
                  body=re.sub(r"<script>.*?</script>", "", response.text(), flags=re.S))


def test_a_reader_signs_up_confirms_chooses_topics_and_leaves(browser, tmp_path: Path,
                                                              monkeypatch) -> None:
    monkeypatch.setenv("NEWSLETTER_SECRET", SECRET)
    recorder = Recorder()
    with smtp_server(recorder) as smtp_port:
        config = three_topic_site(tmp_path, smtp_port)
        with serving(config, send_mail=True) as port:
            base = f"http://127.0.0.1:{port}/ai/"
            context = browser.new_context(viewport={"width": 375, "height": 800})
            page = context.new_page()

            # the archive links to the form; two topics ticked
            page.goto(base)
            page.get_by_role("link", name="Email", exact=True).click()
            page.wait_for_url(base + "subscribe")
            check_page(page, "subscribe")
            page.get_by_label("Email address").fill("ada@example.org")
            page.get_by_label("Name").fill("Ada")
            page.get_by_label("AI", exact=True).check()
            page.get_by_label("Robotics").check()
            page.get_by_role("button", name="Subscribe").click()
            page.wait_for_load_state()
            assert page.get_by_role("heading", name="Check your inbox").is_visible()
            check_page(page, "check-your-inbox")

            # the confirmation link, opened in the browser, confirms in one click (script)
            confirmation = wait_for_mail(recorder, "ada@example.org")
            assert statuses(config) == {"ada@example.org": "pending"}
            page.goto(local(confirmation, "confirm", base))
            page.get_by_role("heading", name="Thank you").wait_for()
            assert statuses(config) == {"ada@example.org": "active"}
            check_page(page, "thank-you")

            # without JavaScript the page waits for its button
            quiet = browser.new_context(viewport={"width": 375, "height": 800},
                                        java_script_enabled=False)
            plain = quiet.new_page()
            plain.goto(base + "subscribe")
            plain.get_by_label("Email address").fill("bo@example.org")
            plain.get_by_role("button", name="Subscribe").click()
            plain.wait_for_load_state()
            second = wait_for_mail(recorder, "bo@example.org")
            confirm = local(second, "confirm", base)
            plain.goto(confirm)
            time.sleep(0.3)
            assert statuses(config)["bo@example.org"] == "pending"
            plain.screenshot(path=str(ARTIFACTS / "signup-confirm-375.png"), full_page=True)
            # axe needs JavaScript: the same page, its own script taken out
            audit = context.new_page()
            audit.route(confirm, without_scripts)
            audit.goto(confirm)
            check_page(audit, "confirm-audit")
            audit.close()
            assert statuses(config)["bo@example.org"] == "pending"
            plain.get_by_role("button", name="Confirm my subscription").click()
            plain.get_by_role("heading", name="Thank you").wait_for()
            assert statuses(config)["bo@example.org"] == "active"

            # the first send: only the two topics Ada chose
            result = run(tmp_path, "send", DATES[0].isoformat())
            assert result.exit_code == 0, result.output
            issue = wait_for_mail(recorder, "ada@example.org", 3)  # confirmation, welcome
            assert sections(issue) == {"AI", "Robotics"}
            assert sections(wait_for_mail(recorder, "bo@example.org", 3)) == set(TOPICS)

            # preferences from the issue's footer: untick Robotics
            page.goto(local(issue, "preferences", base))
            check_page(page, "preferences")
            page.get_by_label("Robotics").uncheck()
            page.get_by_role("button", name="Save").click()
            page.get_by_text("Saved.").wait_for()
            result = run(tmp_path, "send", DATES[1].isoformat())
            assert result.exit_code == 0, result.output
            assert sections(wait_for_mail(recorder, "ada@example.org", 4)) == {"AI"}

            # unsubscribe from the preferences page: the next send skips her
            page.goto(local(issue, "preferences", base))
            page.get_by_role("button", name="Unsubscribe from everything").click()
            page.get_by_role("heading", name="You are unsubscribed").wait_for()
            check_page(page, "unsubscribed")
            result = run(tmp_path, "send", DATES[2].isoformat())
            assert result.exit_code == 0, result.output
            wait_for_mail(recorder, "bo@example.org", 5)
            assert recorder.count()["ada@example.org"] == 4
            assert statuses(config)["ada@example.org"] == "unsubscribed"

            # the refusals are pages too
            key = key_of(config, "bo@example.org") or ""
            old = make_token(SECRET.encode(), "confirm", key, int(time.time()) - 49 * 3600)
            assert page.goto(f"{base}confirm?token={old}").status == 410
            check_page(page, "expired")
            assert page.goto(f"{base}preferences?token={old}").status == 400
            check_page(page, "invalid")
            context.close()
            quiet.close()


def test_the_unsubscribe_page_fits_a_phone_whatever_the_domain(browser, tmp_path: Path,
                                                              monkeypatch) -> None:
    """The one-click link's page names the reader by a hint of the address (a…@domain): a
    long domain (a university's department, a company's mail host) wraps at 320 px instead of
    scrolling the page sideways, before and after the click, as on the other public pages."""
    monkeypatch.setenv("NEWSLETTER_SECRET", SECRET)
    config = three_topic_site(tmp_path, 1)
    address = "ada@students.informatik.universitaet-beispielstadt.example"
    result = run(tmp_path, "subscribers", "add", address)
    assert result.exit_code == 0, result.output
    token = make_token(SECRET.encode(), "unsubscribe", key_of(config, address) or "")
    with serving(config) as port:
        context = browser.new_context(viewport={"width": 375, "height": 800})
        page = context.new_page()
        assert page.goto(f"http://127.0.0.1:{port}/ai/subscribe").ok
        subscribe_layout = site_layout(page)
        assert page.goto(f"http://127.0.0.1:{port}/ai/unsubscribe?token={token}").ok
        page.get_by_text("a…@students.").wait_for()
        check_page(page, "unsubscribe")
        assert site_layout(page) == subscribe_layout, "the unsubscribe page"
        page.get_by_role("button", name="Unsubscribe").click()
        page.get_by_role("heading", name="You are unsubscribed").wait_for()
        check_page(page, "unsubscribe-done")
        assert site_layout(page) == subscribe_layout, "the page after unsubscribing"
        context.close()
    assert statuses(config)[address] == "unsubscribed"
