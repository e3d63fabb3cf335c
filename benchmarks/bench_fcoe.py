"""FC over FCoE VN2VN: login, API-to-LIO, os-brick attach/detach and MB/s, in real guests.

    python -m benchmarks.bench_fcoe [--cycles 5] [--mib 8]

Starts the reference array, its data-plane VM (lio.py, tcm_fc) and one FC
host guest (:class:`ci_tools.array.fcoe_vm.Lab`, the functional test's lab),
then ``--cycles`` times: map a new volume through the REST API (until the
LUN is in LIO on every port, as seen from the host through the guest agent),
attach it with upstream os-brick's FibreChannelConnector in the guest, write
and read ``--mib`` MiB with O_DIRECT in 1 MiB requests, check the array's
file, detach, unmap (until LIO has dropped it). Prints the one-off figures
(image, boot, FCoE login), lio.py's own passes (apply time, and the lag from
the API's write of state.json to LIO holding it) and the median, min and max
of each phase. Needs root, QEMU and mmdebstrap (bindep [test]); the image is
the cached one.
"""

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time

import os_brick

from ci_tools.array import fcoe_vm
from ci_tools.array.fixture import ArrayFixture

HOST_MAC = "52:54:00:fc:00:01"
MIB = 1024 * 1024


def cycle(lab, api, base, i, mib):
    out = {}
    name = f"bench{i}"
    vol = api.post(base + "/volumes", json={"name": name, "size_gb": 1}).json()
    t0 = time.monotonic()
    lun = api.post(base + "/mappings", json={"volume": name, "host": "fc-host"}).json()["lun"]
    nports = len(lab.ports)
    fcoe_vm.wait_for(lambda: lab.mapped_in_lio(lun) == nports, 30, "the LUN in LIO")
    out["map -> in LIO"] = time.monotonic() - t0
    conn = api.get(base + "/hosts/fc-host/connection").json()
    info = {
        "target_discovered": False,
        "target_wwn": conn["fc"]["target_wwns"],
        "target_lun": lun,
        "initiator_target_map": conn["fc"]["initiator_target_map"],
    }
    result = lab.attach_write_read_detach(info, mib)
    with open(os.path.join(lab.array.data_dir, "volumes", vol["id"] + ".img"), "rb") as f:
        if hashlib.md5(f.read(mib * MIB)).hexdigest() != result["written_md5"]:
            raise SystemExit(f"cycle {i}: the array's file does not hold what was written")
    out["attach (os-brick)"] = result["attach_s"]
    out["detach (os-brick)"] = result["detach_s"]
    out["write MB/s"] = mib * MIB / 1e6 / result["write_s"]
    out["read MB/s"] = mib * MIB / 1e6 / result["read_s"]
    t1 = time.monotonic()
    api.delete(base + "/mappings", params={"volume": name, "host": "fc-host"})
    fcoe_vm.wait_for(lambda: lab.mapped_in_lio(lun) == 0, 30, "the LUN gone from LIO")
    out["unmap -> gone from LIO"] = time.monotonic() - t1
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--mib", type=int, default=8)
    args = parser.parse_args(argv)
    t0 = time.monotonic()
    image = fcoe_vm.build_image()
    image_s = time.monotonic() - t0
    with tempfile.TemporaryDirectory() as work:
        array = ArrayFixture(work, iscsi=False)
        array.start()
        lab = fcoe_vm.Lab(work, array, os.path.dirname(os_brick.__file__), [HOST_MAC])
        try:
            lab.start()
            api = array.session()
            base = array.url + "/api/v1"
            api.post(
                base + "/hosts", json={"name": "fc-host", "wwpns": [fcoe_vm.wwpn_of(HOST_MAC)]}
            )
            rows = [cycle(lab, api, base, i, args.mib) for i in range(args.cycles)]
            passes = lab.lio_passes()[1:]  # the first pass is the agent's start
        finally:
            lab.stop()
            array.stop()
    print(f"image: {image_s:.1f} s here (built in {image.build_seconds:.0f} s when cold)")
    print(f"boot (both guests, TCG): {lab.figures['boot_s']:.1f} s")
    print(f"FCoE login (enable -> every array port an FCP target): "
          f"{lab.figures['fcoe_login_s']:.1f} s")  # fmt: skip
    applies, lags = [p[0] for p in passes], [p[1] for p in passes]
    print(f"lio.py passes: {len(passes)}, apply median {statistics.median(applies):.2f} s "
          f"(max {max(applies):.2f}), API write -> LIO holds it median "
          f"{statistics.median(lags):.2f} s (max {max(lags):.2f}; guest clock)")  # fmt: skip
    print(f"\n{args.cycles} cycles, {args.mib} MiB each")
    print(f"{'phase':<26}{'median':>9}{'min':>9}{'max':>9}")
    for key in rows[0]:
        values = [r[key] for r in rows]
        print(f"{key:<26}{statistics.median(values):>9.2f}{min(values):>9.2f}{max(values):>9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
