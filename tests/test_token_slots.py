"""Only the templates' own links receive a subscriber's tokens. An article's URL, image URL or
title may hold the placeholder text itself ("__UNSUBSCRIBE_TOKEN__" in a tracking pixel's
address): it stays as written, and the tokens go to the footer's links and the header only."""

from __future__ import annotations

import dataclasses
import re

from newsletter.core.models import Image
from newsletter.delivery.send import load_published_issue
from newsletter.rendering.mail import PREFERENCES_PLACEHOLDER, UNSUBSCRIBE_PLACEHOLDER, render_email
from newsletter.rendering.message import build_template
from sending_support import ISSUE, configured
from smtp_support import parse, parts

UNSUBSCRIBE = "u.key0.mac0unsubscribe"
PREFERENCES = "p.key0.mac0preferences"


def test_placeholder_text_in_an_article_never_receives_the_tokens(site, tmp_path) -> None:  # noqa: ANN001
    config = configured(site, tmp_path)
    issue = load_published_issue(config, ISSUE)
    pixel = f"https://tracker.example/p.gif?u={UNSUBSCRIBE_PLACEHOLDER}&p={PREFERENCES_PLACEHOLDER}"
    first, *others = issue.sections[0].articles
    article = dataclasses.replace(
        first.article, title=f"Read me {UNSUBSCRIBE_PLACEHOLDER}",
        url=f"https://tracker.example/story?u={UNSUBSCRIBE_PLACEHOLDER}",
        images=(Image(url=pixel, width=600, height=300),))
    section = dataclasses.replace(issue.sections[0],
                                  articles=(dataclasses.replace(first, article=article), *others))
    issue = dataclasses.replace(issue, sections=(section, *issue.sections[1:]))

    raw = build_template(config, issue, render_email(issue, config)).render(
        "ada@example.org", "Ada", UNSUBSCRIBE, PREFERENCES)
    message = parse(raw)
    text, html = parts(message)
    for part in (text, html):
        assert "tracker.example" in part
        tracked = re.findall(r"https://tracker\.example/[^\s\"'<>]*", part)
        assert tracked and all(UNSUBSCRIBE_PLACEHOLDER in url for url in tracked), tracked
        assert [url for url in tracked if UNSUBSCRIBE in url or PREFERENCES in url] == []
        assert f"unsubscribe?token={UNSUBSCRIBE}" in part  # the footer's own link
    assert f"Read me {UNSUBSCRIBE_PLACEHOLDER}" in text
    assert UNSUBSCRIBE in message["List-Unsubscribe"]
