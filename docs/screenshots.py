"""Remake the README's screenshots from the sample, after a change to a template.

    python docs/screenshots.py [--out FOLDER]

Run it in the quick start's environment (`. .venv/bin/activate` after the README's second
command, which installs Playwright) on a machine with Debian's `chromium`: the same browser
the browser tests drive. It copies the sample (`newsletter.yaml`, `articles/` and the
editor's overrides kept in `tests/golden/`) into a temporary folder, builds and publishes the
issues of 2021-02-15 and 2021-02-22 there with the `newsletter` command, and writes (into
FOLDER instead with `--out`):

    docs/email-375.png   the email of 2021-02-22 on a 375 px phone (the top of it)
    docs/email-600.png   the same email at its full 600 px width (the top of it)
    docs/archive.png     the web archive, issues/index.html
    docs/preview.png     `newsletter preview` of the next draft, 2021-03-01

The sample's article images live on fictional `.example` hosts, so they show as grey
placeholders of their real size; nothing else is fetched from the network. Only the
command line is used, never the package's modules, so the script keeps working as they move.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Page, Route, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
# The processes started below run this checkout's code, not whichever copy is installed
# (from a git worktree, the installed one is another checkout).
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
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


def newsletter(config: Path, *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "newsletter", "--config", str(config), *args],
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"newsletter {' '.join(args)} failed:\n{done.stderr}")


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


def shoot(page: Page, url: str, path: Path) -> None:
    page.route("**/*", offline)
    page.goto(url, wait_until="load")
    # Lazy images below the first screen would otherwise stay empty in a full-page shot.
    page.evaluate("""() => Promise.all([...document.querySelectorAll('iframe')]
        .flatMap(f => f.contentDocument ? [...f.contentDocument.images] : [])
        .concat([...document.images])
        .map(i => { i.loading = 'eager'; return i.decode().catch(() => null); }))""")
    height = page.evaluate("() => document.documentElement.scrollHeight")
    width = page.viewport_size["width"] if page.viewport_size else 0
    name = path.stem.split("-")[0]
    page.screenshot(path=str(path), full_page=True,
                    clip={"x": 0, "y": 0, "width": width,
                          "height": min(height, MAX_HEIGHT[name])})
    print(f"wrote {path}")


@contextmanager
def previewing(config: Path, folder: Path) -> Iterator[str]:
    """``newsletter preview`` of the draft on a free port; yields the draft's URL."""
    with (folder / "preview.log").open("w+") as log:  # a file: a full pipe stalls a server
        preview = subprocess.Popen(
            [sys.executable, "-m", "newsletter", "--config", str(config), "preview",
             "--date", DRAFT, "--port", "0"],
            stdout=subprocess.PIPE, stderr=log, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})  # its address, as soon as printed
        try:
            assert preview.stdout is not None
            for line in preview.stdout:  # "Issue 2021-03-01: http://127.0.0.1:PORT/draft/..."
                if line.startswith(f"Issue {DRAFT}: "):
                    yield line.split(": ", 1)[1].strip()
                    return
            preview.wait(timeout=10)
            log.seek(0)
            sys.exit(f"newsletter preview did not start:\n{log.read()}")
        finally:
            preview.terminate()
            preview.wait(timeout=10)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Remake the README's screenshots.")
    parser.add_argument("--out", type=Path, default=DOCS, help="where the PNGs go (docs/)")
    out = parser.parse_args(argv).out
    if CHROMIUM is None:
        sys.exit("Chromium not found: `apt install chromium` (Debian's, as the browser tests "
                 "use)")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="newsletter-shots-") as temporary:
        folder = Path(temporary)
        config = build_sample(folder)
        email = (folder / "issues" / "2021-02-22" / "email.html").as_uri()
        with previewing(config, folder) as draft, sync_playwright() as playwright:
            shots = [(email, 375, 812, "email-375.png"), (email, 600, 900, "email-600.png"),
                     ((folder / "issues" / "index.html").as_uri(), 1024, 900, "archive.png"),
                     (draft, 1280, 900, "preview.png")]
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            for url, width, height, name in shots:
                page = browser.new_page(viewport={"width": width, "height": height})
                shoot(page, url, out / name)
                page.close()
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
