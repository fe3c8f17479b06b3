"""Benchmark weekly builds, `check` and `explain` over large synthetic corpora.

    python benchmarks/bench_build.py --articles 10000 30000 100000 [--workdir /tmp/nlbench]
    python benchmarks/bench_build.py --articles 1000000 --skip-slow-baselines --repeat 1 \
        --reuse                                      # manual: ~6 GB of disk, ~30 minutes
    python benchmarks/bench_build.py --articles 100000 --texts ../shared/corpus \
        --window-articles 2000 --skip-slow-baselines       # the cost of same-story folding

For each size it generates (deterministically) a corpus shaped like the seed articles:
~5.5 KB files, 0-11 related items, 30 topics, dates over 3 years so that a weekly window
holds about 0.6% of the files. Then it times, each as a fresh process: a cold build (no
cache), a warm build with no change, warm builds after 1% of the files changed, were added,
were deleted, `newsletter check` (every file parsed, then again with everything cached, then with a
configured topic that no article has),
`explain --json`, a warm build after `check`, warm builds with and without the similar-text
rule of same-story folding (`same_story.content`), and the baselines: read every file's bytes, a
scandir+stat walk, CSafeLoader over every front matter, and the script a user would write
(python-frontmatter over every file, then sort). Peak memory is each child's ru_maxrss (the
largest of it and the worker processes it waited for). Each step but the single edits runs
--repeat times (default 5) and its median is reported; every ratio compares figures of the
same run, and a line per target says whether it is met.

The synthetic titles and excerpts draw on a 30-word vocabulary; `--texts FOLDER...` draws
them from real article files instead (a title from one, an excerpt from another), so that
the similar-text rule meets realistic text. `--window-articles N` dates N of the articles
inside the issue's window (instead of about 0.6% of them).

Generated corpora live under --workdir (default /tmp/newsletter-bench), never in the
repository. Files get mtimes in the past and the script waits out the cache's "racy"
margin after every edit, as edits made well before a build would. --reuse undoes the
previous run's edits instead of writing the corpus again (a million files take minutes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The processes started below run this checkout's code, not whichever copy is installed
# (from a git worktree, the installed one is another checkout).
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))

TOPICS = [
    "AI", "Computer Vision", "Robotics", "Machine Learning", "Natural Language Processing",
    "Quantum Computing", "Cybersecurity", "Cloud", "Semiconductors", "Data Science",
    "Autonomous Vehicles", "Drones", "Space", "Biotech", "Health Tech", "Fintech",
    "Blockchain", "AR/VR", "Gaming", "5G", "IoT", "Edge Computing", "Open Source",
    "Privacy", "Regulation", "Startups", "Energy", "Climate Tech", "Education", "Wearables",
]
PROVIDERS = [(f"Outlet {i}", f"outlet{i}.example") for i in range(200)]
WORDS = [
    "facial", "recognition", "police", "technology", "model", "data", "companies", "research",
    "robots", "vision", "network", "chips", "security", "cloud", "startup", "privacy", "law",
    "energy", "quantum", "language", "training", "learning", "open", "source", "deployment",
    "market", "report", "study", "users", "devices",
]
START = dt.datetime(2019, 1, 1, tzinfo=dt.UTC)
SPAN_SECONDS = 3 * 365 * 86400
ISSUE_DATE = "2021-06-14"  # a Monday well inside the three years
REPEAT = 5  # runs of each step, whose median is reported (--repeat)
RACY_WAIT = 2.2  # seconds; newsletter.reading.cache.RACY_MARGIN_NS is 2 s
PAST = 1_500_000_000  # mtime given to generated files (2017), well before any build


# (title, excerpt) pairs read from real article files (--texts); empty: synthetic words.
REAL_TEXTS: list[tuple[str, str]] = []
# --window-articles: every WINDOW_EVERY-th article is dated inside the issue's window (0: none);
# set per corpus size by measure().
WINDOW_EVERY = 0


def load_texts(folders: list[Path]) -> list[tuple[str, str]]:
    """The titles and excerpts of the article files below ``folders``, in path order."""
    sys.path.insert(0, str(ROOT))
    from newsletter.reading.corpus import read_corpus

    texts = []
    for folder in folders:
        reading = read_corpus(folder)
        for article in sorted(reading.articles, key=lambda a: a.path):
            texts.append((article.title, article.excerpt))
    if not texts:
        raise SystemExit(f"no article files found in {', '.join(map(str, folders))}")
    return texts


def _sentence(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high))).capitalize()


def _instant(rng: random.Random) -> str:
    moment = START + dt.timedelta(seconds=rng.randrange(SPAN_SECONDS))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def article_text(number: int, variant: int = 0) -> tuple[str, str]:
    """(relative path, text) of synthetic article ``number``; ``variant`` edits it."""
    rng = random.Random(number * 7919 + 17)
    published = _instant(rng)
    if WINDOW_EVERY and number % WINDOW_EVERY == 0:
        end = dt.datetime.fromisoformat(ISSUE_DATE).replace(tzinfo=dt.UTC)
        moment = end - dt.timedelta(seconds=1 + rng.randrange(7 * 86400 - 1))
        published = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if REAL_TEXTS:
        title = json.dumps(rng.choice(REAL_TEXTS)[0], ensure_ascii=False)
        excerpt = json.dumps(rng.choice(REAL_TEXTS)[1], ensure_ascii=False)
    else:
        title = f'"{_sentence(rng, 6, 12)} {number}"'
        excerpt = f'"{_sentence(rng, 20, 30)}."'
    slug = f"{published[:10]}-story-{number:07d}"
    folder = published[:7].replace("-", "/")
    name, domain = rng.choice(PROVIDERS)
    url = f"https://www.{domain}/{published[:10].replace('-', '/')}/story-{number}"
    lines = [
        "---", "category: news",
        f"title: {title}",
        f"excerpt: {excerpt}",
        f"publishedDateTime: {published}",
        f'originalUrl: "{url}"', f'webUrl: "{url}"', "type: article",
        f"quality: {rng.randint(0, 150) + variant}", f"heat: {rng.randint(-1, 300)}",
        "published: false", "", "provider:", f"  name: {name}", f"  domain: {domain}", "",
        "topics:", *(f"  - {t}" for t in rng.sample(TOPICS, rng.randint(1, 2))), "",
        "images:", f'  - url: "https://{domain}/images/{number}.jpg"',
        f"    width: {rng.choice((800, 1000, 1200))}", "    height: 500", "    isCached: true",
        "",
    ]
    related = rng.randint(0, 11)
    lines.append("related:" if related else "related: []")
    for index in range(related):
        rname, rdomain = rng.choice(PROVIDERS)
        rurl = f"https://www.{rdomain}/news/{number}-{index}-{rng.randrange(10**6)}"
        lines += [
            f'  - title: "{_sentence(rng, 6, 12)}"',
            f'    excerpt: "{_sentence(rng, 18, 28)}"',
            f"    publishedDateTime: {_instant(rng)}",
            f'    webUrl: "{rurl}"', f'    ampWebUrl: "{rurl}/amp/"',
            f'    cdnAmpWebUrl: "https://{rdomain.replace(".", "-")}.cdn.ampproject.org/c/s/'
            f'{rdomain}/news/{number}-{index}/amp/"',
            "    type: article", "    provider:", f"      name: {rname}",
            f"      domain: {rdomain}", f"    quality: {rng.randint(0, 150)}",
            "    images:", f'      - url: "https://{rdomain}/img/{number}-{index}.jpg"',
            "        width: 1200", "        height: 628",
        ]
    lines += ["---", "", _sentence(rng, 30, 60) + ".", ""]
    return f"{folder}/{slug}.md", "\n".join(lines)


def write_article(root: Path, number: int, variant: int = 0) -> Path:
    relative, text = article_text(number, variant)
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(PAST * 10**9, (PAST + number) * 10**9))
    return path


class Edits:
    """The run's edits, drawn from a seed so that a later run can undo them (--reuse)."""

    def __init__(self, count: int, rounds: int) -> None:
        rng = random.Random(count)
        self.hundredth = max(1, count // 100)
        self.changed = rng.sample(range(count), self.hundredth)
        self.deleted = rng.sample(range(count), self.hundredth)
        self.added = range(count, count + self.hundredth)
        self.rounds = rounds


GENERATED = ".generated"  # marker: the corpus is complete, edits as recorded inside


def generate(folder: Path, count: int, reuse: bool) -> Path:
    """The corpus and its config: made afresh, or restored from the last run's edits."""
    root = folder / "articles"
    marker = folder / GENERATED
    kind = {"count": count, "window_every": WINDOW_EVERY, "texts": len(REAL_TEXTS)}
    if reuse and marker.is_file() and json.loads(marker.read_text()) == kind:
        edits = Edits(count, 0)
        for number in edits.added:
            (root / article_text(number)[0]).unlink(missing_ok=True)
        for number in {*edits.changed, *edits.deleted}:
            write_article(root, number)
        shutil.rmtree(folder / ".newsletter", ignore_errors=True)
    else:
        write_corpus(folder, count, marker, kind)
    return write_config(folder)


def write_corpus(folder: Path, count: int, marker: Path, kind: dict) -> None:
    """``folder`` emptied, ``count`` articles written to its ``articles/``, then ``marker``
    saying what it holds (written last: a run killed halfway leaves no marker)."""
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "articles").mkdir(parents=True)
    for number in range(count):
        write_article(folder / "articles", number)
    marker.write_text(json.dumps(kind))


EMPTY_TOPIC = "Underwater Basket Weaving"  # a topic no generated article has


def write_config(folder: Path) -> Path:
    """The benchmarks' newsletter.yaml: the corpus in articles/, the 30 topics; beside it
    exact-rules.yaml, the same without the similar-text rule, to measure what it costs, and
    empty-topic.yaml, the same with one more topic that no article has (check names it)."""
    settings = {
        "title": "Bench Weekly", "site_url": "https://bench.example/", "timezone": "UTC",
        "corpus": "articles", "output": "issues", "window_days": 7,
        "topics": [{"name": t, "max_articles": 5} for t in TOPICS],
        "email": {"from": "Bench <bench@bench.example>", "postal_address": "1 Bench Road"},
    }
    (folder / "exact-rules.yaml").write_text(json.dumps(
        {**settings, "same_story": {"content": False}}, indent=1))
    (folder / "empty-topic.yaml").write_text(json.dumps(
        {**settings, "topics": [*settings["topics"], {"name": EMPTY_TOPIC}]}, indent=1))
    config = folder / "newsletter.yaml"
    config.write_text(json.dumps(settings, indent=1))
    return config


# -- fresh-process measurements -----------------------------------------------------------

def timed(argv: list[str], cwd: Path, allowed: tuple[int, ...] = (0,)) -> tuple[float, float]:
    """(seconds, peak MB) of one fresh process; wait4 gives that child's own peak."""
    elapsed, peak, _cpu = timed_with_cpu(argv, cwd, allowed)
    return elapsed, peak


def timed_with_cpu(argv: list[str], cwd: Path, allowed: tuple[int, ...] = (0,)
                   ) -> tuple[float, float, float]:
    """(seconds, peak MB, CPU seconds) of one fresh process. Its CPU time (user + system,
    from wait4) moves less than the wall clock when other processes load the machine."""
    started = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        process = subprocess.Popen(argv, cwd=cwd, stdout=sink, stderr=subprocess.PIPE)
        assert process.stderr is not None
        err = process.stderr.read()
        _pid, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in allowed:
        raise SystemExit(f"{' '.join(argv)} failed ({code}):\n{err.decode()}")
    return elapsed, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


# What a user would write, each a script of its own; they share the folder walk.
_WALK = """
import os, sys
def walk(folder):
    for entry in os.scandir(folder):
        if entry.is_dir():
            yield from walk(entry.path)
        elif entry.name.endswith('.md'):
            yield entry.path
"""
BASELINES = {
    "read": _WALK + """
total = 0
for path in walk(sys.argv[1]):
    with open(path, 'rb') as handle:
        total += len(handle.read())
print(total)
""",
    "stat": _WALK + """
print(sum(os.stat(path).st_size for path in walk(sys.argv[1])))
""",
    "csafeloader": _WALK + """
import re, yaml
closing = re.compile(r'^(?:---|\\.\\.\\.)$', re.M)
count = 0
every = int(sys.argv[2]) if len(sys.argv) > 2 else 1  # a sample: one file in `every`
for number, path in enumerate(walk(sys.argv[1])):
    if number % every:
        continue
    with open(path, encoding='utf-8') as handle:
        text = handle.read()
    end = closing.search(text, 4)
    count += len(yaml.load(text[4:end.start()], Loader=yaml.CSafeLoader))
print(count)
""",
    "frontmatter": _WALK + """
import frontmatter
posts = [frontmatter.load(path) for path in walk(sys.argv[1])]
posts.sort(key=lambda p: str(p.get('publishedDateTime')), reverse=True)
print(len(posts))
""",
}


SAMPLE_EVERY = 10  # --skip-slow-baselines: CSafeLoader over one file in ten, scaled up

# What the similar-text rule adds to selection, timed inside one process in CPU seconds
# (best of 7, so that other processes on the machine weigh less than in the whole-build
# timings): the window's articles are read once through the warm cache, then the issue is
# selected with and without the rule.
SELECT_TIMING = """
import dataclasses, datetime as dt, sys, time
from pathlib import Path
from newsletter.publishing.build import read_and_select
from newsletter.core.config import load_config
from newsletter.selecting.select import select_issue
config = load_config(Path(sys.argv[1]))
date = dt.date.fromisoformat(sys.argv[2])
articles = read_and_select(config, date, complete=False).reading.articles
for content in (True, False):
    chosen = dataclasses.replace(config, same_story_content=content)
    times = []
    for _ in range(7):
        start = time.process_time()
        select_issue(articles, chosen, date)
        times.append(time.process_time() - start)
    print(content, f"{min(times):.4f}")
"""


def measure(count: int, workdir: Path, options: argparse.Namespace
            ) -> dict[str, tuple[float, float]]:
    global WINDOW_EVERY
    WINDOW_EVERY = max(1, count // options.window_articles) if options.window_articles else 0
    folder = workdir / f"corpus-{count}"
    print(f"\n== {count:,} articles ({folder})", flush=True)
    started = time.perf_counter()
    config = generate(folder, count, options.reuse)
    print(f"   corpus ready in {time.perf_counter() - started:.1f} s", flush=True)
    root = folder / "articles"
    state = folder / ".newsletter"
    newsletter = [sys.executable, "-m", "newsletter", "--config", str(config)]
    build = [*newsletter, "build", "--date", ISSUE_DATE]
    check = [*newsletter, "check"]
    repeat = options.repeat
    results: dict[str, tuple[float, float]] = {}

    def fresh_output() -> None:
        shutil.rmtree(folder / "issues", ignore_errors=True)

    def forget_cache() -> None:
        shutil.rmtree(state, ignore_errors=True)

    def step(name: str, argv: list[str], runs: int = 1, before: Any = None,
             scale: float = 1.0) -> None:
        """The median time of ``runs`` runs (the machine is shared) and the highest peak."""
        measured = []
        for run in range(runs):
            fresh_output()
            if before:
                before(run)
            seconds, peak = timed(argv, folder, (0, 1) if "check" in argv else (0,))
            measured.append((seconds * scale, peak))
        seconds = statistics.median(m[0] for m in measured)
        peak = max(m[1] for m in measured)
        results[name] = seconds, peak
        spread = f"  (runs: {', '.join(f'{m[0]:.2f}' for m in measured)})" if runs > 1 else ""
        print(f"   {name:<28} {seconds:8.2f} s  {peak:7.0f} MB{spread}", flush=True)

    for name, script in BASELINES.items():
        argv = [sys.executable, "-c", script, str(root)]
        if name == "frontmatter" and options.skip_slow_baselines:
            continue
        if name == "csafeloader":
            if options.skip_slow_baselines:  # the first-check target still needs it
                step(f"baseline csafeloader (1/{SAMPLE_EVERY} x {SAMPLE_EVERY})",
                     [*argv, str(SAMPLE_EVERY)], scale=SAMPLE_EVERY)
                results["baseline csafeloader"] = results.pop(
                    f"baseline csafeloader (1/{SAMPLE_EVERY} x {SAMPLE_EVERY})")
            else:
                step("baseline csafeloader", argv)
            continue
        step(f"baseline {name}", argv, runs=1 if name == "frontmatter" else repeat)
    time.sleep(RACY_WAIT)
    step("cold build", build, runs=repeat, before=lambda _run: forget_cache())
    issue = (folder / "issues" / ISSUE_DATE / "issue.json").read_bytes()
    step("warm build", build, runs=repeat)
    assert (folder / "issues" / ISSUE_DATE / "issue.json").read_bytes() == issue
    same_story(folder, build, results, repeat, fresh_output)

    edits = Edits(count, repeat)

    def change(run: int) -> None:  # a new 1% each run: every run reads 1% again
        for number in edits.changed:
            write_article(root, number, variant=run + 1)
        time.sleep(RACY_WAIT)

    step("warm, 1% changed", build, runs=repeat, before=change)
    for number in edits.added:
        write_article(root, number)
    time.sleep(RACY_WAIT)
    step("warm, 1% added", build)
    for number in edits.deleted:
        (root / article_text(number)[0]).unlink(missing_ok=True)
    time.sleep(RACY_WAIT)
    step("warm, 1% deleted", build)
    if not options.builds_only:
        # The first check after builds parses the 99% they left unparsed; later runs start
        # from no cache at all, so every run parses (nearly) every file.
        step("check (first)", check, runs=repeat,
             before=lambda run: run and forget_cache())
        step("check (again)", check, runs=repeat)
        step("check, a topic no article has", [
            sys.executable, "-m", "newsletter", "--config", str(folder / "empty-topic.yaml"),
            "check"], runs=repeat)
        step("explain --json", [*newsletter, "explain", "--json", "--date", ISSUE_DATE],
             runs=repeat)
        step("warm build after check", build, runs=repeat)
    if not options.keep:
        shutil.rmtree(folder)
    return results


def same_story(folder: Path, build: list[str], results: dict[str, tuple[float, float]],
               repeat: int, fresh_output: Any) -> None:
    """Warm builds with and without the similar-text rule, alternated so that the machine's
    load weighs on both alike (the two configs share the cache), and selection alone."""
    exact_rules = [sys.executable, "-m", "newsletter", "--config",
                   str(folder / "exact-rules.yaml"), "build", "--date", ISSUE_DATE]
    on: list[tuple[float, float, float]] = []
    off: list[tuple[float, float, float]] = []
    for _ in range(repeat):
        fresh_output()
        off.append(timed_with_cpu(exact_rules, folder))
        fresh_output()
        on.append(timed_with_cpu(build, folder))
    for name, runs in (("warm, same_story on", on), ("warm, same_story off", off)):
        results[name] = statistics.median(m[0] for m in runs), max(m[1] for m in runs)
        results[f"{name} (CPU)"] = statistics.median(m[2] for m in runs), 0.0
        print(f"   {name:<28} {results[name][0]:8.2f} s  {results[name][1]:7.0f} MB  "
              f"CPU {results[name + ' (CPU)'][0]:.2f} s  (runs: "
              f"{', '.join(f'{m[0]:.2f}' for m in runs)})", flush=True)
    timing = subprocess.run([sys.executable, "-c", SELECT_TIMING, str(folder / "newsletter.yaml"),
                             ISSUE_DATE], cwd=folder, capture_output=True, text=True,
                            check=True).stdout
    seconds = dict(line.split() for line in timing.splitlines())
    for content, name in (("True", "select, same_story on"), ("False", "select, same_story off")):
        results[name] = float(seconds[content]), 0.0
        print(f"   {name:<28} {results[name][0]:8.3f} s  (CPU, in one process, best of 7)",
              flush=True)


# Targets: (label, measured value, bound, unit); what counts as met is value <= bound.
def targets(count: int, r: dict[str, tuple[float, float]], cores: int
            ) -> list[tuple[str, float, float, str]]:
    million = count >= 1_000_000
    seconds = {k: v[0] for k, v in r.items()}
    peak = {k: v[1] for k, v in r.items()}
    builds = max(v for k, v in peak.items() if "build" in k)
    lines = [
        ("cold build <= 3 x read-every-file" if million else
         "cold build <= 4 x read-every-file", seconds["cold build"],
         (3 if million else 4) * seconds["baseline read"], "s"),
        ("warm build <= 2 x stat walk + 0.25 s", seconds["warm build"],
         2 * seconds["baseline stat"] + 0.25, "s"),
        ("warm after 1% changed <= warm + 0.1 s", seconds["warm, 1% changed"],
         seconds["warm build"] + 0.1, "s"),
        (f"build peak <= {500 if million else 300} MB", builds, 500 if million else 300, "MB"),
    ]
    if "check (first)" in r:  # not with --builds-only
        lines += [
            ("warm build after check <= 2 x stat walk + 0.25 s",
             seconds["warm build after check"], 2 * seconds["baseline stat"] + 0.25, "s"),
            ("check, all cached <= 3 x warm build", seconds["check (again)"],
             3 * seconds["warm build"], "s"),
            ("check with a topic no article has <= 1.25 x check, all cached",
             seconds["check, a topic no article has"], 1.25 * seconds["check (again)"], "s"),
            (f"check, every file parsed <= 1.2 x CSafeLoader / {cores} cores",
             seconds["check (first)"], 1.2 * seconds["baseline csafeloader"] / cores, "s"),
            (f"check peak <= {1000 if million else 300} MB",
             max(peak["check (first)"], peak["check (again)"]), 1000 if million else 300,
             "MB"),
            (f"explain --json peak <= {1000 if million else 300} MB", peak["explain --json"],
             1000 if million else 300, "MB"),
        ]
    cpu_off = seconds["warm, same_story off (CPU)"]
    lines += [
        ("similar-text rule: warm build CPU <= 1.1 x without it",
         seconds["warm, same_story on (CPU)"], 1.1 * cpu_off, "s"),
        ("similar-text rule: CPU it adds to selection <= 10% of a warm build's",
         seconds["select, same_story on"] - seconds["select, same_story off"],
         0.1 * cpu_off, "s"),
    ]
    if "baseline frontmatter" in r:
        lines.append(("cold build >= 10 x faster than the python-frontmatter script",
                      seconds["cold build"], seconds["baseline frontmatter"] / 10, "s"))
    return lines


def report(all_results: dict[int, dict[str, tuple[float, float]]], cores: int) -> None:
    print("\n| articles | step | seconds | peak MB |")
    print("| ---: | --- | ---: | ---: |")
    for count, results in all_results.items():
        for name, (seconds, peak) in results.items():
            print(f"| {count:,} | {name} | {seconds:.2f} | {peak:.0f} |")
    print("\n| articles | target | measured | bound | met |")
    print("| ---: | --- | ---: | ---: | --- |")
    for count, results in all_results.items():
        for label, value, bound, unit in targets(count, results, cores):
            print(f"| {count:,} | {label} | {value:.2f} {unit} | {bound:.2f} {unit} | "
                  f"{'yes' if value <= bound else 'NO'} |")
    sizes = sorted(all_results)
    if len(sizes) > 1:
        low, high = sizes[0], sizes[-1]
        print("\nGrowth (at most linear means <= the growth of the corpus):")
        for name in ("cold build", "warm build", "warm, 1% changed", "check (again)"):
            if name not in all_results[high] or name not in all_results[low]:
                continue
            growth = all_results[high][name][0] / all_results[low][name][0]
            print(f"  {name}: x{growth:.1f} from {low:,} to {high:,} articles "
                  f"(x{high / low:.0f} the files): {'yes' if growth <= high / low else 'NO'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, nargs="+", default=[10_000, 30_000, 100_000])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/newsletter-bench"))
    parser.add_argument("--skip-slow-baselines", action="store_true",
                        help="Skip the python-frontmatter baseline and run CSafeLoader over "
                             f"one file in {SAMPLE_EVERY} (scaled up).")
    parser.add_argument("--repeat", type=int, default=REPEAT,
                        help="Runs of each step; the median is reported.")
    parser.add_argument("--keep", action="store_true", help="Keep the generated corpora.")
    parser.add_argument("--texts", type=Path, nargs="+", default=[],
                        help="Draw titles and excerpts from the article files below these "
                             "folders (e.g. ../shared/corpus) instead of synthetic words.")
    parser.add_argument("--window-articles", type=int, default=0,
                        help="Date this many articles inside the issue's window.")
    parser.add_argument("--builds-only", action="store_true",
                        help="Leave out check and explain (their first run parses every "
                             "file): for the build and similar-text figures alone.")
    parser.add_argument("--reuse", action="store_true",
                        help="Reuse a corpus kept by --keep, undoing its edits (implies "
                             "--keep).")
    options = parser.parse_args()
    options.keep = options.keep or options.reuse
    REAL_TEXTS[:] = load_texts(options.texts) if options.texts else []
    workdir = options.workdir.resolve()
    repository = ROOT
    if workdir == repository or repository in workdir.parents:
        raise SystemExit("--workdir must be outside the repository")
    workdir.mkdir(parents=True, exist_ok=True)
    cores = _cores()
    print(f"python {sys.version.split()[0]}, {cores} cores")
    all_results = {count: measure(count, workdir, options) for count in options.articles}
    report(all_results, cores)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


if __name__ == "__main__":
    main()
