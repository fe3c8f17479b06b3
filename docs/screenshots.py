"""Remake the README's screenshots from the sample, after a change to a template.

    python docs/screenshots.py

Run it in the quick start's environment (`. .venv/bin/activate` after the README's second
command, which installs Playwright) on a machine with Debian's `chromium`: the same browser
the browser tests drive. It copies the sample (`newsletter.yaml`, `articles/` and the
editor's overrides kept in `tests/golden/`) into a temporary folder, builds and publishes the
issues of 2021-02-15 and 2021-02-22 there with the `newsletter` command, and writes:

    docs/email-375.png   the email of 2021-02-22 on a 375 px phone (the top of it)
    docs/email-600.png   the same email at its full 600 px width (the top of it)
    docs/archive.png     the web archive, issues/index.html
    docs/preview.png     `newsletter preview` of the next draft, 2021-03-01

The sample's article images live on fictional `.example` hosts, so they show as grey
placeholders of their real size; nothing else is fetched from the network. Only the
command line is used, never the package's modules, so the script keeps working as they move.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, Route, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PUBLISHED = ("2021-02-15", "2021-02-22")
DRAFT = "2021-03-01"
# No intrinsic size: an image keeps the size its width and height attributes give it.
PLACEHOLDER = (b'<svg xmlns="http://www.w3.org/2000/svg">'
               b'<rect width="100%" height="100%" fill="#c3c8cf"/></svg>')
# Where a shot stops: a whole email is several screens long; its top shows the design, and
# the preview's two frames end about there.
MAX_HEIGHT = {"email": 1800, "archive": 1800, "preview": 1200}


def newsletter(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newsletter", "--config", str(config), *args],
                          check=True, capture_output=True, text=True)


def build_sample(folder: Path) -> Path:
    """The sample copied into ``folder`` and its two issues published there: the checkout's
    own issues/ is the user's and stays untouched."""
    shutil.copy(ROOT / "newsletter.yaml", folder / "newsletter.yaml")
    shutil.copytree(ROOT / "articles", folder / "articles")
    for date in PUBLISHED:
        overrides = ROOT / "tests" / "golden" / date / "overrides.yaml"
        if overrides.is_file():
            (folder / "issues" / date).mkdir(parents=True, exist_ok=True)
            shutil.copy(overrides, folder / "issues" / date / "overrides.yaml")
    config = folder / "newsletter.yaml"
    for date in PUBLISHED:
        newsletter(config, "build", "--date", date, "--publish")
    return config


def offline(route: Route) -> None:
    """Pages and the local preview load; images get a placeholder; nothing else leaves."""
    url = route.request.url
    if url.startswith(("file:", "http://127.0.0.1:")):
        route.continue_()
    elif route.request.resource_type == "image":
        route.fulfill(status=200, content_type="image/svg+xml", body=PLACEHOLDER)
    else:
        route.abort()


def shoot(page: Page, url: str, name: str) -> None:
    page.route("**/*", offline)
    page.goto(url, wait_until="load")
    # Lazy images below the first screen would otherwise stay empty in a full-page shot.
    page.evaluate("""() => Promise.all([...document.querySelectorAll('iframe')]
        .flatMap(f => f.contentDocument ? [...f.contentDocument.images] : [])
        .concat([...document.images])
        .map(i => { i.loading = 'eager'; return i.decode().catch(() => null); }))""")
    height = page.evaluate("() => document.documentElement.scrollHeight")
    width = page.viewport_size["width"] if page.viewport_size else 0
    path = DOCS / name
    page.screenshot(path=str(path), full_page=True,
                    clip={"x": 0, "y": 0, "width": width,
                          "height": min(height, MAX_HEIGHT[name.split("-")[0].split(".")[0]])})
    print(f"wrote {path.relative_to(ROOT)}")


def main() -> int:
    if CHROMIUM is None:
        print("Chromium not found: `apt install chromium` (Debian's, as the browser tests use)",
              file=sys.stderr)
        return 1
    DOCS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="newsletter-shots-") as temporary:
        config = build_sample(Path(temporary))
        issues = Path(temporary) / "issues"
        log = Path(temporary) / "preview.log"  # a file: a full pipe would stall the server
        preview = subprocess.Popen(
            [sys.executable, "-m", "newsletter", "--config", str(config), "preview",
             "--date", DRAFT, "--port", "0"],
            stdout=subprocess.PIPE, stderr=log.open("w"), text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})  # its address, as soon as printed
        try:
            assert preview.stdout is not None
            draft_url = ""
            for line in preview.stdout:  # "Issue 2021-03-01: http://127.0.0.1:PORT/draft/..."
                if line.startswith(f"Issue {DRAFT}: "):
                    draft_url = line.split(": ", 1)[1].strip()
                    break
            if not draft_url:
                preview.wait(timeout=10)
                print(f"newsletter preview did not start: {log.read_text()}", file=sys.stderr)
                return 1
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
                email = (issues / "2021-02-22" / "email.html").as_uri()
                for width, height in ((375, 812), (600, 900)):
                    page = browser.new_page(viewport={"width": width, "height": height})
                    shoot(page, email, f"email-{width}.png")
                    page.close()
                page = browser.new_page(viewport={"width": 1024, "height": 900})
                shoot(page, (issues / "index.html").as_uri(), "archive.png")
                page.close()
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                shoot(page, draft_url, "preview.png")
                page.close()
                browser.close()
        finally:
            preview.terminate()
            preview.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
