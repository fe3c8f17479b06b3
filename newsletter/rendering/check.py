"""Rendering every reader-facing template once with a sample issue of the current config,
so that ``newsletter check`` reports a broken template override (its file and line) before
a build or a send meets it.
"""

from __future__ import annotations

import datetime as dt
import re
import traceback
from pathlib import Path

import jinja2

from ..core.config import Config
from ..core.models import (
    Article,
    Coverage,
    Image,
    Issue,
    IssueStatus,
    PlacedArticle,
    Provider,
    Section,
    Window,
)
from .templating import environment_for, template_folders, text_environment_for

SAMPLE_DATE = dt.date(2021, 2, 22)
_FIRST_TAG = re.compile(r"\{[#%{]")


def sample_issue(config: Config) -> Issue:
    """An issue with one article in every configured topic, an intro, a topic intro, an
    image and related coverage: every branch a template is likely to have."""
    tz = config.timezone
    end = dt.datetime.combine(SAMPLE_DATE, dt.time(0), tzinfo=tz)
    window = Window(end - dt.timedelta(days=config.window_days), end, tz)
    published = end - dt.timedelta(hours=12)
    sections = []
    for number, topic in enumerate(config.topics, start=1):
        url = f"https://outlet.example/story-{number}"
        article = Article(
            id=f"sample-{number}", path=f"sample-{number}.md", title=f"A story about {topic.name}",
            url=url, canonical_url=url.removeprefix("https://"), domain="outlet.example",
            published=published, quality=10, heat=1, excerpt="What happened, in a sentence.",
            provider=Provider("Outlet", "outlet.example"), topics=(topic.name,),
            images=(Image("https://outlet.example/image.jpg", 1200, 675),),
        )
        related = (Coverage("The same story elsewhere", "https://other.example/story", "Other",
                            "other.example", 5, published),)
        sections.append(Section(topic.name, (PlacedArticle(article, related),),
                                intro=(f"Why {topic.name} mattered this week.",)))
    return Issue(slug=SAMPLE_DATE.isoformat(), date=SAMPLE_DATE, title=config.title,
                 window=window, sections=tuple(sections), status=IssueStatus.PUBLISHED,
                 intro=("The editor's introduction.",))


def template_location(error: Exception, folders: tuple[Path, ...]) -> str:
    """"file:line" of the template frame an error came from (the innermost one)."""
    if isinstance(error, jinja2.TemplateSyntaxError):
        return f"{error.filename or error.name}:{error.lineno}"
    roots = [str(folder) for folder in folders]
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if any(f.filename.startswith(root) for root in roots)]
    if not frames:
        return "a template"
    return f"{frames[-1].filename}:{frames[-1].lineno}"


# The article files watched after a template failed on an issue's articles: an issue holds a
# few dozen; a stat each, every second, stays cheap.
MOST_ARTICLES = 100


def articles_rendered(error: BaseException) -> tuple[str | None, tuple[str, ...]]:
    """What a template was rendering when it raised ``error``, from its frames: the article
    (its path below the corpus folder) of the innermost template frame that held one, the
    one whose data it failed on (None when it failed on none); then that path and those of
    the other articles of the issue it rendered (at most :data:`MOST_ARTICLES`)."""
    frames = [frame for frame, _ in traceback.walk_tb(error.__traceback__)
              if frame.f_code.co_filename.endswith(".j2")]  # the templates' own frames
    culprit: str | None = None
    paths: dict[str, None] = {}
    for frame in reversed(frames):  # innermost first
        for value in frame.f_locals.values():
            article = value.article if isinstance(value, PlacedArticle) else value
            if isinstance(article, Article) and culprit is None:
                culprit = article.path
            elif isinstance(value, Issue):
                paths.update(dict.fromkeys(placed.article.path for placed in value.placed))
    if culprit is None:
        return None, tuple(paths)[:MOST_ARTICLES]
    paths.pop(culprit, None)
    return culprit, (culprit, *paths)[:MOST_ARTICLES]


def template_problems(config: Config) -> list[str]:
    """Every problem of the templates ``config`` uses, as "file:line: what" lines: each
    template parsed, then the email, the web pages and the feeds rendered with
    :func:`sample_issue`. Empty when they all render."""
    from .feeds import render_feeds  # feedgen and lxml: only publishing and check need them
    from .mail import render_email
    from .pages import render_archive, render_archive_year, render_issue_page

    folders = template_folders(config)
    env = environment_for(config)
    problems: list[str] = []
    for name in env.list_templates(extensions=("j2",)):
        try:
            env.get_template(name)
        except jinja2.TemplateSyntaxError as error:
            problems.append(f"{template_location(error, folders)}: {error.message}")
    if problems:
        return problems
    issue = sample_issue(config)
    renderings = (
        ("the email", lambda: render_email(issue, config)),
        ("the issue page", lambda: render_issue_page(issue, config, previous=issue,
                                                     next=issue)),
        ("the archive", lambda: render_archive([issue], config)),
        ("a year of the archive", lambda: render_archive_year(issue.date.year, [issue], config)),
        ("the feeds", lambda: render_feeds([issue], config)),
    )
    for what, render in renderings:
        try:
            render()
        except Exception as error:  # noqa: BLE001 - any failure of a template is reported
            problems.append(f"{template_location(error, folders)}: rendering {what}: "
                            f"{type(error).__name__}: {error}")
    return problems


def template_warnings(config: Config) -> list[str]:
    """A warning for each plain-text template override whose first tag is ``{#-`` with text
    above it: the ``-`` strips the line breaks before the tag, so the text written above it
    runs into the next line of the email. Copies of the packaged templates made before they
    opened with ``{#`` still start so; an HTML template is left alone, as whitespace there
    changes nothing a reader sees."""
    from .mail import NOTICE_TEXT_TEMPLATE, TEXT_TEMPLATE  # as template_problems does

    if config.templates is None:
        return []
    env = text_environment_for(config)
    warnings = []
    for name in (TEXT_TEMPLATE, NOTICE_TEXT_TEMPLATE):
        path = config.templates / name
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):  # not overridden, or template_problems says why
            continue
        tag = _FIRST_TAG.search(source)
        if tag is None or not source.startswith("{#-", tag.start()):
            continue
        above = source[:tag.start()]
        # Jinja's own rules (trim_blocks, lstrip_blocks) decide whether the "-" strips
        # anything: the text above rendered with the tag as it is and without its "-".
        try:
            changed = (env.from_string(above + "{#- #}").render()
                       != env.from_string(above + "{# #}").render())
        except jinja2.TemplateError:  # template_problems reports it
            continue
        if changed:
            line = above.count("\n") + 1
            warnings.append(f"{path}:{line}: warning: its first tag `{{#-` strips the line "
                            "breaks above it, so the text written there runs into the next "
                            "line of the email; write `{#` instead (as the packaged "
                            f"{name} does)")
    return warnings
