"""A real iSCSI initiator for tests: libiscsi's iscsi-ls and qemu-io (userspace, over TCP)."""

import shutil
import subprocess

TOOLS = ("tgtd", "tgtadm", "iscsi-ls", "qemu-io")


def missing_tools():
    return [t for t in TOOLS if not shutil.which(t)]


def qemu_io(portal, target, lun, initiator, chap, command, timeout=60):
    """Run one qemu-io command on an iSCSI LUN; returns (ok, output)."""
    opts = (
        f"driver=iscsi,transport=tcp,portal={portal},target={target},lun={lun},"
        f"initiator-name={initiator}"
    )
    argv = ["qemu-io"]
    if chap:
        argv += ["--object", f"secret,id=chap0,data={chap['secret']}"]
        opts += f",user={chap['username']},password-secret=chap0"
    argv += ["--image-opts", opts, "-c", command]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    out = result.stdout + result.stderr
    ok = result.returncode == 0 and "failed" not in out.lower() and "can't open" not in out
    return ok, out


def write_pattern(conn, lun, initiator, offset, length, byte, portal=None):
    ok, out = qemu_io(
        portal or conn["portals"][0], conn["target_iqn"], lun, initiator, conn["chap"],
        f"write -P {byte:#x} {offset} {length}",
    )  # fmt: skip
    if not ok:
        raise AssertionError(f"iSCSI write failed: {out}")


def has_pattern(conn, lun, initiator, offset, length, byte, portal=None):
    ok, out = qemu_io(
        portal or conn["portals"][0], conn["target_iqn"], lun, initiator, conn["chap"],
        f"read -P {byte:#x} {offset} {length}",
    )  # fmt: skip
    return ok, out


def discover(portal, initiator, chap=None):
    """iscsi-ls -s: the targets and LUNs this initiator is shown on the portal."""
    auth = f"{chap['username']}%{chap['secret']}@" if chap else ""
    result = subprocess.run(
        ["iscsi-ls", "-s", "-i", initiator, f"iscsi://{auth}{portal}"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return result.returncode, result.stdout + result.stderr
