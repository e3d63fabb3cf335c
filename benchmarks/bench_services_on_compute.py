"""What cinder-volume and cinder-backup on the compute node cost the run (TCG here).

    python -m benchmarks.bench_services_on_compute [--compare REGEX] [--no-compare]
        [--attach-regex REGEX] [--keep]

The sandbox's controller is a container with no kernel initiator, so the
Tempest tests whose data Cinder copies through an os-brick attach on the
cinder-volume/cinder-backup host (image to volume and back, host-assisted
migration, backups) are excluded there (tempest-config/<protocol>/
exclude-no-attach.txt, tempest-no-attach.yaml). The compute node has an
initiator. This measures the layout that would run them: DevStack-lite with
the refflash driver on the controller (the Tempest job's pre-run playbook),
the compute node reaching Glance, RabbitMQ and MariaDB too, then

1. ``--compare`` (default: the sandbox full run's own Tempest subset) with
   cinder-volume and cinder-backup on the controller, as the job runs now;
2. both services moved to the node (:mod:`ci_tools.harness.node_cinder_services`):
   the controller's venv carried over, config rewritten, started, up;
3. ``--compare`` again, the services on the node: the slowdown of every
   volume operation once cinder-volume runs under the node's CPU;
4. the tests the sandbox leaves out (the ``exclude-no-attach.txt`` regexes,
   the backup tests and the plugin's image/volume dependency tests), with
   ``run_tempest_node_can_attach: true``: do they pass there, and how long.

Prints each phase's seconds and counts, the slowest attach-needing tests, and
the move's breakdown; writes everything to ``<work>/services-on-compute.json``.
"""

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time

from ci_tools.harness import node_image
from ci_tools.harness.cinder_data_path import NODE_DB_PORT, CinderDataPath
from ci_tools.harness.node_cinder_services import NodeCinderServices

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
# tests/functional/sandbox/test_full_run.py's subset
SANDBOX_REGEX = r"^tempest\.api\.volume\.(test_volumes_get|test_volumes_snapshots)\."
# what tempest-no-attach.yaml turns off, by the modules that check it
OFF_BY_SETTINGS = [
    r"^tempest\.api\.volume\.(admin\.)?test_volumes_backup\.",
    r"^tempest\.api\.volume\.test_volume_delete_cascade\.",
    r"^cinder_tempest_plugin\.api\.volume\.(admin\.)?test_volume_backup\.",
    r"^cinder_tempest_plugin\.api\.volume\.test_volume_dependency\.",
    r"^cinder_tempest_plugin\.api\.volume\.test_multiple_volume_from_resource\.",
]


def attach_regex(protocol="iscsi"):
    """The excluded tests: exclude-no-attach.txt's regexes and OFF_BY_SETTINGS."""
    path = os.path.join(TOP, "tempest-config", protocol, "exclude-no-attach.txt")
    with open(path) as f:
        listed = [line.split("#")[0].strip() for line in f]
    return "|".join(f"(?:{r})" for r in [r for r in listed if r] + OFF_BY_SETTINGS)


def test_times(subunit_path):
    """{test id: (status, seconds)} from a subunit v2 stream."""
    import subunit
    import testtools

    found = {}

    def record(test):
        times = test["timestamps"]
        took = (times[1] - times[0]).total_seconds() if None not in times else 0.0
        found[test["id"]] = (test["status"], took)

    with open(subunit_path, "rb") as f:
        stream = subunit.ByteStreamToStreamResult(f, non_subunit_name="stdout")
        result = testtools.StreamToDict(record)
        result.startTestRun()
        stream.run(result)
        result.stopTestRun()
    return {k: v for k, v in found.items() if not k.startswith("setUpClass")}


def tempest(dp, name, regex, extra=None, services=None):
    out = os.path.join(dp.work, f"tempest-{name}")
    start = time.monotonic()
    proc = dp.stack.play(
        "playbooks/tempest/run.yaml",
        extra=dict({"run_tempest_regex": regex, "run_tempest_output": out}, **(extra or {})),
        log_name=f"tempest-{name}",
    )  # fmt: skip
    took = time.monotonic() - start
    summary_path = os.path.join(out, "summary.json")
    summary = json.load(open(summary_path)) if os.path.exists(summary_path) else {}
    subunit_path = os.path.join(out, "tempest.subunit")
    times = test_times(subunit_path) if os.path.exists(subunit_path) else {}
    ran = [t for s, t in times.values() if s in ("success", "fail")]
    dead = services.dead() if services is not None else {}
    if dead:
        print(f"  {name}: services died on the node: {dead}", flush=True)
    print(
        f"  {name}: playbook rc {proc.returncode}, {took:.0f} s; "
        f"{summary.get('passed', '?')} passed, {summary.get('failed', '?')} failed, "
        f"{summary.get('skipped', '?')} skipped; tests' own time {sum(ran):.0f} s",
        flush=True,
    )
    return {"rc": proc.returncode, "seconds": round(took, 1), "summary": summary,
            "test_seconds": round(sum(ran), 1), "times": times, "dead": dead}  # fmt: skip


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--compare",
        default=SANDBOX_REGEX,
        help="Tempest regex timed both ways (default: the sandbox full run's)",
    )
    parser.add_argument(
        "--no-compare", action="store_true", help="only the attach-needing tests, on the node"
    )
    parser.add_argument(
        "--attach-regex",
        help="run only these of the excluded tests on the node (default: all of them)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work dir")
    args = parser.parse_args(argv)

    work = tempfile.mkdtemp(prefix="bench-services-", dir="/var/tmp")
    doc = {"phases": {}}
    image, _ = node_image.build()
    dp = CinderDataPath(work, node_services=True, node_memory_mb=2048)
    services = None
    try:
        print("up: array, data plane, DevStack-lite (pre.yaml), compute node", flush=True)
        dp.up()
        doc["up"] = dict(dp.timings)
        print(f"  {json.dumps({k: round(v, 1) for k, v in dp.timings.items()})}", flush=True)
        if not args.no_compare:
            doc["phases"]["compare_controller"] = tempest(dp, "compare-controller", args.compare)
        print("moving cinder-volume and cinder-backup to the compute node", flush=True)
        services = NodeCinderServices(dp, NODE_DB_PORT).move()
        doc["move"] = services.timings
        print(f"  {json.dumps({k: round(v, 1) for k, v in services.timings.items()})}", flush=True)
        if not args.no_compare:
            doc["phases"]["compare_node"] = tempest(
                dp, "compare-node", args.compare, services=services
            )
        doc["phases"]["attach_node"] = tempest(
            dp,
            "attach-node",
            args.attach_regex or attach_regex(),
            extra={"run_tempest_node_can_attach": True},
            services=services,
        )
        # the services' whole logs beside the Tempest output (--keep keeps them)
        for name, text in services.logs().items():
            with open(os.path.join(work, f"node-{name}.log"), "w") as f:
                f.write(text)
    finally:
        try:
            if services is not None:
                services.restore()
        finally:
            dp.down()
        with open(os.path.join(work, "services-on-compute.json"), "w") as f:
            json.dump(doc, f, indent=1, default=str)
    report(doc)
    print(f"(details: {work}/services-on-compute.json)" if args.keep else "")
    if not args.keep:
        shutil.rmtree(work, True)
    attach = doc["phases"]["attach_node"]["summary"]
    return 0 if attach and not attach.get("failed") else 1


def report(doc):
    phases = doc["phases"]
    print("\nphase                                   seconds  tests' own  passed failed skipped")
    for name, p in phases.items():
        s = p["summary"]
        counts = [str(s.get(k, "?")) for k in ("passed", "failed", "skipped")]
        print(f"{name:38s} {p['seconds']:8.0f} {p['test_seconds']:11.0f}  "
              f"{counts[0]:>6} {counts[1]:>6} {counts[2]:>7}")  # fmt: skip
    if "compare_controller" in phases and "compare_node" in phases:
        a, b = phases["compare_controller"], phases["compare_node"]
        common = set(a["times"]) & set(b["times"])
        ta = sum(a["times"][t][1] for t in common)
        tb = sum(b["times"][t][1] for t in common)
        if ta:
            print(f"same {len(common)} tests, services on the node / on the controller: "
                  f"{tb / ta:.2f}x ({tb:.0f} s / {ta:.0f} s)")  # fmt: skip
    times = phases["attach_node"]["times"]
    slow = sorted(times.items(), key=lambda kv: -kv[1][1])[:12]
    print("\nslowest attach-needing tests on the node:")
    for test, (status, took) in slow:
        short = re.sub(r"\[.*", "", test)
        print(f"  {took:7.1f} s  {status:8s} {short}")
    failures = phases["attach_node"]["summary"].get("failures", [])
    for failure in failures[:10]:
        print(f"  FAILED: {failure if isinstance(failure, str) else failure.get('id')}")
    print("\nmove:", json.dumps(doc.get("move", {})))


if __name__ == "__main__":
    sys.exit(main())
