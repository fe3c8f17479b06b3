"""An issue already sent to every subscriber by hand, then a template, the theme or the
config changed: nobody is left whom the email that differs could reach, so neither
``newsletter send D`` nor the scheduled run refuses; each says the issue was already sent to
everyone, and the run succeeds instead of waiting for a person. Made with aiosmtpd on
127.0.0.1 and the real command."""

from __future__ import annotations

import datetime as dt
import logging

from conftest import make_config, run, write_article
from newsletter.schedule.runs import check_due, run_pass
from scheduler_support import FIRE
from sending_support import ISSUE, add_people
from smtp_support import Recorder, smtp_server

PEOPLE = ["ada@example.org", "bob@example.org"]
SCHEDULE = {"cron": "0 7 * * mon", "catch_up_hours": 24, "send": True}
SENT = (f"Issue {ISSUE} was already sent to everyone (sent: 2 sent, 0 bounced, none left): "
        "nothing to send.")


def test_an_issue_sent_to_everyone_is_not_refused_after_its_theme_changed(
        tmp_path, secret, caplog):
    write_article(tmp_path / "articles", "one", quality=80)
    recorder = Recorder()
    with smtp_server(recorder) as port:
        smtp = {"host": "127.0.0.1", "port": port}
        config = make_config(tmp_path, state_dir="state", schedule=SCHEDULE, smtp=smtp)
        add_people(config, tmp_path, [f"{address},," for address in PEOPLE])
        assert run(tmp_path, "build", "--date", ISSUE.isoformat(), "--publish").exit_code == 0
        assert run(tmp_path, "send", ISSUE.isoformat()).exit_code == 0
        config = make_config(tmp_path, state_dir="state", schedule=SCHEDULE, smtp=smtp,
                             theme={"footer": "Changed after it was sent"})
        again = run(tmp_path, "send", ISSUE.isoformat())
        assert again.exit_code == 0, again.output
        assert SENT in again.output and "Nothing was sent" not in again.output
        with caplog.at_level(logging.INFO, "newsletter"):
            passed = run_pass(config, FIRE + dt.timedelta(minutes=2))
    assert passed, caplog.text
    assert SENT in caplog.text and "trying it again cannot help" not in caplog.text
    assert sorted(address for address, _ in recorder.messages) == PEOPLE  # once each
    assert check_due(config, FIRE + dt.timedelta(minutes=3)).action == "done"
