"""The data path's figures: node image, compute node boot, os-brick attach/detach, MB/s.

    python -m benchmarks.bench_data_path [--cycles 5] [--mib 16]
    python -m benchmarks.bench_data_path --cinder [--rounds 3]

Builds (or finds cached) the node image and prints its recorded cold build
time (package tree + image) next to the cached lookup; boots the compute node
(TCG here, KVM where it works) on a data plane with a reference array whose
tgtd serves both portals; then ``--cycles`` times, in one os-brick process on
the node: connect (single path), write and read ``--mib`` MiB with O_DIRECT,
disconnect; and once more with dm-multipath over both portals. Prints
medians, min and max.

``--cinder`` measures the data-path phase as the job runs it instead:
DevStack-lite with the array's driver (the Tempest job's pre-run playbook),
the compute node, and ``--rounds`` runs of the role's data_path_tests.py on
the node (Cinder's attachment API + os-brick): each test's seconds, and the
attach and detach times of the multiattach, concurrent-attach and
failed-attach tests.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from ci_tools.array.fixture import ArrayFixture
from ci_tools.harness import node_image
from ci_tools.harness.array_rest import ArrayREST
from ci_tools.harness.cinder_data_path import CinderDataPath
from ci_tools.harness.compute_node import ComputeNode
from ci_tools.harness.data_plane import DataPlane

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))

BRICK = os.path.join(TOP, "roles", "data-path", "files", "brick_volume.py")


def connection_info(client, volume, host, initiator):
    client.create_host(host, iqns=[initiator])
    lun = client.map(volume["name"], host)["lun"]
    conn = client.connection(host)["iscsi"]
    portals = conn["portals"]
    return {"driver_volume_type": "iscsi", "data": {
        "target_discovered": False, "target_iqn": conn["target_iqn"],
        "target_portal": portals[0], "target_lun": lun,
        "target_iqns": [conn["target_iqn"]] * len(portals), "target_portals": portals,
        "target_luns": [lun] * len(portals), "volume_id": volume["id"]}}  # fmt: skip


def steps(node, plan, multipath=False):
    out = node.ssh("sudo -n python3 /tmp/brick_volume.py steps", timeout=900,
                   input=json.dumps({"multipath": multipath, "steps": plan})).stdout  # fmt: skip
    done = json.loads(out.strip().splitlines()[-1])
    if len(done) != len(plan):
        raise SystemExit(f"stopped at {done[-1]}")
    return done


def row(name, values, unit, width=32):
    if not values:
        return f"{name:{width}} {'-':>10}"
    med = statistics.median(values)
    return f"{name:{width}} {med:10.2f} {min(values):10.2f} {max(values):10.2f}  {unit}"


# (label, test, details key) of the Cinder figures; a list value gives one
# sample per element (the concurrent attaches, the two multiattach attaches).
CINDER_FIGURES = (
    ("attach (Cinder + os-brick)", "test_attach_write_read_detach", "attach_s"),
    ("detach", "test_attach_write_read_detach", "detach_s"),
    ("multiattach: each attach", "test_multiattach_same_host_detach_one_keeps_the_other",
     "attach_s"),
    ("multiattach: detach first (kept)", "test_multiattach_same_host_detach_one_keeps_the_other",
     "detach_first_s"),
    ("multiattach: detach last", "test_multiattach_same_host_detach_one_keeps_the_other",
     "detach_last_s"),
    ("4 concurrent: each attach", "test_concurrent_first_attaches_from_a_new_host", "attach_s"),
    ("4 concurrent: all attached", "test_concurrent_first_attaches_from_a_new_host",
     "all_attached_s"),
    ("4 concurrent: detach all four", "test_concurrent_first_attaches_from_a_new_host",
     "detach_all_s"),
    ("failed attach (portals unreachable)", "test_failed_attach_leaves_nothing",
     "failed_attach_s"),
)  # fmt: skip


def cinder_main(args):
    samples, tests = {label: [] for label, _t, _k in CINDER_FIGURES}, {}
    work = tempfile.mkdtemp(prefix="bench-data-path-", dir="/var/tmp")
    dp = CinderDataPath(work)
    try:
        dp.up()
        for _ in range(args.rounds):
            results, _out, _took = dp.run()
            for name, result in results.items():
                if result["status"] != "success":
                    raise SystemExit(f"{name}: {result['status']}: {json.dumps(result)[:3000]}")
                tests.setdefault(name, []).append(result["seconds"])
            for label, test, key in CINDER_FIGURES:
                value = results.get(test, {}).get("details", {}).get(key)
                samples[label] += value if isinstance(value, list) else [value]  # None: not run
    finally:
        dp.down()
        shutil.rmtree(work, True)
    print(f"data-path phase through Cinder, compute node {dp.timings.get('boot_s', 0):.1f} s "
          f"to boot, DevStack-lite + array deploy {dp.timings.get('deploy_s', 0):.0f} s, "
          f"{args.rounds} rounds")  # fmt: skip
    print(f"{'':40} {'median':>10} {'min':>10} {'max':>10}")
    for name, values in tests.items():
        print(row(name.removeprefix("test_")[:40], values, "s (whole test)", width=40))
    for label, values in samples.items():
        print(row(label, [v for v in values if v is not None], "s", width=40))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--mib", type=int, default=16)
    parser.add_argument(
        "--cinder",
        action="store_true",
        help="the data-path phase through Cinder (DevStack-lite) instead",
    )
    parser.add_argument("--rounds", type=int, default=3,
                        help="with --cinder: runs of data_path_tests.py")  # fmt: skip
    args = parser.parse_args(argv)
    if args.cinder:
        return cinder_main(args)
    figures = {k: [] for k in ("attach", "detach", "write", "read", "mp_attach", "mp_detach")}
    image, cached_s = node_image.build()
    cached_s = node_image.build()[1]
    with tempfile.TemporaryDirectory() as work:
        plane = DataPlane().up()
        array = node = None
        try:
            array = ArrayFixture(os.path.join(work, "array"), extra_args=[
                "--iscsi-netns", plane.netns,
                "--iscsi-portal-ips", ",".join(plane.portal_ips)]).start()  # fmt: skip
            client = ArrayREST(array)
            key = os.path.join(work, "id")
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
            node = ComputeNode(work, image, plane, [key + ".pub"], key).start()
            node.copy_to(BRICK, "/tmp/brick_volume.py")
            for i in range(args.cycles + 1):
                mp = i == args.cycles
                client.create_volume(f"bench-{i}", size_gb=1)
                vol = client.volume(f"bench-{i}")
                info = connection_info(client, vol, f"bench-host-{i}", node.initiator)
                plan = [{"op": "connect", "info": info}]
                if not mp:
                    plan += [{"op": "write", "mib": args.mib, "seed": f"b{i}"},
                             {"op": "read", "mib": args.mib}]  # fmt: skip
                plan += [{"op": "disconnect"}]
                done = steps(node, plan, multipath=mp)
                prefix = "mp_" if mp else ""
                figures[prefix + "attach"].append(done[0]["seconds"])
                figures[prefix + "detach"].append(done[-1]["seconds"])
                if not mp:
                    figures["write"].append(done[1]["mb_per_s"])
                    figures["read"].append(done[2]["mb_per_s"])
                client.unmap(vol["name"], f"bench-host-{i}")
                client.delete_host(f"bench-host-{i}")
                client.delete_volume(vol["name"])
        finally:
            if node:
                node.stop()
            if array:
                array.stop()
            plane.down()
    rec = image.record
    print(f"node image {rec['key']} (kernel {rec['kernel']}, {rec['rootfs_mb']} MB), "
          f"compute node {node.accel}")  # fmt: skip
    print(f"{'':32} {'median':>10} {'min':>10} {'max':>10}")
    print(f"{'image build, recorded (cold)':32} {rec['build_seconds']:10.1f}"
          f"{'':22}  s (package tree {rec.get('tree_seconds', 0):.0f} s)")  # fmt: skip
    print(f"{'image, cached lookup':32} {cached_s:10.3f}{'':22}  s")
    print(f"{'compute node boot to SSH':32} {node.boot_seconds:10.1f}{'':22}  s")
    print(row("attach (connect_volume)", figures["attach"], "s"))
    print(row("detach (disconnect_volume)", figures["detach"], "s"))
    print(row(f"write {args.mib} MiB O_DIRECT", figures["write"], "MB/s"))
    print(row(f"read {args.mib} MiB O_DIRECT", figures["read"], "MB/s"))
    print(row("multipath attach (2 portals)", figures["mp_attach"], "s"))
    print(row("multipath detach", figures["mp_detach"], "s"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
