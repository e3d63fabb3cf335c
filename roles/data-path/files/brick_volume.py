#!/usr/bin/env python3
"""os-brick on the compute node, the way Nova drives it, one step per call.

  brick_volume.py connector [--multipath]         connector properties (JSON)
  brick_volume.py connect   [--multipath] < info  attach; prints device_info (JSON)
  brick_volume.py disconnect [--multipath] < {"connection_info":..., "device_info":...}
  brick_volume.py extend    [--multipath] < info  rescan; prints the new size in bytes
  brick_volume.py write PATH MIB SEED             write a pattern (O_DIRECT); sha256, MB/s
  brick_volume.py read PATH MIB                   read MIB back (O_DIRECT); sha256, MB/s
  brick_volume.py leftovers                       sessions, SCSI disks, multipath maps, FC links
  brick_volume.py steps < {"multipath": bool, "steps": [...]}   several in one process

``steps`` runs a list of {"op": connector|connect|disconnect|extend|write|read|
leftovers, ...} in one process (importing os-brick costs seconds under TCG):
``connect`` takes ``info`` (connection_info) and remembers the device for
the next ops; ``write``/``read`` take ``mib`` (and ``seed``) on that device;
``expect_error: true`` records an expected failure instead of stopping;
``mark``/``wait`` (a ``path``) let the caller act between steps, e.g. take a
path down while the volume stays attached.

Runs as root. Privileged os-brick calls run in this process (privsep client
mode off) rather than through a privsep daemon: the node is a disposable VM
and one process less matters under TCG. os-brick is whatever is importable:
the image's package, or the change's tree on PYTHONPATH.
"""

import hashlib
import json
import mmap
import os
import socket
import subprocess
import sys
import time

os.environ.setdefault("OSLO_LOCK_PATH", "/run/brick-locks")
os.makedirs(os.environ["OSLO_LOCK_PATH"], exist_ok=True)


def _brick():
    import os_brick
    import os_brick.privileged
    from os_brick.initiator import connector

    os_brick.privileged.default.set_client_mode(False)
    if hasattr(os_brick, "setup"):
        from oslo_config import cfg

        cfg.CONF([], project="brick-volume")
        os_brick.setup(cfg.CONF)
    return connector


# Cinder's driver_volume_type -> os-brick's protocol name
PROTOCOLS = {"iscsi": "ISCSI", "fibre_channel": "FIBRE_CHANNEL"}


def _connector(multipath, info=None):
    connector = _brick()
    protocol = PROTOCOLS[(info or {}).get("driver_volume_type", "iscsi")]
    return connector.InitiatorConnector.factory(
        protocol, "sudo", use_multipath=multipath, device_scan_attempts=5
    )


def _pattern(mib, seed):
    block = hashlib.sha256(seed.encode()).digest() * (1024 * 1024 // 32)
    for i in range(mib):
        # each MiB differs, so a misplaced block shows in the checksum
        yield block[i % 32 :] + block[: i % 32]


def _direct_io(path, mib, seed=None):
    flags = os.O_DIRECT | (os.O_WRONLY if seed else os.O_RDONLY)
    fd = os.open(path, flags)
    buf = mmap.mmap(-1, 1024 * 1024)  # page-aligned, as O_DIRECT needs
    digest = hashlib.sha256()
    start = time.monotonic()
    try:
        if seed:
            for chunk in _pattern(mib, seed):
                buf.seek(0)
                buf.write(chunk)
                os.write(fd, buf)
                digest.update(chunk)
            os.fsync(fd)
        else:
            for _ in range(mib):
                n = os.readv(fd, [buf])
                if n != len(buf):
                    raise SystemExit(f"short read: {n} bytes")
                digest.update(buf)
    finally:
        os.close(fd)
    took = time.monotonic() - start
    return {"sha256": digest.hexdigest(), "mib": mib, "seconds": round(took, 3),
            "mb_per_s": round(mib * 1.048576 / took, 1)}


def leftovers():
    def run(*argv):
        r = subprocess.run(argv, capture_output=True, text=True)
        return r.stdout if r.returncode == 0 else ""

    sessions = [line for line in run("iscsiadm", "-m", "session").splitlines() if line]
    disks = sorted(d for d in os.listdir("/sys/block") if d.startswith("sd"))
    maps = [line.split()[0] for line in run("dmsetup", "ls", "--target", "multipath").splitlines()
            if line and not line.startswith("No devices")]
    by_path = "/dev/disk/by-path"
    fc_links = sorted(n for n in (os.listdir(by_path) if os.path.isdir(by_path) else [])
                      if "-fc-" in n)
    return {"sessions": sessions, "scsi_disks": disks, "multipath_maps": maps,
            "fc_links": fc_links}


def steps(plan):
    """Run ``plan["steps"]`` in order; stop at the first unexpected error."""
    multipath = bool(plan.get("multipath"))
    results, info, device = [], None, None
    for step in plan["steps"]:
        op = step["op"]
        start = time.monotonic()
        try:
            if op == "connector":
                out = _brick().get_connector_properties(
                    "sudo", socket.gethostname(), multipath, False
                )
            elif op == "brick":  # whose os-brick runs the steps
                import importlib.metadata

                out = {"version": importlib.metadata.version("os-brick"),
                       "file": _brick().__file__}  # fmt: skip
            elif op == "connect":
                info = step["info"]
                device = _connector(multipath, info).connect_volume(info["data"])
                device["realpath"] = os.path.realpath(device["path"])
                out = dict(device)
            elif op == "disconnect":
                _connector(multipath, info).disconnect_volume(info["data"], device, force=False)
                out = {}
            elif op == "extend":
                out = {"size": _connector(multipath, info).extend_volume(info["data"])}
            elif op == "write":
                out = _direct_io(device["realpath"], step["mib"], seed=step["seed"])
            elif op == "read":
                out = _direct_io(device["realpath"], step["mib"])
            elif op == "leftovers":
                out = leftovers()
            elif op == "mark":  # tell whoever drives the test that we got here
                open(step["path"], "w").close()
                out = {}
            elif op == "wait":  # until the driver of the test says go (a fault is in place)
                deadline = time.monotonic() + step.get("timeout", 300)
                while not os.path.exists(step["path"]):
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"no {step['path']}")
                    time.sleep(0.5)
                out = {}
            else:
                raise ValueError(f"unknown op {op!r}")
            if step.get("expect_error"):
                out = {"unexpected_success": True, **out}
        except Exception as exc:
            out = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
            if not step.get("expect_error"):
                results.append({"op": op, "seconds": round(time.monotonic() - start, 3), **out})
                break
        results.append({"op": op, "seconds": round(time.monotonic() - start, 3), **out})
    return results


def main(argv):
    multipath = "--multipath" in argv
    args = [a for a in argv if a != "--multipath"]
    cmd = args[0]
    if cmd == "connector":
        connector = _brick()
        props = connector.get_connector_properties(
            "sudo", socket.gethostname(), multipath, False
        )
        out = props
    elif cmd == "connect":
        info = json.load(sys.stdin)
        start = time.monotonic()
        device = _connector(multipath, info).connect_volume(info["data"])
        device["seconds"] = round(time.monotonic() - start, 3)
        device["realpath"] = os.path.realpath(device["path"])
        out = device
    elif cmd == "disconnect":
        both = json.load(sys.stdin)
        start = time.monotonic()
        _connector(multipath, both["connection_info"]).disconnect_volume(
            both["connection_info"]["data"], both["device_info"], force=False
        )
        out = {"seconds": round(time.monotonic() - start, 3)}
    elif cmd == "extend":
        info = json.load(sys.stdin)
        out = {"size": _connector(multipath, info).extend_volume(info["data"])}
    elif cmd == "write":
        out = _direct_io(args[1], int(args[2]), seed=args[3])
    elif cmd == "read":
        out = _direct_io(args[1], int(args[2]))
    elif cmd == "leftovers":
        out = leftovers()
    elif cmd == "steps":
        out = steps(json.load(sys.stdin))
    else:
        raise SystemExit(f"brick-volume: unknown command {cmd!r}")
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main(sys.argv[1:])
