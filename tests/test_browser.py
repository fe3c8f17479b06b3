"""Real headless Chromium renders the email and the web pages as subscribers' devices would.

Screenshots go to test-artifacts/ (not committed) for a person to look at.
"""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

from browser_support import ARTIFACTS, CHROMIUM, open_page
from conftest import PROJECT, decoy_environment
from hostile_articles import hostile_site

WIDTHS = (320, 375, 600)

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium not installed: `apt-get install chromium` (.ci/run does)")

# What the page must satisfy at every width; evaluated in the page.
CHECKS = """() => ({
  overflow: document.documentElement.scrollWidth - window.innerWidth,
  scripts: document.scripts.length,
  handlers: [...document.querySelectorAll('*')].flatMap(
      e => [...e.attributes].filter(a => a.name.startsWith('on')).map(a => a.name)),
  imagesWithoutAlt: [...document.images].filter(i => !i.hasAttribute('alt'))
      .map(i => i.src),
  dangerousLinks: [...document.querySelectorAll('[href],[src]')].map(
      e => e.getAttribute('href') || e.getAttribute('src')).filter(
      u => /^\\s*(javascript|data|vbscript):/i.test(u)),
  lang: document.documentElement.lang,
  title: document.title,
})"""


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", ["2021-02-22/email.html", "2021-02-22/index.html",
                                  "index.html", "archive/2021.html"])
def test_pages_fit_small_screens_safely(browser, sample_pages: Path, name: str,
                                       width: int) -> None:
    page, dialogs = open_page(browser, sample_pages / name, width)
    result = page.evaluate(CHECKS)
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"{name.replace('/', '_').removesuffix('.html')}-{width}.png"
    page.screenshot(path=str(shot), full_page=True)
    page.close()
    assert result["overflow"] <= 0, f"horizontal scrolling at {width}px"
    assert result["scripts"] == 0 and result["handlers"] == [] and dialogs == []
    assert result["imagesWithoutAlt"] == []
    assert result["dangerousLinks"] == []
    assert result["lang"] == "en"


def test_hostile_articles_render_inert(browser, tmp_path: Path) -> None:
    output = hostile_site(tmp_path)
    for name in ("2021-02-22/email.html", "2021-02-22/index.html", "index.html"):
        for width in (320, 600):
            page, dialogs = open_page(browser, output / name, width)
            result = page.evaluate(CHECKS)
            pwned = page.evaluate("() => window.__pwned === true")
            page.close()
            assert dialogs == [] and not pwned and result["title"] != "PWNED", name
            assert result["scripts"] == 0 and result["handlers"] == [], name
            assert result["dangerousLinks"] == [], name
            assert result["overflow"] <= 0, f"{name} scrolls sideways at {width}px"


def test_the_readme_screenshots_script_runs(tmp_path: Path) -> None:
    """docs/screenshots.py still works (it remakes the README's pictures after a template
    change): four PNGs at the widths the README promises, of a page, not an empty frame."""
    out = tmp_path / "pictures"
    done = subprocess.run([sys.executable, str(PROJECT / "docs" / "screenshots.py"),
                           "--out", str(out)], capture_output=True, text=True, timeout=300,
                          env=decoy_environment(tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    sizes = {}
    for png in sorted(out.glob("*.png")):
        data = png.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20_000, png.name
        sizes[png.name] = struct.unpack(">II", data[16:24])
    assert {name: width for name, (width, _) in sizes.items()} == {
        "archive.png": 1024, "email-375.png": 375, "email-600.png": 600, "preview.png": 1280}
    assert all(height >= 800 for _, height in sizes.values()), sizes


HEBREW_TITLE = "מה קורה עם הבינה המלאכותית?"
HEBREW_EXCERPT = "האם GPT-3 ישנה את העולם? כן!"
ARABIC_INTRO = "مرحبا بكم في العدد الجديد!"

# Where the first and last characters of an element's text are drawn, its direction, and
# how far its text sits from either edge of the element (its alignment).
TEXT_LAYOUT = """(element) => {
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  const nodes = []; while (walker.nextNode()) nodes.push(walker.currentNode);
  const nonEmpty = nodes.filter(n => n.data.trim());
  const first = nonEmpty[0], last = nonEmpty[nonEmpty.length - 1];
  const box = (node, at) => { const r = document.createRange(); r.setStart(node, at);
                              r.setEnd(node, at + 1); return r.getBoundingClientRect(); };
  const lastAt = last.data.trimEnd().length - 1;
  const rects = nonEmpty.flatMap(n => {
    const r = document.createRange(); r.selectNodeContents(n); return [...r.getClientRects()];
  });
  const outer = element.getBoundingClientRect();
  return {first: box(first, first.data.search(/\\S/)).left, last: box(last, lastAt).left,
          direction: getComputedStyle(element).direction,
          gapRight: outer.right - Math.max(...rects.map(r => r.right)),
          gapLeft: Math.min(...rects.map(r => r.left)) - outer.left};
}"""


@pytest.fixture(scope="module")
def mixed_site(tmp_path_factory) -> Path:
    """An issue with a Hebrew article, an Arabic intro and an article whose image is
    narrower than the email's column; returns its published folder."""
    from conftest import run, write_article, write_config

    folder = tmp_path_factory.mktemp("mixed")
    write_config(folder)
    (folder / "issues" / "2021-02-22").mkdir(parents=True)
    (folder / "issues" / "2021-02-22" / "overrides.yaml").write_text(
        f"intro: {ARABIC_INTRO}\n", "utf-8")
    write_article(folder / "articles", "hebrew", quality=90, title=HEBREW_TITLE,
                  excerpt=HEBREW_EXCERPT, provider={"name": "הארץ", "domain": "il.example"},
                  related=[{"title": HEBREW_TITLE + " 2", "webUrl": "https://r.example/1",
                            "provider": {"name": "Ynet", "domain": "r.example"}}])
    write_article(folder / "articles", "logo", quality=80, title="A small picture",
                  images=[{"url": "https://img.example/logo.png", "width": 120, "height": 60}])
    result = run(folder, "build", "--date", "2021-02-22", "--publish")
    assert result.exit_code == 0, result.output
    return folder / "issues" / "2021-02-22"


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", ["email.html", "index.html"])
def test_right_to_left_text_reads_from_the_right(browser, mixed_site: Path, name: str,
                                                 width: int) -> None:
    """A Hebrew title starts at the right and shows its "?" at its left end, an excerpt
    mixing in a Latin name ("GPT-3") keeps its order, and so does an Arabic intro, in the
    email (whose column is aligned left) as on the web page."""
    page, _ = open_page(browser, mixed_site / name, width)
    overflow = page.evaluate(CHECKS)["overflow"]
    layouts = [page.locator("h3", has_text="מה קורה").first.evaluate(TEXT_LAYOUT),
               page.locator("p", has_text="GPT-3").first.evaluate(TEXT_LAYOUT),
               page.locator("p", has_text="مرحبا").first.evaluate(TEXT_LAYOUT)]
    page.close()
    assert overflow <= 0
    for layout in layouts:
        assert layout["direction"] == "rtl", layout
        assert layout["last"] < layout["first"], layout  # read from the right
        assert layout["gapRight"] < 2 < layout["gapLeft"], layout  # aligned right


@pytest.mark.parametrize("width", WIDTHS)
def test_right_to_left_headlines_read_from_the_right_in_the_archive(
        browser, mixed_site: Path, width: int) -> None:
    """The archive's top stories of an issue, one headline a line, as the cards show them."""
    page, _ = open_page(browser, mixed_site.parent / "index.html", width)
    layout = page.locator(".headlines li", has_text="מה קורה").evaluate(TEXT_LAYOUT)
    page.close()
    assert layout["direction"] == "rtl" and layout["last"] < layout["first"], layout


@pytest.mark.parametrize("width", WIDTHS)
def test_an_image_narrower_than_the_column_keeps_its_width(browser, mixed_site: Path,
                                                           width: int) -> None:
    """The email sizes images to its column on every screen: a 120 px picture still shows at
    120 px at most, as on the web page, not stretched and blurred to 552."""
    for name in ("email.html", "index.html"):
        page, _ = open_page(browser, mixed_site / name, width)
        shown = page.locator("img[src='https://img.example/logo.png']").evaluate(
            "i => i.getBoundingClientRect().width")
        page.close()
        assert 0 < shown <= 120, (name, shown)
