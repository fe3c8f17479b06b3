"""Ctrl-C during ``newsletter subscribers import`` says that nothing was imported and that
the same command again is safe, rather than the generic "no file is left half-written" (the
import writes a database, not files): its one transaction is rolled back."""

from __future__ import annotations

from conftest import make_config, run
from newsletter.delivery import subscriber_csv


def test_an_interrupted_import_imports_nothing_and_says_so(tmp_path, monkeypatch):
    make_config(tmp_path, state_dir="state")
    csv = tmp_path / "people.csv"
    csv.write_text("email,name\n" + "".join(f"p{i}@example.org,P{i}\n" for i in range(50)),
                   encoding="utf-8")
    merge = subscriber_csv.merge_subscriber
    merged: list[str] = []

    def merge_then_ctrl_c(db, subscriber, **options):  # noqa: ANN001, ANN202
        if len(merged) == 20:  # Ctrl-C midway, 20 rows in the transaction
            raise KeyboardInterrupt
        merged.append(subscriber.email)
        return merge(db, subscriber, **options)

    monkeypatch.setattr(subscriber_csv, "merge_subscriber", merge_then_ctrl_c)
    result = run(tmp_path, "subscribers", "import", str(csv))
    assert result.exit_code == 130, result.output
    assert (f"Interrupted: nothing was imported from {csv} (its rows go in all at once, or not "
            "at all); running the same command again is safe.") in result.output
    assert "half-written" not in result.output
    monkeypatch.setattr(subscriber_csv, "merge_subscriber", merge)
    listed = run(tmp_path, "subscribers", "list")
    assert "@example.org" not in listed.output, listed.output
    again = run(tmp_path, "subscribers", "import", str(csv))
    assert again.exit_code == 0 and "Imported 50 subscriber(s)" in again.output, again.output
