"""Readers who use a screen reader, zoom or a keyboard: axe-core, the accessibility engine
browsers' developer tools use, audits the sample issue's email and web pages and the pages
``newsletter serve`` shows readers, in real headless Chromium, on a phone (375 px, light)
and on a desktop (1024 px, dark). Every rule it checks must pass.

The other public pages (confirm, thank you, preferences, the refusals) are audited along the
signup flow in test_signup_browser.py."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from browser_support import CHROMIUM, EMAIL_RULES, VIEWS, open_page, violations
from conftest import SECRET, run
from newsletter.core.config import load_config
from newsletter.delivery.signups import key_of
from newsletter.delivery.tokens import make_token
from web_support import serving

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium not installed: `apt-get install chromium` (.ci/run does)")


# Article images carry no description of their own (front matter gives a URL and a size);
# the headline right beside one is its text, so the image is decorative (alt="") rather
# than a second reading of the headline.
ARTICLE_IMAGES = """() => [...document.querySelectorAll('img.img')].map(i => ({
  alt: i.getAttribute('alt'),
  headline: (i.nextElementSibling && i.nextElementSibling.tagName) || '',
}))"""


@pytest.mark.parametrize("width, scheme", VIEWS)
@pytest.mark.parametrize("name", ["2021-02-22/email.html", "2021-02-22/index.html",
                                  "index.html"])
def test_the_issue_and_the_archive_pass_axe(browser, sample_pages: Path, name: str, width: int,
                                            scheme: str) -> None:
    page, _ = open_page(browser, sample_pages / name, width)
    page.emulate_media(color_scheme=scheme)
    found = violations(page, EMAIL_RULES if name.endswith("email.html") else None)
    images = page.evaluate(ARTICLE_IMAGES)
    page.close()
    assert found == [], f"{name} at {width} px, {scheme}"
    assert images or name == "index.html", f"{name}: the sample's articles have images"
    assert all(image == {"alt": "", "headline": "H3"} for image in images), images


def test_the_pages_serve_shows_readers_pass_axe(browser, sample_pages: Path,
                                                monkeypatch) -> None:
    """A mistyped address (404), the form answering a wrong address, and the unsubscribe
    page before and after its button."""
    monkeypatch.setenv("NEWSLETTER_SECRET", SECRET)
    folder = sample_pages.parent
    config = load_config(folder / "newsletter.yaml")
    assert config.subscribe.enabled
    address = f"ada-{time.time_ns()}@example.org"  # the module's site is shared
    assert run(folder, "subscribers", "add", address).exit_code == 0
    token = make_token(SECRET.encode(), "unsubscribe", key_of(config, address) or "")
    found = {}
    with serving(config) as port:
        base = f"http://127.0.0.1:{port}/ai/"
        for width, scheme in VIEWS:
            context = browser.new_context(viewport={"width": width, "height": 800},
                                          color_scheme=scheme)
            page = context.new_page()
            assert page.goto(base + "2021-02-22/no-such-page").status == 404
            found[f"404 {width}"] = violations(page)
            home = page.get_by_role("link", name="All issues")
            found[f"404 {width}"] += [] if home.count() else ["no way back to the archive"]
            page.goto(base + "subscribe")
            page.get_by_label("Email address").fill("ada@")
            page.get_by_role("button", name="Subscribe").click()
            page.wait_for_load_state()
            found[f"subscribe, a wrong address {width}"] = violations(page)
            assert run(folder, "subscribers", "add", address).exit_code == 0  # back again
            page.goto(f"{base}unsubscribe?token={token}")
            found[f"unsubscribe {width}"] = violations(page)
            page.get_by_role("button", name="Unsubscribe").click()
            page.get_by_role("heading", name="You are unsubscribed").wait_for()
            found[f"unsubscribed {width}"] = violations(page)
            context.close()
    assert found == {page: [] for page in found}
