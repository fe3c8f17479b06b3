"""``newsletter subscribers``: import, add, remove, list and export, through the command line
as a user types it, against the SQLite state under state_dir and against PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from conftest import StateBackend, run, state_sql, write_config
from newsletter.core.config import Config, load_config
from newsletter.core.errors import NewsletterError
from newsletter.delivery.subscribers import AddressError, normalize_address
from newsletter.state.database import open_location, schema_version
from newsletter.state.location import location


@pytest.fixture
def folder(tmp_path: Path, state_backend: StateBackend) -> Path:
    write_config(tmp_path, topics=["AI", "Robotics", "Computer Vision"])
    return tmp_path


def listing(folder: Path) -> list[dict]:
    result = run(folder, "subscribers", "list", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def write_csv(folder: Path, text: str, name: str = "people.csv") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_import_reports_bad_rows_by_line_and_takes_the_good_ones(folder: Path) -> None:
    path = write_csv(folder, (
        "email,name,topics\n"
        "ada@example.org,Ada Lovelace,AI;Robotics\n"
        "not-an-address,Nobody,\n"                        # line 3
        '"grace@example.org","Hopper, Grace",computer vision\n'
        "alan@example.org,Alan,Robotcs\n"                 # line 5: unknown topic
        "\n"
        "x@example.org,X,AI,too,many\n"                   # line 7
        "ada@EXAMPLE.org,,AI\n"))                        # a duplicate of line 2
    result = run(folder, "subscribers", "import", str(path))
    assert result.exit_code == 1
    assert f"{path}: line 3: not-an-address: " in result.output
    assert f'{path}: line 5: alan@example.org: unknown topic "Robotcs"' in result.output
    assert 'did you mean "Robotics"?' in result.output
    assert f"{path}: line 7: 5 fields, but the header has 3" in result.output
    assert "Imported 2 subscriber(s)" in result.output
    assert listing(folder) == [
        {"email": "ada@example.org", "name": "Ada Lovelace", "topics": ["AI", "Robotics"],
         "status": "active", "source": "import", "confirmed_at": None},
        {"email": "grace@example.org", "name": "Hopper, Grace", "topics": ["Computer Vision"],
         "status": "active", "source": "import", "confirmed_at": None},
    ]


def test_import_is_one_transaction(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import newsletter.delivery.subscriber_csv as subscriber_csv

    rows = "".join(f"p{i}@example.org,Person {i},\n" for i in range(300))  # a trailing comma
    path = write_csv(folder, "email,name\n" + rows)
    real = subscriber_csv.merge_subscriber
    written: list[str] = []

    def failing_at_the_201st(db, new, **options):  # noqa: ANN001, ANN202 - a fault
        if len(written) == 200:
            raise NewsletterError("the disk is full")
        written.append(new.email)
        return real(db, new, **options)

    monkeypatch.setattr(subscriber_csv, "merge_subscriber", failing_at_the_201st)
    failed = run(folder, "subscribers", "import", str(path))
    assert failed.exit_code == 1 and "the disk is full" in failed.output, failed.output
    assert len(written) == 200 and listing(folder) == []  # all or nothing
    monkeypatch.undo()

    result = run(folder, "subscribers", "import", str(path))
    assert result.exit_code == 0, result.output
    assert "Imported 300 subscriber(s)" in result.output and "300 added" in result.output
    assert len(listing(folder)) == 300


def test_a_wrong_header_is_refused_before_anything_goes_in(folder: Path) -> None:
    result = run(folder, "subscribers", "import",
                 str(write_csv(folder, "mail,name\nada@example.org,Ada\n")))
    assert result.exit_code == 1
    assert "line 1: expected the header email,name[,topics]" in result.output
    assert listing(folder) == []


def test_the_domain_is_case_insensitive_the_local_part_is_not() -> None:
    assert normalize_address(" Ada@Example.ORG ") == "Ada@example.org"
    assert normalize_address("ada@example.org") != normalize_address("Ada@example.org")
    assert normalize_address("zoë@bücher.example".replace("zoë", "zoe")) == \
        "zoe@xn--bcher-kva.example"
    for bad in ("", "ada", "ada@", "@example.org", "a b@example.org", "ada@example..org"):
        with pytest.raises(AddressError):
            normalize_address(bad)


def test_add_merges_and_resubscribes_import_never_does(folder: Path) -> None:
    assert run(folder, "subscribers", "add", "Ada@Example.org", "--name", "Ada",
               "--topics", "ai").output == "Ada@example.org: added.\n"
    assert run(folder, "subscribers", "add", "Ada@EXAMPLE.ORG", "--name",
               "Ada L.").output == "Ada@example.org: updated.\n"
    [ada] = listing(folder)
    assert ada == {"email": "Ada@example.org", "name": "Ada L.", "topics": ["AI"],
                   "status": "active", "source": "cli", "confirmed_at": None}

    config = load_config(folder / "newsletter.yaml")
    state_sql(config, "UPDATE subscribers SET status = 'unsubscribed'")
    result = run(folder, "subscribers", "import",
                 str(write_csv(folder, "email,name\nAda@example.org,Ada\n")))
    assert result.exit_code == 0 and "1 kept unsubscribed" in result.output
    assert listing(folder)[0]["status"] == "unsubscribed"
    result = run(folder, "subscribers", "add", "Ada@example.org")
    assert result.output == "Ada@example.org: resubscribed.\n"
    assert listing(folder)[0]["status"] == "active"


def test_rows_giving_one_subscriber_two_statuses_are_named_and_nobody_is_resubscribed(
        folder: Path) -> None:
    """A file that says Ada left and that she is active (under another case of her address,
    one subscriber) names both lines and what to do, and imports her as having left, even
    where she was active: the file cannot say which is true, and an import never
    re-subscribes. The same for one address written alike on both lines; a row without a
    status says nothing of it, and rows that agree are a plain duplicate."""
    assert run(folder, "subscribers", "add", "ada@example.org").exit_code == 0
    path = write_csv(folder, (
        "email,name,topics,status\n"
        "Ada@example.org,Ada,,unsubscribed\n"               # line 2
        "bob@example.org,,,active\n"
        "ada@example.org,,AI,active\n"                      # line 4: Ada again, another case
        "cy@example.org,,,active\n"                         # line 5
        "cy@example.org,,,bounced\n"                        # line 6
        "dee@example.org,,,unsubscribed\n"
        "dee@example.org,Dee,,\n"                           # no status: no conflict
        "bob@example.org,Bob,,active\n"))                   # agrees: a duplicate
    result = run(folder, "subscribers", "import", str(path))
    assert result.exit_code == 1, result.output
    said = result.output.splitlines()
    assert said[0] == "Imported 4 subscriber(s) from " + str(path) + ": 1 updated, 3 added."
    assert said[1] == ("Ada@example.org: merged into ada@example.org, the same mailbox (they "
                       "differ only in case)")
    assert said[2:] == [
        f"{path}: lines 2 and 4: one subscriber (the addresses differ only in case) given "
        "different statuses: Ada@example.org unsubscribed on line 2, ada@example.org active "
        "on line 4. Imported as unsubscribed: a row says they left, and an import never "
        "re-subscribes someone who left; correct the file to give them one status, and if "
        "they asked to come back: newsletter subscribers add ada@example.org",
        f"{path}: lines 5 and 6: one subscriber given different statuses: cy@example.org "
        "active on line 5, cy@example.org bounced on line 6. Imported as bounced: a row says "
        "they left, and an import never re-subscribes someone who left; correct the file to "
        "give them one status, and if they asked to come back: newsletter subscribers add "
        "cy@example.org",
        "2 subscriber(s) given different statuses by the file, imported as having left "
        "(above)."]
    assert {p["email"]: p["status"] for p in listing(folder)} == {
        "ada@example.org": "unsubscribed", "bob@example.org": "active",
        "cy@example.org": "bounced", "dee@example.org": "unsubscribed"}


def test_a_bounce_and_an_unsubscribe_in_one_file_keep_the_unsubscribe_and_name_each_first_line(
        folder: Path) -> None:
    """Rows saying one reader bounced and unsubscribed: the unsubscribe (their own choice)
    stands, and the problem names the first line giving each status, as many lines as there
    are statuses (a status repeated further down adds no line)."""
    path = write_csv(folder, (
        "email,name,topics,status\n"
        "eve@example.org,,,bounced\n"                       # line 2
        "eve@example.org,,,unsubscribed\n"                  # line 3
        "eve@example.org,,,bounced\n"                       # line 4: said on line 2 already
        "fay@example.org,,,active\n"                        # line 5
        "fay@example.org,,,bounced\n"                       # line 6
        "fay@example.org,,,unsubscribed\n"))                # line 7
    result = run(folder, "subscribers", "import", str(path))
    assert result.exit_code == 1, result.output
    assert result.output.splitlines()[1:] == [
        f"{path}: lines 2 and 3: one subscriber given different statuses: eve@example.org "
        "bounced on line 2, eve@example.org unsubscribed on line 3. Imported as unsubscribed: "
        "the unsubscribe they chose stands over a bounce; correct the file to give them one "
        "status, and if they asked to come back: newsletter subscribers add eve@example.org",
        f"{path}: lines 5, 6 and 7: one subscriber given different statuses: fay@example.org "
        "active on line 5, fay@example.org bounced on line 6, fay@example.org unsubscribed on "
        "line 7. Imported as unsubscribed: a row says they left, and an import never "
        "re-subscribes someone who left; correct the file to give them one status, and if "
        "they asked to come back: newsletter subscribers add fay@example.org",
        "2 subscriber(s) given different statuses by the file, imported as having left "
        "(above)."]
    assert {p["email"]: p["status"] for p in listing(folder)} == {
        "eve@example.org": "unsubscribed", "fay@example.org": "unsubscribed"}


def test_a_status_cell_of_spaces_is_no_status(folder: Path) -> None:
    """Spaces left in the status column (a spreadsheet's padding) say no more than an empty
    cell: the row is imported as active, as with no status, not refused as a bad status; and
    beside a row that gives a status, it gives none to contradict it."""
    path = write_csv(folder, "email,name,topics,status\ngus@example.org,Gus,,   \n"
                             "hal@example.org,Hal,,\n"
                             "ivy@example.org,Ivy,,unsubscribed\nivy@example.org,,,   \n")
    result = run(folder, "subscribers", "import", str(path))
    assert result.exit_code == 0, result.output
    assert "different statuses" not in result.output, result.output
    assert {p["email"]: p["status"] for p in listing(folder)} == {
        "gus@example.org": "active", "hal@example.org": "active",
        "ivy@example.org": "unsubscribed"}


def test_add_refuses_a_bad_address_or_topic(folder: Path) -> None:
    result = run(folder, "subscribers", "add", "nobody")
    assert result.exit_code == 1 and "'nobody':" in result.output
    result = run(folder, "subscribers", "add", "a@example.org", "--topics", "Chips")
    assert result.exit_code == 1 and 'unknown topic "Chips"' in result.output
    assert listing(folder) == []


def test_list_shows_one_line_per_subscriber_with_its_status(folder: Path) -> None:
    refused = run(folder, "subscribers", "add", "b@example.org", "--name", "Bea\nNewline")
    assert refused.exit_code == 1 and "line break" in refused.output  # a name is one line
    run(folder, "subscribers", "add", "b@example.org", "--name", "Bea  Newline ")
    run(folder, "subscribers", "add", "a@example.org", "--topics", "AI;Robotics")
    result = run(folder, "subscribers", "list")
    assert result.exit_code == 0
    assert result.output == ("a@example.org\tactive\tAI;Robotics\n"
                             "b@example.org\tactive\tall topics\tBea Newline\n")


def test_remove(folder: Path) -> None:
    run(folder, "subscribers", "add", "a@example.org")
    assert run(folder, "subscribers", "remove", "A@EXAMPLE.org").exit_code == 1  # local part
    result = run(folder, "subscribers", "remove", "a@Example.org")
    assert result.exit_code == 0 and result.output == "a@example.org: removed.\n"
    assert listing(folder) == []
    again = run(folder, "subscribers", "remove", "a@example.org")
    assert again.exit_code == 1 and "not a subscriber" in again.output


def test_check_names_subscribers_of_a_topic_no_longer_configured(folder: Path) -> None:
    """``check``, run after the config lost a topic (renamed here), names the active or
    pending subscribers who chose it, as ``subscribers list`` and ``send`` do and in their
    words, with the fix: a warning, as no issue is wrong for it (exit 0). Without a state
    yet it creates none; a state it cannot read is said once, for every check of it."""
    config = load_config(folder / "newsletter.yaml")
    checked = run(folder, "check")
    assert checked.exit_code == 0 and "warning" not in checked.output, checked.output
    assert not state_created(config)
    for address, topics in (("ada@example.org", "AI;Computer Vision"),
                            ("grace@example.org", "Computer Vision"),
                            ("alan@example.org", "Robotics"),
                            ("bob@example.org", "Computer Vision")):
        assert run(folder, "subscribers", "add", address, "--topics", topics).exit_code == 0
    state_sql(config, "UPDATE subscribers SET status = 'unsubscribed' WHERE email LIKE 'bob%'")
    assert "warning" not in run(folder, "check").output
    write_config(folder, topics=["AI", "Robotics", "Computer Visions"])
    warning = ('warning: 2 subscriber(s) chose the topic "Computer Vision", which '
               'newsletter.yaml no longer has (renamed "Computer Visions"?), so no issue sends '
               "it to them: ada@example.org, grace@example.org. Put the topic back in topics, "
               'or give them their topics again: newsletter subscribers add EMAIL --topics "A;B"')
    assert run(folder, "subscribers", "list").stderr.splitlines() == [warning]
    checked = run(folder, "check")
    assert checked.exit_code == 0, checked.output
    assert [line for line in checked.stderr.splitlines() if "warning" in line] == [warning]
    state_sql(config, "PRAGMA user_version = 99" if config.state_url is None else
              "INSERT INTO newsletter_schema (version, applied) VALUES (99, 't')")
    checked = run(folder, "check")
    assert checked.exit_code == 0, checked.output
    said = [line for line in checked.stderr.splitlines() if "subscribers" in line]
    assert len(said) == 1 and said[0].startswith(
        f"warning: the subscribers in {location(config)} were not checked: "), said
    assert "written by a newer version of newsletter (schema 99" in said[0]


def state_created(config: Config) -> bool:
    """Whether ``config``'s state exists (its SQLite file, its PostgreSQL tables), looked at
    without creating it."""
    where = location(config)
    if where.path is not None:
        return where.path.exists()
    with open_location(where, migrate=False) as db:
        return schema_version(db) > 0


def test_export_then_import_elsewhere_gives_the_same_list(folder: Path, tmp_path_factory
                                                          ) -> None:
    path = write_csv(folder, ("email,name,topics\n"
                              'a@example.org,"Zoë, ""Z""",AI\n'
                              "b@example.org,,\n"))
    assert run(folder, "subscribers", "import", str(path)).exit_code == 0
    config = load_config(folder / "newsletter.yaml")
    state_sql(config, "UPDATE subscribers SET status = 'unsubscribed' WHERE email LIKE 'b%'")
    exported = folder / "export.csv"
    result = run(folder, "subscribers", "export", str(exported))
    assert result.exit_code == 0 and "Exported 2 subscriber(s)" in result.output
    assert exported.read_text("utf-8").splitlines()[0] == "email,name,topics,status"

    other = tmp_path_factory.mktemp("other")  # elsewhere: a SQLite file, whatever this one is
    write_config(other, topics=["AI", "Robotics", "Computer Vision"], state_url=None)
    assert run(other, "subscribers", "import", str(exported)).exit_code == 0
    assert listing(other) == listing(folder)
    assert listing(other)[1]["status"] == "unsubscribed"  # stays unsubscribed


def test_the_state_lives_in_state_dir_beside_the_config(tmp_path: Path) -> None:
    folder = tmp_path
    write_config(folder)
    run(folder, "subscribers", "add", "a@example.org")
    assert (folder / ".newsletter" / "newsletter.sqlite3").is_file()
    with sqlite3.connect(folder / ".newsletter" / "newsletter.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
