"""Subscribers as CSV files: ``subscribers import`` and ``subscribers export``.

A file has a header line ``email,name[,topics[,status]]``. Import checks every row before
anything is written, reports each bad one by its line, and merges the good ones in one
transaction, as ``add`` merges one (:func:`~.subscribers.merge_subscriber`), except that an
import never re-subscribes an address that left. Rows of one file naming one subscriber (an
address in any case) merge too; when they give it different statuses, the one that sends
least stands and the rows are named, as the file says two things of one reader. Export
writes every subscriber but pending signups, with their status, so that importing the file
elsewhere keeps who left gone. Cells a spreadsheet would run as formulas are written escaped
and read back as they were.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.config import Config
from ..core.errors import NewsletterError
from ..publishing.output import write_atomic
from ..state.database import open_database
from .mailboxes import subscriber_key
from .subscribers import (
    AddressError,
    Subscriber,
    clean_name,
    list_subscribers,
    merge_subscriber,
    normalize_address,
    parse_topics,
    topics_text,
)

STATUSES = ("active", "unsubscribed", "bounced")  # what a CSV may say
HEADER = ("email", "name", "topics", "status")  # email and name required, in this order


@dataclass
class ImportReport:
    outcomes: dict[str, int] = field(default_factory=dict)  # added, updated, ... -> count
    problems: list[str] = field(default_factory=list)  # "line 7: ..." per bad row
    spellings: list[str] = field(default_factory=list)  # merged into another spelling
    conflicts: list[str] = field(default_factory=list)  # "lines 2 and 9: ..." per subscriber

    @property
    def imported(self) -> int:
        return sum(self.outcomes.values())


# A cell a spreadsheet would run as a formula (=, +, - or @ first; a tab or CR first also
# works in some): exported with a leading apostrophe, as OWASP advises for CSV injection,
# and read back without it. A cell that already starts with apostrophes before such a
# character gets one more, so that every cell reads back exactly as it was.
_FORMULA = re.compile(r"'*[=+\-@\t\r]")


def spreadsheet_safe(cell: str) -> str:
    return "'" + cell if _FORMULA.match(cell) else cell


def from_spreadsheet_safe(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and _FORMULA.match(cell) else cell


def _read_header(reader: Any, path: Path) -> list[str]:
    """The columns of the first line that is not blank, which must be our header; one that
    is not is refused naming its line in the file (blank lines before it counted)."""
    while True:
        line = reader.line_num + 1  # where the next record starts
        try:
            header = next(reader)
        except StopIteration:
            raise NewsletterError(f"{path}: empty; expected a header line email,name[,topics]"
                                  ) from None
        except csv.Error as error:
            raise NewsletterError(f"{path}: line {line}: not valid CSV ({error})") from None
        # A byte order mark starts a file, or where another began in files put together.
        columns = [cell.replace("\ufeff", "").strip().lower() for cell in header]
        if any(columns):
            break
    if columns[:2] == ["email", "name"] and columns[2:] in ([], ["topics"],
                                                            ["topics", "status"]):
        return columns
    raise NewsletterError(f"{path}: line {line}: expected the header email,name[,topics] (and "
                          f"optionally status), got {','.join(header)!r}{_header_hint(columns)}")


def _header_hint(columns: list[str]) -> str:
    """What is probably wrong with a header that is not ours: another separator (a
    spreadsheet set to a European locale writes ';'), or no name column."""
    if len(columns) == 1:
        for separator, what in ((";", "semicolons"), ("\t", "tabs")):
            if separator in columns[0]:
                return (f"; the file separates its columns with {what}: save it as CSV with "
                        "commas")
        if columns == ["email"]:
            return "; add a name column, which may stay empty: email,name"
    return ""


# Of the statuses rows of one file give one subscriber, the one that stands: an import never
# re-subscribes who left, so a leaving status wins over active (and unsubscribed, which the
# reader chose, over bounced).
_PRECEDENCE = ("unsubscribed", "bounced", "active")


Said = dict[str, tuple[int, str]]  # a status -> the first line giving it, the address there


def _conflict(said: Said, kept: str, stored: str) -> str:
    """The problem of one subscriber whom rows of the file give different statuses, imported
    as ``kept`` under the address ``stored``."""
    rows = sorted((line, address, status) for status, (line, address) in said.items())
    lines = [str(line) for line, _, _ in rows]
    spelt = ", ".join(f"{address} {status} on line {line}" for line, address, status in rows)
    case = (" (the addresses differ only in case)"
            if len({address for _, address, _ in rows}) > 1 else "")
    why = ("a row says they left, and an import never re-subscribes someone who left"
           if "active" in said else "the unsubscribe they chose stands over a bounce")
    return (f"lines {', '.join(lines[:-1])} and {lines[-1]}: one subscriber{case} given "
            f"different statuses: {spelt}. Imported as {kept}: {why}; correct the file to "
            "give them one status, and if they asked to come back: newsletter subscribers "
            f"add {stored}")


def parse_csv(text: str, config: Config, path: Path) -> tuple[dict[str, Subscriber],
                                                                list[str], dict[str, Said]]:
    """The good rows (duplicates merged, in file order), one problem per bad row, and the
    statuses of each subscriber whom rows give different ones, by the key of ``good`` (a
    blank status cell gives none)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    columns = _read_header(reader, path)
    good: dict[str, Subscriber] = {}
    problems: list[str] = []
    said: dict[str, Said] = {}
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            problems.append(f"line {line}: not valid CSV ({error})")
            break
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(columns) and any(cell.strip() for cell in row[len(columns):]):
            problems.append(f"line {line}: {len(row)} fields, but the header has "
                            f"{len(columns)} ({','.join(columns)})")
            continue
        cells = dict(zip(columns, (from_spreadsheet_safe(c) for c in row), strict=False))
        try:
            address = normalize_address(cells.get("email", ""))
            topics = parse_topics(cells.get("topics"), config)
            # A cell of spaces is as blank as an empty one: no status given, active.
            status = (cells.get("status") or "").strip().lower() or "active"
            if status not in STATUSES:
                raise AddressError('status: expected active, unsubscribed or bounced, got '
                                   f'"{status}"')
        except AddressError as error:
            email = cells.get("email", "").strip()
            problems.append(f"line {line}: {email or '(no address)'}: {error}")
            continue
        try:
            name = clean_name(cells.get("name"))
        except AddressError as error:
            problems.append(f"line {line}: {address}: {error}")
            continue
        new = Subscriber(address, name, topics, status)
        key = subscriber_key(address)
        if (cells.get("status") or "").strip():
            said.setdefault(key, {}).setdefault(status, (line, address))
        old = good.get(key)  # the file's first spelling is kept
        if old is not None:  # a duplicate within the file: merge (a blank cell gives nothing)
            union = set(old.topics) | set(topics)
            merged_topics = (tuple(t.name for t in config.topics if t.name in union)
                             if old.topics and topics else old.topics or topics)
            merged_status = next(s for s in _PRECEDENCE if s in (old.status, status))
            new = Subscriber(old.email, new.name or old.name, merged_topics, merged_status)
        good[key] = new
    return good, problems, {key: statuses for key, statuses in said.items()
                            if len(statuses) > 1}


def import_csv(config: Config, path: Path) -> ImportReport:
    """Import ``path``: every good row in one transaction; bad rows reported, not imported."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise NewsletterError(f"{path}: cannot be read ({error})") from None
    good, problems, conflicts = parse_csv(text, config, path)
    report = ImportReport(problems=problems)
    with open_database(config) as db, db.transaction():
        for key, subscriber in good.items():
            address, outcome = merge_subscriber(db, subscriber, reactivate=False)
            if key in conflicts:
                report.conflicts.append(_conflict(conflicts[key], subscriber.status, address))
            report.outcomes[outcome] = report.outcomes.get(outcome, 0) + 1
            if address != subscriber.email:
                report.spellings.append(f"{subscriber.email}: merged into {address}, the "
                                        "same mailbox (they differ only in case)")
    return report


def export_text(config: Config) -> tuple[bytes, int]:
    """Every subscriber, unsubscribed ones included (with their status, so that importing
    the file elsewhere keeps them unsubscribed), as CSV; and how many. Pending signups are
    left out: they have not confirmed."""
    subscribers = [s for s in list_subscribers(config) if s.status != "pending"]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    for s in subscribers:
        writer.writerow([spreadsheet_safe(cell) for cell in
                         (s.email, s.name, topics_text(s.topics), s.status)])
    return buffer.getvalue().encode("utf-8"), len(subscribers)


def export_csv(config: Config, path: Path, *, force: bool = False) -> int:
    """:func:`export_text` written atomically to ``path``; a file already there (a list of
    one's own, an earlier export) is refused unless ``force``."""
    if not force and (path.exists() or path.is_symlink()):
        raise NewsletterError(f"{path} exists already, and nothing was written: give "
                              "another file name, or --force to replace it")
    data, count = export_text(config)
    try:
        write_atomic(path.absolute(), data)
    except OSError as error:
        raise NewsletterError(f"{path}: cannot be written ({error})") from None
    return count
