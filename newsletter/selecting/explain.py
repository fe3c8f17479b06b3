"""``newsletter explain``: why every article file is, or is not, in an issue."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from ..core.codec import utc_instant
from ..core.models import EmptyTopic, Fold, Issue, Selection, Status, Verdict
from ..core.timing import minute_text

# The order an editor reads the report in: what is in, what nearly was, what never could be.
GROUPS = (
    (Status.PLACED, "Placed"),
    (Status.FOLDED, "Folded into a placed article (the same story)"),
    (Status.BELOW_CUT, "Below the cut"),
    (Status.BELOW_MIN_QUALITY, "Below min_quality"),
    (Status.NO_TOPIC, "No configured topic"),
    (Status.ALREADY_PUBLISHED, "Already featured in a published issue"),
    (Status.EXCLUDED, "Excluded by the editor"),
    (Status.INVALID, "Invalid files (skipped)"),
    (Status.OUTSIDE_WINDOW, "Outside the window"),
)


def verdict_to_dict(verdict: Verdict) -> dict[str, Any]:
    return {
        "id": verdict.id,
        "path": verdict.path,
        "status": verdict.status,
        "title": verdict.title,
        "published": utc_instant(verdict.published),
        "quality": verdict.quality,
        "topic": verdict.topic,
        "position": verdict.position,
        "folded_into": verdict.folded_into,
        "fold": fold_to_dict(verdict.fold),
        "pinned": verdict.pinned,
        "ranks": [{"topic": t, "rank": r, "of": n} for t, r, n in verdict.ranks],
        "reason": verdict.reason,
    }


def fold_to_dict(fold: Fold | None) -> dict[str, Any] | None:
    """Why an article was folded: the rule and, for similar text, the score and its words."""
    if fold is None:
        return None
    return {"rule": fold.rule, "score": fold.score, "terms": list(fold.terms)}


def explain_json(selection: Selection, published: Issue | None = None) -> str:
    return "".join(explain_json_chunks(selection, published))


def explain_json_chunks(selection: Selection, published: Issue | None = None
                        ) -> Iterator[str]:
    """The JSON report in pieces, one article at a time, exactly as ``json.dumps(report,
    indent=2)`` writes it: printing 100,000 verdicts never holds the whole text in memory.
    ``published``: the issue as published, when it is (its pin and exclude entries, null
    when its issue.json kept no record of them)."""
    issue = selection.issue
    counts = Counter(v.status for v in selection.verdicts)  # one pass over a million
    head: dict[str, Any] = {
        "slug": issue.slug,
        "window": {"start": issue.window.start.isoformat(), "end": issue.window.end.isoformat(),
                   "timezone": issue.window.timezone.key},
        "counts": {status: counts[status] for status, _ in GROUPS},
    }
    if published is not None:
        head["published_with"] = {
            key: None if entries is None else list(entries)
            for key, entries in (("pin", published.pins), ("exclude", published.excludes))}
    head["articles"] = []
    text = json.dumps(head, indent=2, ensure_ascii=False)
    if not selection.verdicts:
        yield text + "\n"
        return
    yield text[:-len("[]\n}")] + "["
    for number, verdict in enumerate(selection.verdicts):
        item = json.dumps(verdict_to_dict(verdict), indent=2, ensure_ascii=False)
        yield ("," if number else "") + "\n    " + item.replace("\n", "\n    ")
    yield "\n  ]\n}\n"


def explain_text(selection: Selection, config_name: str = "the configuration",
                 notes: Sequence[str] = ()) -> str:
    """The report; ``notes``: lines about the issue under its heading (a published issue's)."""
    issue = selection.issue
    window = issue.window
    lines = [
        f"{issue.title}, issue {issue.slug}",
        f"Window: {minute_text(window.start)} to {minute_text(window.end)} "
        f"{window.timezone.key} (end excluded)",
        f"{len(selection.verdicts)} article files",
        *notes,
    ]
    if selection.empty_topics:
        lines += ["", f"Configured topics with nothing placed ({len(selection.empty_topics)})",
                  *empty_topic_lines(selection.empty_topics, config_name)]
    for status, heading in GROUPS:
        group = [v for v in selection.verdicts if v.status == status]
        if status == Status.PLACED:
            group.sort(key=lambda v: (_section_order(selection, v.topic), v.position))
        elif status == Status.BELOW_CUT:
            group.sort(key=lambda v: (_section_order(selection, v.ranks[0][0]), v.ranks[0][1]))
        if not group:
            continue
        lines += ["", f"{heading} ({len(group)})"]
        for verdict in group:
            when = (minute_text(verdict.published.astimezone(window.timezone), zone=True)
                    if verdict.published else "")
            detail = f"  quality {verdict.quality}, {when}" if verdict.published else ""
            lines.append(f"  {verdict.id}: {verdict.reason}{detail}")
            if verdict.title:
                lines.append(f"      {verdict.title}")
    return "\n".join(lines) + "\n"


def empty_topic_lines(empty_topics: Iterable[EmptyTopic], config_name: str,
                      where: str = "the window") -> list[str]:
    """A line for each configured topic left without a section (no article in ``where``
    has it: an issue's window, or the corpus for check), naming the unconfigured topics
    spelt close to it: a topic misspelt in the config (``Canvas app`` for the articles'
    ``Canvas apps``) otherwise just never shows up."""
    lines = []
    for empty in empty_topics:
        line = f"  {empty.name}: 0 (no article in {where} to place in it"
        if empty.featured:  # the window has some: say why none is placed
            line += (f": {_articles(empty.featured)} in it with this topic "
                     f"{'was' if empty.featured == 1 else 'were'} featured in an earlier "
                     "issue already")
        if empty.near:
            spelt = " or ".join(f'{count} {"article has" if count == 1 else "articles have"} '
                                f'"{name}"' for name, count in empty.near)
            line += (f"; {spelt}: a topic takes only articles with its exact name, case and "
                     f"spacing aside, so write that name in the topics of {config_name} if it "
                     "is the one meant")
        lines.append(line + ")")
    return lines


def _articles(count: int) -> str:
    return f"{count} article" if count == 1 else f"{count} articles"


def _section_order(selection: Selection, topic: str | None) -> int:
    for index, section in enumerate(selection.issue.sections):
        if section.topic == topic:
            return index
    return len(selection.issue.sections)
