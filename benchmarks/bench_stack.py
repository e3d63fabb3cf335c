"""Boot time and memory of the Zuul stack the harness runs, per service.

    python -m benchmarks.bench_stack [--rounds N]

Boots ZooKeeper (TLS), PostgreSQL and the four Zuul daemons on a trivial
tenant, samples the resident memory of each service's whole process group
every 0.2 s until the tenant is loaded and for a few seconds after, and
prints a table: time to healthy, peak and idle RSS per service, and the total.
"""

import argparse
import os
import subprocess
import tempfile
import threading
import time

from ci_tools.harness.procfs import PAGE_KB, proc_stats
from ci_tools.harness.stack import ZuulStack

CONFIG = """
- pipeline:
    name: periodic
    manager: independent
    trigger:
      timer:
        - time: '0 0 * * *'
- job:
    name: base
    parent: null
- project:
    periodic:
      jobs: [base]
"""


def session_rss_kb(session_ids):
    """Resident KB per session id (each service leads its own session)."""
    totals = dict.fromkeys(session_ids, 0)
    for _pid, fields in proc_stats():
        sid = int(fields[3])
        if sid in totals:
            totals[sid] += int(fields[21]) * PAGE_KB
    return totals


class Sampler(threading.Thread):
    def __init__(self, stack):
        super().__init__(daemon=True)
        self.stack = stack
        self.peak = {}
        self.last = {}
        self.total_peak = 0
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.wait(0.2):
            names = {
                s.process.pid: s.process.name
                for s in self._services()
                if getattr(s, "process", None) and s.process.pid
            }
            rss = session_rss_kb(set(names))
            for sid, kb in rss.items():
                name = names[sid]
                self.peak[name] = max(self.peak.get(name, 0), kb)
                self.last[name] = kb
            self.total_peak = max(self.total_peak, sum(rss.values()))

    def _services(self):
        return list(self.stack._started)


def git(*args, cwd):
    subprocess.run(["git", "-c", "user.name=b", "-c", "user.email=b@example.invalid", *args],
                   cwd=cwd, check=True, capture_output=True)  # fmt: skip


def one_round(base):
    repos = os.path.join(base, "repos")
    src = os.path.join(repos, "bench-config")
    os.makedirs(os.path.join(src, "zuul.d"))
    with open(os.path.join(src, "zuul.d", "main.yaml"), "w") as f:
        f.write(CONFIG)
    git("init", "-q", "-b", "master", cwd=src)
    git("add", "-A", cwd=src)
    git("commit", "-qm", "bench", cwd=src)
    tenant = os.path.join(base, "main.yaml")
    with open(tenant, "w") as f:
        f.write("- tenant:\n    name: bench\n    source:\n      local:\n"
                "        config-projects: [bench-config]\n")  # fmt: skip
    stack = ZuulStack(os.path.join(base, "w"), tenant,
                      {"local": {"driver": "git", "baseurl": f"file://{repos}"}})  # fmt: skip
    sampler = Sampler(stack)
    sampler.start()
    t0 = time.monotonic()
    try:
        stack.start()
        healthy = time.monotonic() - t0
        stack.wait_for_tenant("bench")
        loaded = time.monotonic() - t0
        time.sleep(5)  # settle, then read idle memory
    finally:
        sampler.stopped.set()
        sampler.join()
        t1 = time.monotonic()
        stack.stop()
        stopped = time.monotonic() - t1
    return healthy, loaded, stopped, sampler


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args(argv)
    for n in range(1, args.rounds + 1):
        base = tempfile.mkdtemp(prefix="bench-stack-", dir="/var/tmp")
        os.chmod(base, 0o711)
        print(f"round {n}: booting the stack...", flush=True)
        healthy, loaded, stopped, sampler = one_round(base)
        subprocess.run(["rm", "-rf", base])
        print(f"\nround {n}: all healthy {healthy:.1f} s, tenant loaded {loaded:.1f} s, "
              f"stopped in {stopped:.1f} s")  # fmt: skip
        print(f"{'service':<16}{'peak RSS MB':>12}{'idle RSS MB':>12}")
        for name in sorted(sampler.peak):
            print(f"{name:<16}{sampler.peak[name] / 1024:>12.0f}{sampler.last[name] / 1024:>12.0f}")
        total_idle = sum(sampler.last.values())
        print(f"{'total':<16}{sampler.total_peak / 1024:>12.0f}{total_idle / 1024:>12.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
