"""What the tests in real headless Chromium share: where Chromium is, how a page opens.

``CHROMIUM`` is the browser's path (None when it is not installed: those tests skip),
``FLAGS`` what it is started with, ``ARTIFACTS`` where screenshots go for a person to look
at. ``open_page`` opens a file of a published site at a width, loading nothing remote;
``preview_page`` a page of its own Chromium loading only the editor's preview. ``violations``
lists what axe-core finds on a page, ``VIEWS`` the widths and colour schemes the audits use
and ``EMAIL_RULES`` the rules an email is audited with. The ``browser`` fixture (Chromium,
once per test module) and ``sample_pages`` (the sample newsletter's published site) are in
conftest.py.

A module of its own, not a test module, so that the browser, accessibility, preview, signup
and front-door tests drive Chromium the same way whatever order pytest collects them in.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import PROJECT
from newsletter.web.preview import PreviewServer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = PROJECT / "test-artifacts"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

VIEWS = ((375, "light"), (1024, "dark"))

# A message is shown inside a mail client's own page, which has its main landmark: a <main>
# in the message would give a webmail page two of them, so the email keeps its content out
# of landmarks, and the two rules that ask for them do not apply to it.
EMAIL_RULES = {"landmark-one-main": {"enabled": False}, "region": {"enabled": False}}


def open_page(browser, path: Path, width: int):
    page = browser.new_page(viewport={"width": width, "height": 800})
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    # Only the page itself loads: remote images would wait on a network this machine lacks.
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
               else route.abort())
    page.goto(path.as_uri())
    return page, dialogs


@contextlib.contextmanager
def preview_page(server: PreviewServer, width: int) -> Iterator:
    """A page of headless Chromium, ``width`` px wide, that loads only the preview: remote
    images would wait on a network we lack."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.route("**/*", lambda route: route.continue_()
                       if route.request.url.startswith(server.url) else route.abort())
            yield page
        finally:
            browser.close()


def violations(page, rules: dict | None = None) -> list[str]:
    """axe-core's violations on the page as it stands: rule, impact, how many elements."""
    from axe_playwright_python.sync_playwright import Axe

    options = {"resultTypes": ["violations"], **({"rules": rules} if rules else {})}
    found = Axe().run(page, options=options).response["violations"]
    return [f"{v['id']} ({v['impact']}, {len(v['nodes'])}): "
            f"{[n['target'] for n in v['nodes']][:3]}" for v in found]
