"""``hostile_site``: articles whose every text field attacks the output, built and published.

``SCRIPT`` and ``HANDLER`` are the markup they carry (a script, an event handler) that must
come out inert, ``WHEN`` the moment they are published. The hostile-corpus tests read the
files it writes, the browser tests open them in real Chromium; a module of its own, not a
test module, so they import it the same way whatever order pytest collects them in.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from conftest import run, write_article, write_config

SCRIPT = "<script>window.__pwned=true;document.title='PWNED'</script>"
HANDLER = "<img src=x onerror=\"window.__pwned=true;alert(1)\">"
WHEN = dt.datetime(2021, 2, 17, 12, tzinfo=dt.UTC)


def hostile_site(folder: Path) -> Path:
    """Articles whose every text field attacks the output; returns the published output."""
    write_config(folder, topics=["AI", f"Robots {SCRIPT}"])
    articles = folder / "articles"
    write_article(
        articles, "script-everywhere", quality=90, publishedDateTime=WHEN,
        title=f"Title {SCRIPT} {HANDLER} </mj-text></mj-column> {{{{ 7*7 }}}} ]]>",
        excerpt=f"Excerpt {SCRIPT} {HANDLER} {{% raw %}} ]]> \x0b\x01 bell\x07",
        provider={"name": f"Provider {HANDLER}", "domain": "evil.example"},
        images=[{"url": "javascript:alert(1)", "width": 100, "height": 100}],
        related=[
            {"title": f"Related {SCRIPT}", "webUrl": "https://fine.example/r?a=\"b\"",
             "provider": {"name": f"Rel {HANDLER}", "domain": "fine.example"}, "quality": 5},
            {"title": "Data link", "webUrl": "data:text/html,<script>alert(1)</script>",
             "provider": {"name": "Data", "domain": "data.example"}, "quality": 9},
            {"title": "JS link", "webUrl": "javascript:alert(1)",
             "provider": {"name": "JS", "domain": "js.example"}, "quality": 9},
        ],
    )
    write_article(articles, "quote-in-url", quality=80, publishedDateTime=WHEN,
                  title="A quote \" in the URL", webUrl='https://q.example/a"onmouseover="x',
                  images=[{"url": 'https://img.example/i.png"onerror="alert(1)', "width": 2000,
                           "height": 1000}])
    write_article(articles, "data-image", quality=70, publishedDateTime=WHEN,
                  title="Data image", topics=[f"robots {SCRIPT}"],
                  images=[{"url": "data:image/svg+xml,<svg onload=alert(1)>", "width": 10,
                           "height": 10}])
    result = run(folder, "build", "--date", "2021-02-22", "--publish")
    assert result.exit_code == 0, result.output
    return folder / "issues"
