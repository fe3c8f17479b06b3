"""Benchmark publishing one more issue after years of issues.

    python benchmarks/bench_archive.py --issues 10 1000 3000 [--workdir DIR]

For each size N it writes a project from the sample (its config and articles) whose output
folder already holds N published daily issues before 2021-03-01, each with 20 articles, 3
of them with other outlets' coverage (their issue.json and web page, as publishing leaves
them), then times `newsletter build --date 2021-03-01 --publish` as a fresh process (the
median of --repeat runs, each on a fresh copy of the folder), wall and CPU (user + system)
seconds: on a copy whose index of the published issues (in ``state_dir``) was made first,
by an ``explain``, as the publish before it leaves it, and on one without it (a copy's
files are not those the index was made from: every issue.json is read). It also times, in a
fresh process of its own, reading every published issue.json (the CPU seconds of
``IssueStore.featured_before`` without the index). It reports, per size, those times, the
files the publish wrote (their modification times changed) and the size of the archive's
front page and largest year page; then the ratio of each size's time to the smallest
size's, measured in this run. An archive whose cost follows the issues it shows, not every
issue ever published, keeps that ratio near 1; what still grows is a ``stat`` of every
issue.json and reading the index (about 1 KB an issue).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# The processes started below run this checkout's code, not whichever copy is installed
# (from a git worktree, the installed one is another checkout).
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))

from newsletter.core.config import load_config  # noqa: E402
from newsletter.core.models import (  # noqa: E402
    Article,
    Coverage,
    Issue,
    PlacedArticle,
    Provider,
    Section,
    Window,
)
from newsletter.publishing.issuefile import issue_json  # noqa: E402
from newsletter.publishing.output import write_files  # noqa: E402
from newsletter.rendering.pages import render_issue_page  # noqa: E402

NEW_ISSUE = dt.date(2021, 3, 1)
ARTICLES = 20


def past_issue(config, date: dt.date) -> Issue:
    """A published issue dated ``date`` with ARTICLES articles of its own (no URL the sample
    corpus uses, so the new issue is what it would be without them)."""
    tz = config.timezone
    window = Window(dt.datetime.combine(date - dt.timedelta(days=1), dt.time(0), tz),
                    dt.datetime.combine(date, dt.time(0), tz), tz)
    placed = []
    for n in range(ARTICLES):
        url = f"https://outlet{n % 7}.example/{date}/story-{n}"
        related = tuple(
            Coverage(title=f"Coverage {k} of story {n}", url=f"{url}-{k}", provider=f"Other {k}",
                     domain=f"other{k}.example", quality=10,
                     published=dt.datetime.combine(date, dt.time(6), dt.UTC))
            for k in range(5 if n < 3 else 0))
        article = Article(
            id=f"{date}-story-{n}", path=f"{date}-story-{n}", title=f"Story {n} of {date}",
            url=url, canonical_url=url[8:], domain=f"outlet{n % 7}.example",
            published=dt.datetime.combine(date - dt.timedelta(days=1), dt.time(12), dt.UTC),
            quality=100 - n, excerpt=f"What happened in story {n}, as its outlet told it.",
            provider=Provider(f"Outlet {n % 7}", f"outlet{n % 7}.example"))
        placed.append(PlacedArticle(article, related))
    topics = [t.name for t in config.topics]
    sections = tuple(Section(topic, tuple(placed[i::len(topics)]))
                     for i, topic in enumerate(topics))
    return Issue(slug=date.isoformat(), date=date, title=config.title, window=window,
                 sections=sections, status="published",
                 published_at=dt.datetime.combine(date, dt.time(7), tz))


def make_project(folder: Path, count: int) -> Path:
    """The sample project in ``folder`` with ``count`` issues published before NEW_ISSUE."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "newsletter.yaml", folder / "newsletter.yaml")
    shutil.copytree(ROOT / "articles", folder / "articles")
    config = load_config(folder / "newsletter.yaml")
    issues = [past_issue(config, NEW_ISSUE - dt.timedelta(days=count - n)) for n in range(count)]
    files: dict[str, bytes] = {}
    for index, issue in enumerate(issues):
        files[f"{issue.slug}/issue.json"] = issue_json(issue)
        files[f"{issue.slug}/index.html"] = render_issue_page(
            issue, config, previous=issues[index - 1] if index else None,
            next=issues[index + 1] if index + 1 < count else None)
    write_files(config.output, files)
    # The archive and the feeds as the last publish left them; this also fills the cache.
    last = issues[-1].slug
    subprocess.run([sys.executable, "-m", "newsletter", "build", "--date", last, "--force",
                    "--publish"], cwd=folder, check=True, capture_output=True)
    return folder


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# In a process of its own, as a publish starts: CPU seconds of reading every issue.json.
LOAD_ALL = (
    "import datetime as dt, sys, time\n"
    "from pathlib import Path\n"
    "from newsletter.publishing.issues import IssueStore\n"
    "start = time.process_time()\n"
    "IssueStore(Path(sys.argv[1])).featured_before(dt.date.fromisoformat(sys.argv[2]))\n"
    "print(time.process_time() - start)\n"
)


def load_all_once(project: Path) -> float:
    """CPU seconds a fresh process takes to read every published issue.json of ``project``."""
    done = subprocess.run([sys.executable, "-c", LOAD_ALL, str(project / "issues"),
                           NEW_ISSUE.isoformat()], check=True, capture_output=True, text=True)
    return float(done.stdout)


def publish_once(project: Path, scratch: Path, *, warm: bool) -> tuple[float, float, int]:
    """Wall and CPU seconds to publish NEW_ISSUE in a fresh copy of ``project``, and the
    files written. ``warm``: with the index of the published issues (in ``state_dir``) made
    for the copy first, as the publish before it leaves it; else every issue.json is read
    (a copy's files are not the ones the index was made from: other inodes)."""
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(project, scratch, symlinks=True)
    if warm:
        subprocess.run([sys.executable, "-m", "newsletter", "explain", "--json", "--date",
                        NEW_ISSUE.isoformat()], cwd=scratch, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    before = time.time()
    time.sleep(0.05)  # modification times after ``before``, whatever the clock's resolution
    start, cpu = time.perf_counter(), _children_cpu()
    subprocess.run([sys.executable, "-m", "newsletter", "build", "--date",
                    NEW_ISSUE.isoformat(), "--publish"], cwd=scratch, check=True,
                   capture_output=True)
    seconds, cpu = time.perf_counter() - start, _children_cpu() - cpu
    output = scratch / "issues"
    written = sum(1 for path in output.rglob("*") if path.is_file()
                  and path.stat().st_mtime > before)
    return seconds, cpu, written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--issues", type=int, nargs="+", default=[10, 1000, 3000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the projects are written (default: a new temporary folder)")
    options = parser.parse_args()
    # A folder of its own by default: two runs at once must not write over each other.
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="newsletter-bench-archive-"))
    rows = []
    for count in sorted(options.issues):
        project = make_project(workdir / f"issues-{count}", count)
        cold = [publish_once(project, workdir / "scratch", warm=False)
                for _ in range(options.repeat)]
        runs = [publish_once(project, workdir / "scratch", warm=True)
                for _ in range(options.repeat)]
        output = workdir / "scratch" / "issues"
        years = sorted((output / "archive").glob("*.html"), key=lambda p: p.stat().st_size)
        loading = statistics.median(load_all_once(project) for _ in range(options.repeat))
        rows.append((count, statistics.median(s for s, _, _ in runs),
                     statistics.median(c for _, c, _ in runs),
                     statistics.median(c for _, c, _ in cold), loading, runs[-1][2],
                     (output / "index.html").stat().st_size,
                     years[-1].stat().st_size if years else 0))
    print("| published issues | publish of one more, wall (s) | CPU (s) | CPU, no index (s) "
          "| reading every issue.json, CPU (s) | files written | front page KB "
          "| largest year page KB |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for count, seconds, cpu, cold, loading, written, front, year in rows:
        print(f"| {count:,} | {seconds:.2f} | {cpu:.2f} | {cold:.2f} | {loading:.2f} "
              f"| {written} | {front / 1024:.0f} | {year / 1024:.0f} |")
    smallest = rows[0]
    for count, seconds, cpu, cold, loading, *_rest in rows[1:]:
        print(f"ratio: publish after {count:,} issues / after {smallest[0]:,}: "
              f"{seconds / smallest[1]:.2f} wall, {cpu / smallest[2]:.2f} CPU "
              f"({cold / smallest[3]:.2f} without the index); reading every issue.json "
              f"would be {loading / cpu:.0%} of its CPU")
    # Only what this run wrote: a --workdir given may hold other things.
    for count in options.issues:
        shutil.rmtree(workdir / f"issues-{count}", ignore_errors=True)
    shutil.rmtree(workdir / "scratch", ignore_errors=True)
    if options.workdir is None:
        workdir.rmdir()


if __name__ == "__main__":
    main()
