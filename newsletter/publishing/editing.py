"""The editor's overrides.yaml applied to a selected issue, and what the editor is told
about it: a pin an earlier issue featured, a topic's intro that shows nowhere, the entries
that do not apply (``explain`` and the preview go on without them, saying so)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import jinja2

from ..core.config import Config
from ..core.errors import NewsletterError, NotAsPublished
from ..core.folders import newsletter_command
from ..core.models import Article, Issue, IssueStatus
from ..core.safeyaml import flow_item
from ..core.text import topic_key
from ..core.urls import canonical_url
from ..selecting.overrides import OVERRIDES_FILE, Overrides, load_overrides, unapplied
from .issuefile import issue_json
from .issues import IssueStore
from .rendered import changed_email_files, changed_files

# What explain and the preview add to each problem of an entry they leave out.
NOT_APPLIED = ("not applied here; `build`, `publish` and the schedule refuse the file until "
               "it is fixed")


def with_intros(issue: Issue, overrides: Overrides) -> Issue:
    """The editor's intro, each topic's intro under its heading, the subject; the pins and
    excludes applied (a draft's issue.json keeps them for publish to compare)."""
    by_topic = {topic_key(topic): text for topic, text in overrides.topic_intros}
    sections = tuple(replace(s, intro=by_topic.get(topic_key(s.topic), ()))
                     for s in issue.sections)
    return replace(issue, intro=overrides.intro, subject=overrides.subject, sections=sections,
                   intro_in_filtered=overrides.intro_in_filtered, pins=overrides.pin,
                   excludes=overrides.exclude)


def unshown_intros(issue: Issue, overrides: Overrides, topics: Sequence[str]
                   ) -> tuple[str, ...]:
    """A warning for each topic intro of a configured topic that has no section in this
    issue (nothing placed under it): the editor's text would go out nowhere, silently. An
    empty issue (nothing to build) shows none of them, and says so itself. ``topics``: the
    configured topic names (an intro of another topic is an error of its own)."""
    if not issue.sections:
        return ()
    present = {topic_key(section.topic) for section in issue.sections}
    configured = {topic_key(topic) for topic in topics}
    return tuple(f'topic_intros: "{topic}" has no section in this issue (no article is '
                 "placed under it), so its intro is shown nowhere; pin an article of the "
                 "topic to give it one, or remove the intro"
                 for topic, _text in overrides.topic_intros
                 if topic_key(topic) in configured and topic_key(topic) not in present)


def pinned_again(overrides: Overrides, pinned: Sequence[Article], store: IssueStore,
                 issue_date: dt.date) -> tuple[str, ...]:
    """A warning for each pinned article an earlier published issue featured already."""
    if not overrides.pin:
        return ()  # without a pin, no published issue needs to be looked at
    featured = store.featured_in(issue_date)
    warnings = []
    for index, entry in overrides.numbered("pin"):
        article = next((a for a in pinned if entry in (a.id, a.url)
                        or canonical_url(entry) == a.canonical_url), None)
        if article is not None and article.canonical_url in featured:
            warnings.append(f'pin[{index}]: "{entry}" was featured in issue '
                            f"{featured[article.canonical_url]} already; it is placed again")
    return tuple(warnings)


def edits_since_published(config: Config, issue: Issue) -> tuple[str, ...]:
    """The keys of the issue's overrides.yaml that the published ``issue`` does not reflect:
    edited after it went out (the schedule published it while the editor was at it, or a
    typo fixed since). Only a rebuild with --force brings them in; () for a draft."""
    if issue.status != IssueStatus.PUBLISHED:
        return ()
    return tuple(unapplied(issue, load_overrides(config.output / issue.slug / OVERRIDES_FILE)))


def overrides_warnings(config: Config, issue_date: dt.date) -> tuple[str, ...]:
    """The warnings of the issue's overrides.yaml (an unknown key, ignored), each as build
    and explain give it, for publish to give alike: the key may have been added since the
    build. () when the file cannot be read, which publish reports itself."""
    path = config.output / issue_date.isoformat() / OVERRIDES_FILE
    try:
        return tuple(f"{path}: {warning}"
                     for warning in load_overrides(path, partial=True).warnings)
    except NewsletterError:
        return ()


def published_with(issue: Issue) -> str:
    """What shaped a published issue of the editor's pins and excludes, as explain and the
    preview say it ("" for a draft): the entries its issue.json records."""
    if issue.status != IssueStatus.PUBLISHED:
        return ""
    if issue.pins is None or issue.excludes is None:
        return "by a version that kept no record of its pins and excludes"
    return f"with {_entries(issue)}"


def _entries(issue: Issue) -> str:
    """The pin and exclude entries an issue was selected with, as the editor wrote them."""
    entries = [f"{key}: [{', '.join(flow_item(value) for value in values)}]"
               for key, values in (("pin", issue.pins), ("exclude", issue.excludes)) if values]
    return "; ".join(entries) if entries else "no pin or exclude"


def published_lines(config: Config, issue: Issue, rebuilt: Issue | None = None,
                    refused: int = 0) -> list[str]:
    """explain's lines about a published issue: what it was built with, and the edits of
    overrides.yaml it lacks (the report is what rebuilding it would give: ``rebuilt``, when
    given, says whether that is a correction or only a new record; ``refused``: how many
    entries build refuses, which the report leaves out, naming them below)."""
    if issue.status != IssueStatus.PUBLISHED:
        return []
    lines = [f"Published {published_with(issue)}"]
    edits = edits_since_published(config, issue)
    same = placing_nothing(config, issue, edits, rebuilt)
    if same:
        lines.append(f"  {same}")
    elif edits:
        report = "" if refused else "this report is what rebuilding it gives; "
        emptied = rebuilt is not None and not rebuilt.sections
        lines.append(f"  {OVERRIDES_FILE} changed since ({', '.join(edits)}): {report}"
                     f"{correcting(config.path, issue.slug, refused, emptied=emptied)}")
    return lines


def correcting(config_path: Path, slug: str, refused: int = 0, *, emptied: bool = False) -> str:
    """How the published issue ``slug`` gets the edits of its overrides.yaml it lacks, as
    explain, the preview and publish all say it: `build --force` corrects it, once the
    ``refused`` entries (how many build refuses: a typo, each named with its problem) are
    fixed, as --force refuses the file until then. ``emptied``: the edits leave no article
    in it (a takedown of every one), which --force refuses too: naming it would send the
    editor round in a circle."""
    force = f"`{newsletter_command(config_path, f'build --date {slug} --force')}`"
    if emptied and not refused:
        return (f"the edits leave no article in it, and a published issue is corrected, never "
                f"emptied ({force} refuses it): keep at least one article (take an entry "
                "out of exclude, or pin another article of its window), then run it; or "
                "undo the edit to leave the issue as it is")
    if not refused:
        return f"{force} corrects the published issue"
    entries = ("the entry `build` refuses (named with its problem)" if refused == 1 else
               f"the {refused} entries `build` refuses (each named with its problem)")
    return (f"fix {entries} first: {force} refuses the file until then, and then corrects "
            "the published issue")


def kept_as_it_was(config: Config, issue: Issue) -> str:
    """What publish (and the schedule's repair of a run) says of the ``issue`` that was
    published already, which it leaves as it was (its email files and its page): the files
    a rebuild would change, as build names them (a template, the theme or the config changed
    since), and how to correct it; "" when there are none."""
    others = IssueStore(config.output).published_around(issue.date)  # its page's links
    try:
        changed = changed_files(config, issue, others)
    except (NewsletterError, jinja2.TemplateError) as error:  # what is out stands all the same
        return (f"it stays as it was; whether a rebuild would change it is not known, as "
                f"rendering it fails ({error}): `newsletter check` names the template")
    if not changed:
        return ""
    return (f"it stays as it was, though rebuilding it would change {', '.join(changed)}: "
            f"{correcting(config.path, issue.slug)} (its email is not sent again)")


def unlike_published(config: Config, issue: Issue) -> NotAsPublished | None:
    """Why a send of the published ``issue`` must not go out, or None: its email files are
    not what rendering it now gives, as each subscriber's message is rendered when it is
    sent. A subscriber's choice of topics and their links' tokens are no difference: the
    files hold the whole email, which is compared."""
    changed = changed_email_files(config, issue)
    if not changed:
        return None
    slug = issue.slug
    return NotAsPublished(
        f"issue {slug}: its email as published is not what rendering it now gives (a "
        f"template, the theme or the config changed since it was published): "
        f"{', '.join(changed)} in {config.output} differ",
        f"undo the change, or correct the published issue first "
        f"({correcting(config.path, slug)}; the subscribers not sent it yet then get the "
        "corrected email, those already sent are not sent again)",
        tuple(config.output / name for name in changed), slug)


def placing_nothing(config: Config, published: Issue, edits: Sequence[str],
                    rebuilt: Issue | None) -> str:
    """What explain and the preview say of ``edits`` (the keys of overrides.yaml changed
    since ``published`` went out) when ``rebuilt``, the issue selected again as build would
    select it, is the same issue: --force would only update the record. "" when the edits
    are a correction, or there are none, or no ``rebuilt`` tells (None: an entry that build
    refuses was left out to select it)."""
    if not edits or rebuilt is None or not rebuilds_the_same(config, published, rebuilt):
        return ""
    return (f"{OVERRIDES_FILE} changed since ({', '.join(edits)}), placing nothing "
            "differently: rebuilding it gives the same issue; `newsletter build --date "
            f"{published.slug} --force` updates the record, dating no correction")


def rebuilds_the_same(config: Config, published: Issue, rebuilt: Issue) -> bool:
    """Whether rebuilding the ``published`` issue gives the same issue, as ``build`` judges
    it: ``rebuilt`` (the issue selected again) is the published one but for the pins and
    excludes it records (edits of overrides.yaml that place nothing differently), and every
    file of its folder renders as it is on disk: a template, theme or config changed since
    would change what readers see, and build would ask for --force to correct it."""
    same = replace(rebuilt, status=published.status, published_at=published.published_at,
                   updated_at=published.updated_at, pins=published.pins,
                   excludes=published.excludes)
    if issue_json(same) != issue_json(published):  # the selection differs: nothing to render
        return False
    others = IssueStore(config.output).published_around(published.date)  # its page's links
    return not changed_files(config, same, others)


def record_only(stored: Issue, rebuilt: Issue) -> str:
    """What build and publish say of a published issue whose rebuild differs from it only
    in the pins and excludes its issue.json records (entries edited since that place nothing
    differently): readers would see nothing new, so there is no correction to offer."""
    return (f"only the record of the overrides in its issue.json differs (published "
            f"{published_with(stored)}; {OVERRIDES_FILE} now gives {_entries(rebuilt)}), as "
            "they place nothing differently: nothing to correct. "
            f"`newsletter build --date {stored.slug} --force` updates the record, dating no "
            "correction")
