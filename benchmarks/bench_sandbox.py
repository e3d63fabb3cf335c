"""Where the time goes between an upstream event and the CI's comment.

    python -m benchmarks.bench_sandbox [--events N] [--full [--tempest-regex RE]]

Brings the sandbox up once, pushes N changes one after the other and, for
each, takes the timestamps the parts themselves record:

  event      patchset-created in the Gerrit emulator's event history
  enqueued   the buildset's event time in Zuul's database
  started    the first build's start (node assigned, Ansible running)
  ended      the last build's end
  reported   the CI's comment-added in the emulator's event history

and prints the median and spread of event->job start, job end->comment and
the whole run, against the targets (<= 5 s, <= 2 s, <= 10 min). By default
the jobs are the executor-only quick stand-ins (tests/functional/sandbox),
which isolates the event path; ``--full`` runs the real DevStack + Tempest
jobs on the static node for the whole-run figure, with the functional
tests' Tempest subset unless ``--tempest-regex ''`` asks for the jobs' own
selection. The static node takes one job at a time (one DevStack-lite), so
the iSCSI and FC jobs of a run go one after the other.
"""

import argparse
import os
import shutil
import statistics
import tempfile
import time

from ci_tools.sandbox.loop import Progress, Sandbox
from ci_tools.watchers.zuul_web import parse_zuul_time
from ci_tools.zuulconf.site import load_site
from tests.functional.sandbox import quick_jobs
from tests.functional.sandbox.test_full_run import SANDBOX_REGEX

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BENCH_FILE = "cinder/volume/api.py"


def _event_time(events, kind, change, patchset=None, author=None):
    for event in events:
        if event.get("type") != kind or event["change"]["number"] != change:
            continue
        if patchset and int(event["patchSet"]["number"]) != patchset:
            continue
        if author and (event.get("author") or {}).get("username") != author:
            continue
        return float(event["eventCreatedOn"])
    return None


def measure(sandbox, change, patchset=1):
    ci = sandbox.site["ci_name"]
    events = sandbox.emulator.events()
    tenant = sandbox.tenant.tenant
    builds = sandbox.stack.api(f"tenant/{tenant}/builds?change={change}&patchset={patchset}")
    starts = [parse_zuul_time(b["start_time"]) for b in builds if b.get("start_time")]
    ends = [parse_zuul_time(b["end_time"]) for b in builds if b.get("end_time")]
    jobs = {
        b["job_name"]: parse_zuul_time(b["end_time"]) - parse_zuul_time(b["start_time"])
        for b in builds
        if b.get("start_time") and b.get("end_time")
    }
    return {
        "jobs": jobs,
        "event": _event_time(events, "patchset-created", change, patchset),
        "started": min(starts),
        "ended": max(ends),
        "reported": _event_time(events, "comment-added", change, author=ci),
    }


def row(name, values, target):
    values = sorted(values)
    med = statistics.median(values)
    ok = "ok" if med <= target else "OVER"
    return f"{name:22} {med:9.2f} {values[0]:9.2f} {values[-1]:9.2f} {target:9.0f}  {ok}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5)
    parser.add_argument("--full", action="store_true", help="real DevStack + Tempest jobs")
    parser.add_argument("--tempest-regex", default=SANDBOX_REGEX,
                        help="with --full: the Tempest selection ('' = the jobs' own)")  # fmt: skip
    args = parser.parse_args()
    site = load_site(REPO)
    extra = {}
    job_vars = {"run_tempest_regex": args.tempest_regex} if args.tempest_regex else {}
    if not args.full:
        site["protocols"] = ["iscsi"]
        extra = quick_jobs.nodeless_files(site["ci_name"], site["protocols"])
    work = tempfile.mkdtemp(prefix="bench-sandbox-", dir="/var/tmp")
    sandbox = Sandbox(REPO, work, site=site, extra_files=extra, progress=Progress(print),
                      job_vars=job_vars if args.full else {})  # fmt: skip
    samples = []
    try:
        sandbox.up()
        seed = os.path.join(sandbox.gerrit.work_dir, "seed", "openstack/cinder", BENCH_FILE)
        with open(seed) as f:
            original = f.read()
        for i in range(args.events):
            # A harmless change: the real jobs install Cinder from the change's tree.
            text = original + f"\n# bench {i} {time.time()}\n"
            number, ps, _ = sandbox.push_change({BENCH_FILE: text}, f"Bench event {i}")
            sandbox.wait_for_report(number, timeout=3600)
            time.sleep(1)  # let the comment-added event land in the history
            m = measure(sandbox, number, ps)
            samples.append(m)
            print(f"event {i}: start {m['started'] - m['event']:.2f}s, "
                  f"comment {m['reported'] - m['ended']:.2f}s, "
                  f"whole {m['reported'] - m['event']:.2f}s", flush=True)  # fmt: skip
    finally:
        sandbox.down()
        shutil.rmtree(work, ignore_errors=True)
    kind = "executor-only quick jobs"
    if args.full:
        kind = "real DevStack-lite + Tempest jobs, " + (
            f"Tempest regex {args.tempest_regex}" if args.tempest_regex else "the jobs' own tests"
        )
    print(f"\nsandbox event path, {len(samples)} events, {kind}")
    print("(1 s resolution: Gerrit's eventCreatedOn and Zuul's build times are whole seconds)")
    print(f"{'seconds':22} {'median':>9} {'min':>9} {'max':>9} {'target':>9}")
    print(row("event -> job start", [s["started"] - s["event"] for s in samples], 5))
    print(row("job end -> comment", [s["reported"] - s["ended"] for s in samples], 2))
    print(row("whole run", [s["reported"] - s["event"] for s in samples], 600))
    print("\nbreakdown of the median run:")
    mid = sorted(samples, key=lambda s: s["reported"] - s["event"])[len(samples) // 2]
    print(f"  Gerrit event -> Zuul starts the job : {mid['started'] - mid['event']:7.2f}s")
    print(f"  job runs (pre, run, post, logs)     : {mid['ended'] - mid['started']:7.2f}s")
    print(f"  job end -> comment on the change    : {mid['reported'] - mid['ended']:7.2f}s")
    for job in sorted(mid["jobs"]):
        took = statistics.median(s["jobs"][job] for s in samples if job in s["jobs"])
        print(f"  median {job:29}: {took:7.2f}s")
    print(f"  sandbox up: {', '.join(f'{k} {v:.1f}s' for k, v in sandbox.progress.times.items())}")


if __name__ == "__main__":
    main()
