"""Zero-touch provisioning, link up to backend serving, in a real lab.

    python -m benchmarks.bench_ztsp [--cycles 10]

Builds a ``ci-tools ztsp lab`` (snmpd, lldpd, the reference array on its
management IP, one Cinder node reached over SSH whose node agent loads the
refflash driver from the gold copy), runs the controller, then cables and
uncables the array ``--cycles`` times. Prints the median, min and max of each
phase: link up -> trap received -> array identified (LLDP-MIB) -> array
configured -> backend serving (gold copy delivered, node restarted, driver
up), and link down -> backend disabled. The first cycle configures a new
array; the others find it configured and only re-enable the backend.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

from ci_tools.harness.process import ManagedProcess
from ci_tools.ztsp.lab import REPO, Lab

PHASES = [
    ("link up -> trap", "link", "trap"),
    ("trap -> identified", "trap", "identified"),
    ("identified -> configured", "identified", "configured"),
    ("configured -> serving", "configured", "serving"),
    ("link up -> serving", "link", "serving"),
]


def wait_event(path, count, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path) as f:
                lines = f.read().splitlines()
            if len(lines) >= count:
                return json.loads(lines[count - 1])
        time.sleep(0.05)
    raise SystemExit(f"no event #{count} within {timeout}s")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=10)
    args = parser.parse_args(argv)
    work = tempfile.mkdtemp(prefix="bench-ztsp-")
    lab = Lab(work)
    controller = None
    try:
        t0 = time.monotonic()
        state = lab.up()
        print(f"lab {state['prefix']} up in {time.monotonic() - t0:.1f} s", flush=True)
        controller = ManagedProcess(
            "ztsp-controller",
            [
                "ip",
                "netns",
                "exec",
                lab.ctl,
                sys.executable,
                "-m",
                "ci_tools.cli",
                "ztsp",
                "controller",
                "--config",
                state["controller"]["config"],
            ],
            os.path.join(work, "logs", "controller.log"),
            cwd=REPO,
            healthy=lambda: "listening for traps" in controller.tail(5),
        )
        controller.start()
        controller.wait_healthy(timeout=30, interval=0.1)
        events = os.path.join(work, "ctl", "state", "events.jsonl")
        rows = {name: [] for name, _, _ in PHASES}
        downs = []
        results = []
        for cycle in range(args.cycles):
            t_link = time.time()
            lab.link(1, True)
            up = wait_event(events, 2 * cycle + 1)
            results.append(up["result"])
            if up["result"] != "serving":
                raise SystemExit(f"cycle {cycle + 1}: {up}")
            marks = dict(up["marks"], link=t_link)
            for name, a, b in PHASES:
                rows[name].append(marks[b] - marks[a])
            t_down = time.time()
            lab.link(1, False)
            down = wait_event(events, 2 * cycle + 2)
            if down["result"] != "disabled":
                raise SystemExit(f"cycle {cycle + 1}: {down}")
            downs.append(down["marks"]["serving"] - t_down)
            print(
                f"cycle {cycle + 1}: link up -> serving {rows['link up -> serving'][-1]:.2f} s"
                f" (array changes: {len(up['changes'])}), link down -> disabled "
                f"{downs[-1]:.2f} s",
                flush=True,
            )
        rows["link down -> disabled"] = downs
        print(f"\n{args.cycles} cycles, seconds")
        print(f"{'phase':<28}{'median':>8}{'min':>8}{'max':>8}")
        for name, values in rows.items():
            print(
                f"{name:<28}{statistics.median(values):>8.2f}{min(values):>8.2f}{max(values):>8.2f}"
            )
        return 0
    finally:
        if controller is not None:
            controller.stop()
        lab.down()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
