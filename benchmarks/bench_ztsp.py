"""Zero-touch provisioning, link up to backend serving, in a real lab.

    python -m benchmarks.bench_ztsp [--cycles 10] [--cinder agent|devstack|agent,devstack]

Builds a ``ci-tools ztsp lab`` (snmpd, lldpd, the reference array on its
management IP, one Cinder node reached over SSH), runs the controller, then
cables and uncables the array ``--cycles`` times. Prints the median, min and
max of each phase: link up -> trap received -> array identified (LLDP-MIB) ->
array configured -> backend serving, and link down -> backend disabled. The
first cycle configures a new array; the others find it configured and only
re-enable the backend.

``--cinder`` picks the node: ``agent`` (default) is the node agent, which
loads the refflash driver from the gold copy with Cinder's code; ``devstack``
is a real DevStack-lite (``lab up --cinder devstack``, the warm dest the
devstack tests share), where *serving* means ``supervisorctl restart c-vol``
done and the backend's cinder-volume service up in the Cinder API. The
devstack mode adds gold copy delivered (the file's mtime on the node),
c-vol up (the node's own mark) and a volume created through the Cinder API on
the backend's volume type until ``available``. With both, the medians are
printed side by side.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
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
DEVSTACK_PHASES = [
    ("link up -> trap", "link", "trap"),
    ("trap -> identified", "trap", "identified"),
    ("identified -> configured", "identified", "configured"),
    ("configured -> delivered", "configured", "delivered"),
    ("delivered -> c-vol up", "delivered", "cvol_up"),
    ("c-vol up -> serving", "cvol_up", "serving"),
    ("link up -> serving", "link", "serving"),
    ("volume create -> available", "create", "available"),
    ("link up -> volume available", "link", "available"),
]

# Run in the node's namespace with DevStack-lite's python: one volume on the
# backend's type, polled until available; prints the wall-clock marks.
CREATE_VOLUME = """
import json, sys, time, openstack
conn = openstack.connect(cloud="devstack-admin")
list(conn.block_storage.types())  # token and endpoint before the clock starts
t0 = time.time()
vol = conn.block_storage.create_volume(size=1, volume_type=sys.argv[1], name=sys.argv[2])
while True:
    vol = conn.block_storage.get_volume(vol.id)
    if vol.status in ("available", "error"):
        break
    time.sleep(0.1)
print(json.dumps({"create": t0, "available": time.time(), "status": vol.status, "id": vol.id}))
"""


def wait_event(path, count, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path) as f:
                lines = f.read().splitlines()
            if len(lines) >= count:
                return json.loads(lines[count - 1])
        time.sleep(0.05)
    raise SystemExit(f"no event #{count} within {timeout}s")


def create_volume(lab, node, backend, name):
    stack = lab.devstack()
    proc = subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            node["namespace"],
            os.path.join(stack.venv, "bin", "python"),
            "-c",
            CREATE_VOLUME,
            backend,
            name,
        ],
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    if proc.returncode:
        raise SystemExit(f"volume create: {proc.stderr[-1500:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if out["status"] != "available":
        raise SystemExit(f"volume {out['id']} went {out['status']}")
    return out


def run(mode, cycles):
    """One lab with ``mode`` nodes; returns {phase: [seconds per cycle]}."""
    work = tempfile.mkdtemp(prefix="bench-ztsp-")
    lab = Lab(work, cinder=mode)
    controller = None
    phases = DEVSTACK_PHASES if mode == "devstack" else PHASES
    try:
        t0 = time.monotonic()
        state = lab.up()
        print(f"[{mode}] lab {state['prefix']} up in {time.monotonic() - t0:.1f} s", flush=True)
        node = state["nodes"][0]
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
        rows = {name: [] for name, _, _ in phases}
        downs = []
        for cycle in range(cycles):
            t_link = time.time()
            lab.link(1, True)
            up = wait_event(events, 2 * cycle + 1)
            if up["result"] != "serving":
                raise SystemExit(f"cycle {cycle + 1}: {up}")
            marks = dict(up["marks"], link=t_link)
            if mode == "devstack":
                backend = up["backend"]
                marks["delivered"] = os.stat(node["gold_copy"]).st_mtime
                marks["cvol_up"] = up["nodes"]["node1"][backend]["up"]
                marks.update(create_volume(lab, node, backend, f"bench-{cycle + 1}"))
            for name, a, b in phases:
                rows[name].append(marks[b] - marks[a])
            t_down = time.time()
            lab.link(1, False)
            down = wait_event(events, 2 * cycle + 2)
            if down["result"] != "disabled":
                raise SystemExit(f"cycle {cycle + 1}: {down}")
            downs.append(down["marks"]["serving"] - t_down)
            extra = ""
            if mode == "devstack":
                extra = f", volume available {rows['link up -> volume available'][-1]:.2f} s"
            print(
                f"[{mode}] cycle {cycle + 1}: link up -> serving "
                f"{rows['link up -> serving'][-1]:.2f} s (array changes: {len(up['changes'])})"
                f"{extra}, link down -> disabled {downs[-1]:.2f} s",
                flush=True,
            )
        rows["link down -> disabled"] = downs
        print(f"\n[{mode}] {cycles} cycles, seconds")
        print(f"{'phase':<30}{'median':>8}{'min':>8}{'max':>8}")
        for name, values in rows.items():
            print(
                f"{name:<30}{statistics.median(values):>8.2f}{min(values):>8.2f}{max(values):>8.2f}"
            )
        print(flush=True)
        return rows
    finally:
        if controller is not None:
            controller.stop()
        lab.down()
        shutil.rmtree(work, ignore_errors=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=10)
    parser.add_argument(
        "--cinder",
        default="agent",
        help="node kinds to measure, comma separated: agent, devstack (default agent)",
    )
    args = parser.parse_args(argv)
    modes = [m for m in args.cinder.split(",") if m]
    if not modes or set(modes) - {"agent", "devstack"}:
        parser.error("--cinder: agent, devstack or both")
    results = {mode: run(mode, args.cycles) for mode in modes}
    if len(results) > 1:
        names = [n for n, _, _ in PHASES[:4] + DEVSTACK_PHASES[3:]] + ["link down -> disabled"]
        print(f"medians over {args.cycles} cycles, seconds")
        print(f"{'phase':<30}" + "".join(f"{m:>10}" for m in results))
        for name in names:
            cells = [
                f"{statistics.median(rows[name]):>10.2f}" if name in rows else f"{'-':>10}"
                for rows in results.values()
            ]
            print(f"{name:<30}" + "".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
