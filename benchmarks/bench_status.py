"""How fast ``ci-tools status`` reads and folds a month of third-party CI history.

    python -m benchmarks.bench_status [--per-day 4 16]

For each history size (changes per day over 34 days, six CIs commenting on
every patch set, as in the functional tests) it loads the Gerrit emulator,
then times: parsing and aggregating the comments in-process, and the whole
``status`` read over REST with a cold cache at several page sizes (no rate
limit) and again with a warm cache. Prints a table.
"""

import argparse
import datetime
import os
import shutil
import tempfile
import time

from ci_tools.gerrit.fixture import GerritEmulator
from ci_tools.people.aggregate import aggregate
from ci_tools.people.gerrit_rest import GerritRest
from ci_tools.people.source import ci_comments
from tests.functional.people import emulator_history, history


def run(per_day, page_sizes):
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    changes, _ = history.generate(changes_per_day=per_day, now=now)
    comments = sum(len(c["messages"]) for c in changes)
    work = tempfile.mkdtemp(prefix="bench-status-")
    rows = []
    gerrit = GerritEmulator(os.path.join(work, "emu")).start()
    try:
        started = time.monotonic()
        emulator_history.load(gerrit, changes)
        rows.append(
            (per_day, len(changes), comments, "load emulator", "-", time.monotonic() - started)
        )

        client = GerritRest(gerrit.url, rate=0)
        fetched = list(ci_comments(client, now, page_size=500))
        started = time.monotonic()
        aggregate(fetched, now)
        rows.append(
            (
                per_day,
                len(changes),
                len(fetched),
                "parse+aggregate",
                "-",
                time.monotonic() - started,
            )
        )
        for size in page_sizes:
            cache = os.path.join(work, f"cache-{size}")
            for label in ("REST, cold cache", "REST, warm cache"):
                client = GerritRest(gerrit.url, rate=0, cache_dir=cache)
                started = time.monotonic()
                status = aggregate(ci_comments(client, now, page_size=size), now)
                elapsed = time.monotonic() - started
                assert len(status.cis) == 6, sorted(status.cis)
                rows.append(
                    (per_day, len(changes), client.requests, f"{label}, n={size}", size, elapsed)
                )
    finally:
        gerrit.stop()
        shutil.rmtree(work, ignore_errors=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-day", type=int, nargs="+", default=[4, 16])
    parser.add_argument("--page-sizes", type=int, nargs="+", default=[25, 100, 500])
    args = parser.parse_args()
    rows = []
    for per_day in args.per_day:
        rows += run(per_day, args.page_sizes)
    header = ("changes/day", "changes", "count", "step", "page", "seconds")
    print("  ".join(f"{h:>12}" if i != 3 else f"{h:<26}" for i, h in enumerate(header)))
    for per_day, changes, count, step, page, seconds in rows:
        print(
            f"{per_day:>12}  {changes:>12}  {count:>12}  {step:<26}  {page!s:>12}  {seconds:>12.2f}"
        )
    print("count: messages loaded / CI comments folded / REST requests sent")


if __name__ == "__main__":
    main()
