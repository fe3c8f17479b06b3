"""A template that fails on the data of one article (a field that article lacks) is a lasting
failure like any template error, but the operator may fix the article rather than the
template: the run is tried again when the article files the issue was rendering change, not
only when the templates or the configuration do. On a real ``newsletter schedule`` process,
on the real clock."""

from __future__ import annotations

import datetime as dt
import signal
import time
from pathlib import Path

from conftest import make_config, write_article, write_config
from newsletter.schedule.failures import lasting
from newsletter.schedule.runs import run_pass
from scheduler_support import start_scheduler, wait_for_line

FAILED = "failed, and trying it again cannot help until this is fixed"
TITLES = ["Robots learn to fold laundry", "Chip makers race to three nanometres",
          "Translation models reach sign language", "Drones map coral reefs overnight",
          "Courts weigh facial recognition bans", "Weather forecasts trained on radar"]
PICTURED = len(TITLES)
TOPICS = [{"name": "AI", "max_articles": PICTURED + 1}]  # every article in the issue
IMAGE = {"url": "https://news.example/picture.jpg", "width": 800, "height": 400}
# An issue page that shows every article's image, as if every article had one.
PAGE = ('{% for placed in issue.placed %}<img src="{{ placed.article.image.url }}">\n'
        '{% endfor %}\n')


def _project(folder: Path, fire: dt.datetime) -> tuple[Path, Path, Path]:
    """Seven articles two days old, one of them without an image and deep in the corpus; a
    template override that uses every article's image; a daily schedule that fired at
    ``fire``. The config's path, the article without an image, the override."""
    published = fire - dt.timedelta(days=2)
    for number, title in enumerate(TITLES):
        write_article(folder / "articles", f"pictured-{number}", title=title,
                      quality=80 + number, publishedDateTime=published, images=[IMAGE])
    plain = write_article(folder / "articles" / "2021" / "briefs", "plain", quality=70,
                          publishedDateTime=published)
    overrides = folder / "my-templates"
    overrides.mkdir()
    page = overrides / "issue.html.j2"
    page.write_text(PAGE, encoding="utf-8")
    path = write_config(folder, state_dir="state", templates="my-templates", topics=TOPICS,
                        schedule={"cron": f"{fire.minute} {fire.hour} * * *",
                                  "catch_up_hours": 2})
    return path, plain, page


def _stamp(path: Path) -> tuple[int, int]:
    found = path.stat()
    return found.st_mtime_ns, found.st_ino


def test_the_failure_names_the_article_and_waits_for_its_file(tmp_path: Path) -> None:
    fire = dt.datetime(2021, 2, 22, 7, tzinfo=dt.UTC)
    path, plain, page = _project(tmp_path, fire)
    config = make_config(tmp_path, state_dir="state", templates="my-templates", topics=TOPICS,
                         schedule={"cron": "0 7 * * *", "catch_up_hours": 2})
    outcome = run_pass(config, fire + dt.timedelta(minutes=1))
    assert not outcome and outcome.lasting is not None
    assert f"(rendering the article {plain})" in outcome.lasting.cause
    assert "UndefinedError: 'None' has no attribute 'url'" in outcome.lasting.cause
    assert "or the article named" in outcome.lasting.fix
    inputs = outcome.lasting.inputs
    assert page.resolve() in inputs and plain in inputs
    # the issue's other articles, a stat each, as the templates: no walk of the corpus
    assert inputs[:3] == (page.parent.resolve(), page.resolve(), plain)
    assert sorted(inputs[3:]) == [tmp_path / "articles" / f"pictured-{n}.md"
                                  for n in range(PICTURED)]
    assert lasting(RuntimeError("no template"), config) is None


def test_a_template_failing_on_an_article_is_tried_again_once_the_article_is_fixed(
        tmp_path: Path) -> None:
    """The override uses every article's image and one article has none: the run fails once,
    naming the template, the error and the article; seconds later it has not been tried
    again. The article given an image, without touching the configuration or the template,
    the run is made and the issue published."""
    fire = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)).replace(second=0,
                                                                         microsecond=0)
    path, plain, page = _project(tmp_path, fire)
    untouched = _stamp(path), _stamp(page)
    log = tmp_path / "schedule.log"
    process = start_scheduler(path, log)
    try:
        text = wait_for_line(log, "is tried again as soon as", process)
        assert f"{page}:1: UndefinedError: 'None' has no attribute 'url'" in text, text
        assert f"(rendering the article {plain})" in text, text
        assert f"{plain}, " in text and "3 more file(s) it read or " in text, text
        time.sleep(4)  # the loop looks every second: nothing changed, nothing is tried
        text = log.read_text("utf-8")
        assert text.count(FAILED) == 1 and "trying again" not in text, text
        write_article(plain.parent, "plain", quality=70,
                      publishedDateTime=fire - dt.timedelta(days=2), images=[IMAGE])
        wait_for_line(log, f"{plain} changed: trying again the run of", process)
        text = wait_for_line(log, f"issue {fire.date().isoformat()} built and published",
                              process)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert process.returncode == 0, log.read_text("utf-8")
    assert text.count(FAILED) == 1, text
    assert (_stamp(path), _stamp(page)) == untouched
    issue_page = tmp_path / "issues" / fire.date().isoformat() / "index.html"
    assert issue_page.read_text("utf-8").count(IMAGE["url"]) == PICTURED + 1
