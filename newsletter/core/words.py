"""The words the tool writes into what readers see (``words:`` in the config): the issue page,
the archive, the email's HTML and text, the feeds. Each phrase has a key and an English
default; a newsletter in another language gives its own, with the month names and the date
format, so that its pages say "2 mars 2021" and no English word is read with a French voice.

A phrase may hold placeholders in braces ("All issues of {title}"): each one its default
holds must be in the operator's phrase too, and no other (a missing {title} would drop the
newsletter's name; an unknown one would be shown as it is).
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import Any

from .checks import Report

PHRASES: Mapping[str, str] = MappingProxyType({
    # every web page (the issue pages and the archive)
    "skip_to_content": "Skip to content",
    "site_navigation": "Site",  # the navigation's label, read by screen readers
    "subscribe_label": "Subscribe:",
    "email_link": "Email",
    "all_issues_of": "All issues of {title}",
    "footer_subscribe": "Subscribe",
    "footer_by_email": "by email",
    "footer_or_with": ", or with",
    "footer_with": "with",
    "footer_or": "or",
    # the issue page (and the email, "In this issue")
    "all_issues": "All issues",
    "previous": "← Previous",
    "next": "Next →",
    "more_issues": "More issues",
    "draft": "Draft: not yet published",
    "in_this_issue": "In this issue",
    "no_articles": "This issue has no articles.",
    # the archive
    "archive_title": "{title}: all issues",
    "archive_description": "Every issue of {title}, newest first.",
    "year_title": "{title}: the issues of {year}",
    "year_description": "Every issue of {title} published in {year}, newest first.",
    "topic_feeds": "Topic feeds",
    "the_archive": "The archive",
    "title_in_year": "{title} in {year}",
    "year_issues_one": "{count} issue, newest first.",
    "year_issues_many": "{count} issues, newest first.",
    "newest_of_total": "The newest {count} of {total} issues; the others by year below.",
    "every_issue": "Every issue, newest first.",
    "no_issues_yet": "No issue has been published yet. Subscribe to a feed below to get the "
                     "first one.",
    "months_label": "Months",
    "top_stories": "Top stories",
    "topics_label": "Topics:",
    "articles_one": "{count} article",
    "articles_many": "{count} articles",
    "more_years": "More years",
    "by_year": "Every issue, by year",
    "follow_topic": "Follow a topic",
    "topic_feeds_about": "An RSS feed of the articles featured under each topic.",
    # the article cards (pages, email, feeds)
    "video": "Video",
    "also_covered": "Also covered by:",
    "read": "Read:",  # before an article's link in the text email
    "watch": "Watch:",  # the same, for a video
    # the email
    "view_in_browser": "View in browser",
    "stories_one": "{count} story",
    "stories_many": "{count} stories",
    "subscribed": "You are receiving this because you subscribed to {title} at {site_url}",
    "manage_preferences": "Manage preferences",
    "unsubscribe": "Unsubscribe",
    "text_view_in_browser": "View in your browser:",
    "text_in_this_issue": "In this issue:",
    "text_manage_preferences": "Manage preferences (topics, name):",
    "text_unsubscribe": "Unsubscribe:",
    # the feeds
    "read_on_web": "Read this issue on the web",
    "feed_description": "Every issue of {title}: the week's best articles, by topic.",
    "topic_feed_description": "The articles {title} featured under {topic}.",
})
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
DATE_FORMAT = "{month} {day}, {year}"  # "February 22, 2021"
WORDS_KEYS = (*PHRASES, "months", "date_format")
PLACEHOLDER = re.compile(r"{([^{}]*)}")


def placeholders(text: str) -> list[str]:
    return PLACEHOLDER.findall(text)


def fill(text: str, values: Mapping[str, object],
         quote: Callable[[object], str] = str) -> str:
    """``text`` with each {name} replaced by ``quote(values[name])``."""
    return PLACEHOLDER.sub(lambda match: quote(values[match.group(1)]), text)


@dataclass(frozen=True)
class Words:
    """The phrases (by key), month names and date format of one newsletter."""

    phrases: tuple[tuple[str, str], ...] = tuple(PHRASES.items())
    months: tuple[str, ...] = MONTHS
    date_format: str = DATE_FORMAT

    @cached_property
    def by_key(self) -> dict[str, str]:
        return dict(self.phrases)

    def say(self, key: str, **values: object) -> str:
        """The phrase ``key`` with its placeholders filled in from ``values``."""
        return fill(self.by_key[key], values)

    def date(self, value: dt.date | dt.datetime) -> str:
        """"February 22, 2021" (or "22 février 2021"), whatever the machine's locale."""
        return fill(self.date_format, {"month": self.months[value.month - 1],
                                       "day": value.day, "year": value.year})


ENGLISH = Words()


def _problem(text: str, default: str) -> str | None:
    """Why ``text`` cannot stand for the phrase whose English is ``default``, or None."""
    if any(unicodedata.category(char) == "Cc" for char in text):
        return "holds a control character; write the phrase as plain text"
    required = placeholders(default)
    unknown = [name for name in placeholders(text) if name not in required]
    if unknown:
        allowed = ", ".join(f"{{{n}}}" for n in required) or "none"
        return f"unknown placeholder {{{unknown[0]}}} (this phrase takes: {allowed})"
    missing = [name for name in required if name not in placeholders(text)]
    if missing:
        return (f"lacks {', '.join(f'{{{n}}}' for n in missing)}, which the phrase must "
                f'say (the default is "{default}")')
    return None


def _phrase(report: Report, key: str, value: Any, default: str) -> str | None:
    if not isinstance(value, str) or not value.strip():
        report.expected(f"words.{key}", "a phrase (a non-empty string)", value)
        return None
    text = " ".join(value.split())  # on one line: some go into a mail header or a text line
    problem = _problem(text, default)
    if problem is not None:
        report.errors.append(f"words.{key}: {problem}")
    return None if problem else text


def _months(report: Report, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) != 12:
        report.expected("words.months", "a list of the 12 month names, January first", value)
        return MONTHS
    names = [_phrase(report, f"months[{index}]", name, "") for index, name in enumerate(value)]
    return tuple(name for name in names if name) if all(names) else MONTHS


def check_words(report: Report, value: Any) -> Words:
    """``words:``: an unknown key is an error (a misspelt phrase would stay English
    unnoticed), naming the known keys."""
    if value is None:
        return ENGLISH
    if not isinstance(value, dict):
        report.expected("words", "a mapping of phrases such as {in_this_issue: ...}", value)
        return ENGLISH
    for key in value:
        if key not in WORDS_KEYS:
            hint = difflib.get_close_matches(str(key), WORDS_KEYS, n=1)
            did_you_mean = f'did you mean "{hint[0]}"? ' if hint else ""
            report.errors.append(f"words.{key}: unknown key; {did_you_mean}the known keys are "
                                 f"{', '.join(WORDS_KEYS)}")
    phrases = {key: PHRASES[key] if value.get(key) is None
               else _phrase(report, key, value[key], PHRASES[key]) or PHRASES[key]
               for key in PHRASES}
    months = MONTHS if value.get("months") is None else _months(report, value["months"])
    date_format = DATE_FORMAT
    if value.get("date_format") is not None:
        date_format = _phrase(report, "date_format", value["date_format"],
                              DATE_FORMAT) or DATE_FORMAT
    return Words(tuple(phrases.items()), months, date_format)
