"""The times a retry is planned for are said in the schedule's time zone, as every other line
of the scheduler says its times: a retry capped at schedule.catch_up_hours (a time computed
from the fire time, in that zone) and one after a delay (computed from the clock, in UTC)
read alike."""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading

from conftest import make_config, write_article
from newsletter.core.timing import schedule_cron
from newsletter.schedule.job import IssueJob

FIRE = dt.datetime(2026, 12, 2, 12, 40, tzinfo=dt.UTC)  # 07:40 EST


def test_every_retry_is_said_in_the_schedules_zone(tmp_path, caplog):
    write_article(tmp_path / "articles", "one", quality=80)
    config = make_config(tmp_path, state_dir="state", timezone="America/New_York",
                         schedule={"cron": "40 7 * * *", "catch_up_hours": 0.05,
                                   "send": True})
    cron = schedule_cron(config)
    job = IssueJob(None, lambda: config, config, strict=False, clock=lambda: FIRE,
                   guard=lambda step: None, stop=threading.Event())
    with caplog.at_level(logging.INFO, "newsletter"):
        job.plan_retry(config, cron, FIRE + dt.timedelta(seconds=5))  # after 1 minute
        job.plan_retry(config, cron, FIRE + dt.timedelta(minutes=1, seconds=5))  # capped
    said = re.findall(r"is tried again at (\S+ \S+ \S+) \(retry (\d)", caplog.text)
    assert said == [("2026-12-02 07:41:05 EST", "1"), ("2026-12-02 07:42:00 EST", "2")], \
        caplog.text
    assert "UTC" not in caplog.text, caplog.text
