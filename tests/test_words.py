"""``words:``: a newsletter in another language gives the words the tool writes into what
readers see, and its pages, email and feeds then carry none of the English ones.

The French newsletter below translates every phrase; its articles are French too, so any
English word left in the rendered output is one the tool wrote. The outputs are read as a
reader gets them: the text of the HTML (aria labels included), the text email, the feeds.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from http import HTTPStatus
from pathlib import Path

import pytest

from conftest import make_article, make_issue, write_config
from newsletter.core.config import Config, load_config
from newsletter.core.errors import ConfigError
from newsletter.core.models import Coverage, PlacedArticle, Provider
from newsletter.core.settings import SubscribeSettings
from newsletter.core.words import MONTHS, PHRASES, WORDS_KEYS
from newsletter.rendering import pages
from newsletter.rendering.feeds import render_feeds
from newsletter.rendering.mail import render_email
from newsletter.rendering.pages import render_archive, render_archive_year, render_issue_page
from newsletter.rendering.templating import long_date
from newsletter.web.signup import SignupPages

FRENCH = {
    "skip_to_content": "Aller au contenu",
    "site_navigation": "Navigation du site",
    "subscribe_label": "S'abonner :",
    "email_link": "Courriel",
    "all_issues_of": "Tous les numéros de {title}",
    "footer_subscribe": "Abonnez-vous",
    "footer_by_email": "par courriel",
    "footer_or_with": ", ou avec",
    "footer_with": "avec",
    "footer_or": "ou",
    "all_issues": "Tous les numéros",
    "previous": "← Précédent",
    "next": "Suivant →",
    "more_issues": "Autres numéros",
    "draft": "Brouillon : pas encore publié",
    "in_this_issue": "Dans ce numéro",
    "no_articles": "Ce numéro est vide.",
    "archive_title": "{title} : tous les numéros",
    "archive_description": "Chaque numéro de {title}, du plus récent au plus ancien.",
    "year_title": "{title} : les numéros de {year}",
    "year_description": "Chaque numéro de {title} paru en {year}.",
    "topic_feeds": "Flux par sujet",
    "the_archive": "Les archives",
    "title_in_year": "{title} en {year}",
    "year_issues_one": "{count} numéro.",
    "year_issues_many": "{count} numéros, du plus récent au plus ancien.",
    "newest_of_total": "Les {count} plus récents des {total} numéros ; les autres par année.",
    "every_issue": "Chaque numéro, du plus récent au plus ancien.",
    "no_issues_yet": "Aucun numéro n'est encore paru.",
    "months_label": "Mois",
    "top_stories": "À la une",
    "topics_label": "Sujets :",
    "articles_one": "{count} texte",
    "articles_many": "{count} textes",
    "more_years": "Autres années",
    "by_year": "Chaque numéro, par année",
    "follow_topic": "Suivre un sujet",
    "topic_feeds_about": "Un flux RSS par sujet.",
    "video": "Vidéo",
    "also_covered": "Aussi traité par :",
    "read": "Lire :",
    "watch": "Regarder :",
    "view_in_browser": "Voir dans le navigateur",
    "stories_one": "{count} sujet traité",
    "stories_many": "{count} sujets traités",
    "subscribed": "Vous recevez ceci car vous êtes abonné à {title} sur {site_url}",
    "manage_preferences": "Gérer vos préférences",
    "unsubscribe": "Se désabonner",
    "text_view_in_browser": "Voir dans votre navigateur :",
    "text_in_this_issue": "Dans ce numéro :",
    "text_manage_preferences": "Gérer vos préférences (sujets, nom) :",
    "text_unsubscribe": "Se désabonner :",
    "read_on_web": "Lire ce numéro sur le site",
    "feed_description": "Chaque numéro de {title} : le meilleur de la semaine.",
    "topic_feed_description": "Les textes que {title} a retenus sous {topic}.",
    "months": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
               "septembre", "octobre", "novembre", "décembre"],
    "date_format": "{day} {month} {year}",
}
assert set(FRENCH) == set(WORDS_KEYS)


class _Reader(HTMLParser):
    """What a reader sees or hears of an HTML document: its text and the attributes screen
    readers and browsers read out."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script"):
            self.hidden += 1
        self.parts += [value or "" for name, value in attrs
                       if name in ("aria-label", "alt", "title", "content")]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def seen(html: str | bytes) -> str:
    reader = _Reader()
    reader.feed(html.decode() if isinstance(html, bytes) else html)
    return " ".join(" ".join(reader.parts).split())


def pieces(phrase: str) -> list[str]:
    """The words of an English phrase around its placeholders."""
    return [piece.strip(" ,.:;") for piece in re.split(r"{[^{}]*}", phrase)
            if re.search(r"[A-Za-z]", piece)]


ENGLISH_WORDS = [piece for phrase in [*PHRASES.values(), *MONTHS] for piece in pieces(phrase)]


def english_left(text: str) -> list[str]:
    return [piece for piece in ENGLISH_WORDS
            if re.search(rf"(?<!\w){re.escape(piece)}(?!\w)", text)]


def article(slug: str, **fields: object) -> PlacedArticle:
    coverage = Coverage(f"Autre regard {slug}", f"https://autre.example/{slug}",
                        "Le Temps", "autre.example", None, None)
    return PlacedArticle(make_article(
        slug, title=f"Histoire {slug}", excerpt=f"Ce qui s'est passé : {slug}.",
        provider=Provider("Le Monde", "lemonde.example"), **fields), (coverage,))


@pytest.fixture
def fr_config(tmp_path: Path) -> Config:
    return load_config(write_config(
        tmp_path, title="L'Hebdo IA", language="fr", topics=["IA", "Robots"],
        subscribe={"enabled": True}, words=FRENCH))


def issues(config: Config) -> list:
    return [
        make_issue(config, dt.date(2020, 12, 28), {"IA": [article("zero")]}),
        make_issue(config, dt.date(2021, 2, 22), {
            "IA": [article("un"), article("deux", type="video")],
            "Robots": [article("trois")]}),
        make_issue(config, dt.date(2021, 3, 2), {"IA": [article("quatre")]}),
    ]


def test_a_french_newsletter_shows_no_english_word_the_tool_wrote(fr_config, monkeypatch):
    old, middle, new = issues(fr_config)
    email = render_email(middle, fr_config)
    plain = dataclasses.replace(fr_config, subscribe=SubscribeSettings(enabled=False))
    feeds = render_feeds([old, middle, new], fr_config)
    json_feed = json.loads(feeds["feed.json"])
    topic_feed = ET.fromstring(feeds["topics/ia.xml"])
    outputs = {
        "issue page": seen(render_issue_page(middle, fr_config, previous=old, next=new)),
        "draft page": seen(render_issue_page(dataclasses.replace(new, status="draft"),
                                             fr_config, previous=None, next=None)),
        "empty page": seen(render_issue_page(dataclasses.replace(new, sections=()), plain,
                                             previous=None, next=None)),
        "archive": seen(render_archive([old, middle, new], fr_config)),
        "empty archive": seen(render_archive([], fr_config)),
        "year page": seen(render_archive_year(2021, [old, middle, new], fr_config)),
        "year of one": seen(render_archive_year(2020, [old, middle, new], fr_config)),
        "email": seen(email.html),
        "text email": email.text,
        "subject": email.subject,
        "feed": " ".join([json_feed["description"], seen(json_feed["items"][0]["content_html"]),
                          json_feed["items"][0]["title"]]),
        "topic feed": " ".join(topic_feed.itertext()),
    }
    monkeypatch.setattr(pages, "ARCHIVE_FRONT_ISSUES", 2)
    outputs["long archive"] = seen(render_archive([old, middle, new], fr_config))

    for name, text in outputs.items():
        assert english_left(text) == [], f"English words in the {name}"
    everything = "\n".join(outputs.values())
    for key, phrase in FRENCH.items():  # each phrase is used somewhere
        if key not in ("months", "date_format"):
            assert all(piece in everything for piece in pieces(phrase)), key
    assert "2 mars 2021" in outputs["issue page"]  # the next issue, linked
    assert "22 février 2021" in outputs["issue page"]
    assert "28 décembre 2020" in outputs["issue page"]
    assert "17 février 2021" in outputs["email"]  # an article's date on its card
    assert outputs["subject"] == "L'Hebdo IA: 22 février 2021"
    assert "Voir dans votre navigateur : https://news.example.org/ai/2021-02-22/" in email.text
    assert "Regarder : https://outlet.example/deux" in email.text
    assert "Lire : https://outlet.example/un" in email.text
    assert "[Vidéo] Histoire deux" in email.text
    assert "IA (2 sujets traités)" in email.text and "Robots (1 sujet traité)" in email.text
    assert "Mois" in outputs["year page"] and "février" in outputs["year page"]
    assert "1 numéro." in outputs["year of one"]
    assert "Les 2 plus récents des 3 numéros" in outputs["long archive"]
    assert ("Vous recevez ceci car vous êtes abonné à L'Hebdo IA sur "
            "https://news.example.org/ai/ ." in outputs["email"])


def test_the_words_are_escaped_like_other_operator_text(tmp_path):
    config = load_config(write_config(tmp_path, words={
        "also_covered": "Aussi <b>chez</b> & ailleurs :",
        "subscribed": "Abonné·e <i>à</i> {title} via {site_url}"}))
    issue = make_issue(config, dt.date(2021, 2, 22), {"AI": [article("un")]})
    email = render_email(issue, config)
    page = render_issue_page(issue, config, previous=None, next=None).decode()
    for html in (page, email.html):
        assert "Aussi &lt;b&gt;chez&lt;/b&gt; &amp; ailleurs :" in html
        assert "<b>chez" not in html
    assert "Abonné·e &lt;i&gt;à&lt;/i&gt; AI Weekly via <a " in email.html
    assert "Aussi <b>chez</b> & ailleurs :" in email.text  # text: no escaping
    assert "Abonné·e <i>à</i> AI Weekly via https://news.example.org/ai/" in email.text


def test_the_english_pages_keep_english_words(fr_config):
    """The signup pages say lang="en": their words are English whatever `words:` says."""
    signup = SignupPages(fr_config, b"s" * 32, "/")
    body = b"".join(signup.page(lambda status, headers: None, HTTPStatus.OK,
                                "public_message.html.j2", "inbox")).decode()
    assert '<html lang="en">' in body
    assert "Skip to content" in body and "All issues of L&#39;Hebdo IA" in body
    assert "Aller au contenu" not in body


def test_english_is_the_default_and_unchanged(tmp_path):
    config = load_config(write_config(tmp_path))
    issue = make_issue(config, dt.date(2021, 2, 22), {"AI": [article("un")]})
    email = render_email(issue, config)
    assert email.subject == "AI Weekly: February 22, 2021"
    assert "In this issue:" in email.text and "Unsubscribe: " in email.text
    assert long_date(dt.date(2020, 12, 28)) == "December 28, 2020"


def problems(tmp_path: Path, words: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, words=words))
    return caught.value.errors


def test_an_unknown_key_is_refused_naming_it_and_the_known_ones(tmp_path):
    [error] = problems(tmp_path, {"in_this_isue": "Dans ce numéro"})
    assert error.startswith('words.in_this_isue: unknown key; did you mean "in_this_issue"?')
    assert all(key in error for key in WORDS_KEYS)


def test_a_phrase_missing_its_placeholder_is_refused(tmp_path):
    assert problems(tmp_path, {"all_issues_of": "Tous les numéros"}) == [
        'words.all_issues_of: lacks {title}, which the phrase must say (the default is '
        '"All issues of {title}")']
    assert problems(tmp_path, {"date_format": "{day} {month}"}) == [
        'words.date_format: lacks {year}, which the phrase must say (the default is '
        '"{month} {day}, {year}")']


def test_an_unknown_placeholder_and_wrong_types_are_refused(tmp_path):
    errors = problems(tmp_path, {"all_issues": "Tous les {titre}", "previous": 3,
                                 "months": ["janvier", "février"], "next": ""})
    assert errors == [
        "words.all_issues: unknown placeholder {titre} (this phrase takes: none)",
        "words.previous: expected a phrase (a non-empty string), got 3",
        'words.next: expected a phrase (a non-empty string), got ""',
        "words.months: expected a list of the 12 month names, January first, got a list",
    ]
    assert problems(tmp_path, {"footer_or": "ou\x07"}) == [
        "words.footer_or: holds a control character; write the phrase as plain text"]
    assert problems(tmp_path, ["in_this_issue"])[0].startswith("words: expected a mapping")
