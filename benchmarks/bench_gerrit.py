"""Gerrit emulator throughput: events fanned out to stream clients, REST query latency.

    python -m benchmarks.bench_gerrit [--clients 20] [--events 2000] [--changes 50]

Starts the emulator, connects ``--clients`` real OpenSSH ``gerrit
stream-events`` clients, posts ``--events`` comments (each one emits a
``comment-added``) from 4 concurrent publishers and waits until every client
has every event. Zero loss is checked, not assumed: each client must see each
comment exactly once, in each publisher's order and in the same global order
as every other client. Then it times the
REST queries Zuul and gertty make against ``--changes`` open changes, and
prints a table.
"""

import argparse
import json
import os
import queue
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from ci_tools.gerrit.fixture import GerritEmulator

PUBLISHERS = 4


class Client:
    def __init__(self, argv):
        self.proc = subprocess.Popen(
            argv + ["gerrit", "stream-events"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.seen = []
        self.done = threading.Event()
        self.expected = None
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            event = json.loads(line)
            if event["type"] == "comment-added":
                self.seen.append(event["comment"].split("\n\n", 1)[1])
                if self.expected and len(self.seen) >= self.expected:
                    self.done.set()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def percentile(values, pct):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(pct / 100 * (len(values) - 1))))]


def time_requests(url, n):
    session = requests.Session()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        resp = session.get(url, timeout=30)
        samples.append((time.perf_counter() - started) * 1000)
        if resp.status_code != 200:
            raise SystemExit(f"GET {url}: {resp.status_code} {resp.text[:200]}")
    return samples


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args(argv)

    work = tempfile.mkdtemp(prefix="bench-gerrit-")
    gerrit = GerritEmulator(os.path.join(work, "emu")).start()
    clients = []
    try:
        gerrit.add_project("bench")
        number = gerrit.push_change("bench", "master", {"a": "1\n"}, "Bench target")[0]
        clients = [Client(gerrit.ssh_argv()) for _ in range(args.clients)]
        deadline = time.monotonic() + 60
        while gerrit.admin("health", method="GET")["stream_clients"] < args.clients:
            if time.monotonic() > deadline:
                raise SystemExit("stream clients did not all connect")
            time.sleep(0.1)
        for c in clients:
            c.expected = args.events

        def publish(worker):
            session = requests.Session()
            with open(os.path.join(gerrit.data_dir, "admin-token")) as f:
                token = f.read().strip()
            for i in range(worker, args.events, PUBLISHERS):
                resp = session.post(
                    f"{gerrit.url}/_emulator/comment",
                    timeout=30,
                    headers={"X-Emulator-Token": token},
                    json={"change": str(number), "account": "admin", "message": f"p{worker} e{i}"},
                )
                resp.raise_for_status()

        started = time.perf_counter()
        with ThreadPoolExecutor(PUBLISHERS) as pool:
            list(pool.map(publish, range(PUBLISHERS)))
        published = time.perf_counter() - started
        for c in clients:
            if not c.done.wait(120):
                break
        delivered = time.perf_counter() - started

        lost = dupes = disorder = 0
        wanted = {f"p{i % PUBLISHERS} e{i}" for i in range(args.events)}
        for c in clients:
            lost += len(wanted - set(c.seen))
            dupes += len(c.seen) - len(set(c.seen))
            for w in range(PUBLISHERS):
                mine = [int(s.split(" e")[1]) for s in c.seen if s.startswith(f"p{w} ")]
                disorder += mine != sorted(mine)
            # Every client sees the one global order.
            disorder += c.seen != clients[0].seen

        # REST: Zuul's change query, its detail query, gertty's detail query.
        for i in range(args.changes - 1):
            gerrit.push_change("bench", "master", {f"f{i}": "x\n"}, f"Change {i}")
        base = gerrit.url
        zuul_q = (
            f"{base}/changes/?n=500&o=CURRENT_REVISION&o=CURRENT_COMMIT"
            "&q=project:bench%20status:open"
        )
        zuul_detail = (
            f"{base}/changes/{number}?o=DETAILED_ACCOUNTS&o=CURRENT_REVISION"
            "&o=CURRENT_COMMIT&o=CURRENT_FILES&o=LABELS&o=DETAILED_LABELS"
            "&o=ALL_REVISIONS&o=SUBMIT_REQUIREMENTS"
        )
        gertty_detail = (
            f"{base}/changes/{number}?o=DETAILED_LABELS&o=ALL_REVISIONS"
            "&o=ALL_COMMITS&o=MESSAGES&o=DETAILED_ACCOUNTS&o=CURRENT_ACTIONS"
            "&o=ALL_FILES"
        )
        rest = {
            f"query open ({args.changes} changes)": time_requests(zuul_q, args.requests),
            "change detail (Zuul options)": time_requests(zuul_detail, args.requests),
            f"change detail (gertty, {args.events} msgs)": time_requests(gertty_detail, 20),
        }
    finally:
        for c in clients:
            c.stop()
        gerrit.stop()
        shutil.rmtree(work, ignore_errors=True)

    total = args.events * args.clients
    print(f"\nstream-events fan-out: {args.events} events x {args.clients} OpenSSH clients")
    print(f"{'metric':<40}{'value':>14}")
    print(f"{'events published/s':<40}{args.events / published:>14.0f}")
    print(f"{'events delivered/s (to all clients)':<40}{args.events / delivered:>14.0f}")
    print(f"{'lines delivered/s (sum over clients)':<40}{total / delivered:>14.0f}")
    print(f"{'lost / duplicated / out of order':<40}{f'{lost} / {dupes} / {disorder}':>14}")
    print(f"\n{'REST request':<40}{'p50 ms':>8}{'p95 ms':>8}{'max ms':>8}")
    for name, samples in rest.items():
        print(
            f"{name:<40}{statistics.median(samples):>8.1f}{percentile(samples, 95):>8.1f}"
            f"{max(samples):>8.1f}"
        )
    return 1 if lost or dupes or disorder else 0


if __name__ == "__main__":
    raise SystemExit(main())
