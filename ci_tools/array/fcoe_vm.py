"""Two QEMU guests joined by FCoE VN2VN: the array's data-plane VM and an FC host.

Drives the kernel side of :mod:`ci_tools.array.lio`: one cached Debian 12
image (``linux-image-amd64`` plus the ``cinder-ci-fcoe`` element's packages
and udev rule) boots twice under QEMU (TCG unless ``accel`` says otherwise):

* the **data-plane VM** gets one data NIC per FC target port of the array,
  with the port's MAC (:func:`ci_tools.array.lio.port_mac`), the array's data
  dir over virtio-9p (read-write: LIO's fileio backstores are the array's
  volume files) and this package's directory read-only, and runs ``lio.py``;
* an **FC host** (the compute side) gets data NICs whose FCoE ports are its
  initiators.

The NICs are TAP devices on a Linux bridge (MTU 9000 for 2 KiB FC frames)
in a network namespace of their own: no addresses, no route anywhere, only
FCoE frames. Each guest runs a small agent on a virtio-serial port instead of
sshd (one JSON request per line, one reply), so nothing listens on a network.

The image is built with mmdebstrap and ``mke2fs -d`` (no loop mount), cached
under ``$CI_KIT_ROOT/fcoe-image/<key>``; the key changes with the package
list, the element's files and the guest init.
"""

import base64
import fcntl
import hashlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid

import yaml

from ci_tools.errors import ServiceError
from ci_tools.harness.zuul_daemons import kit_root

HERE = os.path.dirname(os.path.abspath(__file__))
ELEMENT = os.path.join(HERE, "..", "..", "nodepool", "elements", "cinder-ci-fcoe")
SUITE = "bookworm"
BASE_PACKAGES = ["linux-image-amd64", "udev", "kmod", "iproute2", "procps", "python3",
                 "python3-os-brick"]  # fmt: skip
ROOT_MODULES = ["virtio_pci", "virtio_blk", "crc32c_generic", "ext4"]
MTU = 9000
# Bump when _build changes what it makes: the cache key includes it.
RECIPE = 2

INITRAMFS_INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /newroot
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in @MODULES@; do modprobe $m; done
mount -t ext4 /dev/vda /newroot || { echo ROOTFAIL; poweroff -f; }
umount /proc /sys; exec switch_root /newroot /usr/sbin/fcoe-guest-init
""".replace("@MODULES@", " ".join(ROOT_MODULES))

# PID 1: udev (by-path links), the modules both roles use, then the agent.
GUEST_INIT = """#!/bin/bash
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mkdir -p /run /tmp /dev/pts; mount -t tmpfs tmpfs /run; mount -t tmpfs tmpfs /tmp
echo 1 > /proc/sys/kernel/sysrq
/lib/systemd/systemd-udevd --daemon >/dev/null 2>&1; udevadm trigger >/dev/null 2>&1
for m in configfs virtio_net virtio_console 9p 9pnet_virtio fcoe sd_mod; do modprobe $m; done
mount -t configfs none /sys/kernel/config
udevadm settle -t 20
ip link set lo up
exec /usr/bin/python3 /usr/local/sbin/fcoe-guest-agent > /dev/ttyS0 2>&1
"""

GUEST_AGENT = r'''#!/usr/bin/python3
"""One JSON request per line on the virtio port "ctl": run a command, or put a file."""
import base64, glob, json, os, subprocess, time
port = None
while not port:
    for n in glob.glob("/sys/class/virtio-ports/*/name"):
        if open(n).read().strip() == "ctl" and os.path.exists("/dev/" + n.split("/")[-2]):
            port = "/dev/" + n.split("/")[-2]
    time.sleep(0.1)
f = open(port, "r+b", buffering=0)
def send(obj):
    f.write((json.dumps(obj) + "\n").encode())
send({"ready": True})
buf = b""
while True:
    chunk = f.read(65536)
    if not chunk:
        time.sleep(0.02)
        continue
    buf += chunk
    while b"\n" in buf:
        line, buf = buf.split(b"\n", 1)
        try:
            req = json.loads(line)
        except ValueError:
            continue
        try:
            if "put" in req:
                with open(req["put"], "wb") as out:
                    out.write(base64.b64decode(req["b64"]))
                send({"id": req["id"], "rc": 0, "out": "", "err": ""})
            elif req.get("background"):
                subprocess.Popen(["/bin/bash", "-c", req["cmd"]], start_new_session=True,
                                 stdout=open(req["log"], "ab"), stderr=subprocess.STDOUT)
                send({"id": req["id"], "rc": 0, "out": "", "err": ""})
            else:
                p = subprocess.run(["/bin/bash", "-c", req["cmd"]], capture_output=True,
                                   text=True, timeout=req.get("timeout", 300))
                send({"id": req["id"], "rc": p.returncode, "out": p.stdout, "err": p.stderr})
        except Exception as exc:
            send({"id": req.get("id"), "rc": -1, "out": "", "err": repr(exc)})
'''


def packages():
    with open(os.path.join(ELEMENT, "package-installs.yaml")) as f:
        return sorted(set(BASE_PACKAGES) | set(yaml.safe_load(f) or {}))


def _static_files():
    base = os.path.join(ELEMENT, "static")
    out = []
    for top, _dirs, files in os.walk(base):
        for name in sorted(files):
            path = os.path.join(top, name)
            out.append((os.path.relpath(path, base), path))
    return sorted(out)


def image_key():
    h = hashlib.sha256()
    for part in (str(RECIPE), json.dumps(packages()), INITRAMFS_INIT, GUEST_INIT, GUEST_AGENT):
        h.update(part.encode())
    for rel, path in _static_files():
        h.update(rel.encode())
        with open(path, "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]


class Image:
    def __init__(self, path):
        self.path = path
        self.rootfs = os.path.join(path, "rootfs.img")
        self.kernel = os.path.join(path, "vmlinuz")
        self.initrd = os.path.join(path, "initrd.gz")

    @property
    def build_seconds(self):
        with open(os.path.join(self.path, "build.json")) as f:
            return json.load(f)["seconds"]


def build_image(log=print):
    """The cached image, built first if needed (one builder at a time)."""
    path = os.path.join(kit_root(), "fcoe-image", image_key())
    image = Image(path)
    if os.path.exists(os.path.join(path, "build.json")):
        return image
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(os.path.join(path, "build.json")):
            return image
        start = time.monotonic()
        work = tempfile.mkdtemp(prefix="build-", dir=os.path.dirname(path))
        try:
            _build(work, log)
            os.replace(work, path)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        with open(os.path.join(path, "build.json"), "w") as f:
            json.dump({"seconds": round(time.monotonic() - start, 1), "packages": packages()}, f)
        log(f"fcoe image {image_key()} built in {time.monotonic() - start:.0f}s")
    return image


def _run(argv, **kw):
    result = subprocess.run(argv, capture_output=True, text=True, **kw)
    if result.returncode != 0:
        raise ServiceError(f"{argv[0]} failed: {(result.stderr or result.stdout)[-800:]}")
    return result.stdout


def _build(work, log):
    root = os.path.join(work, "root")
    log(f"fcoe image: mmdebstrap {SUITE} with {len(packages())} packages")
    _run(["mmdebstrap", "--mode=root", "--variant=minbase", "--quiet",
          "--aptopt=APT::Install-Recommends \"false\"", "--include=" + ",".join(packages()),
          SUITE, root], timeout=1800)  # fmt: skip
    for rel, src in _static_files():
        dst = os.path.join(root, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(src, dst)
    for rel, text in (("usr/sbin/fcoe-guest-init", GUEST_INIT),
                      ("usr/local/sbin/fcoe-guest-agent", GUEST_AGENT)):  # fmt: skip
        dst = os.path.join(root, rel)
        with open(dst, "w") as f:
            f.write(text)
        os.chmod(dst, 0o755)
    os.makedirs(os.path.join(root, "etc", "rtslib-fb-target"), exist_ok=True)
    kver = sorted(os.listdir(os.path.join(root, "lib", "modules")))[-1]
    shutil.copy2(os.path.join(root, "boot", f"vmlinuz-{kver}"), os.path.join(work, "vmlinuz"))
    _initramfs(root, kver, work)
    shutil.rmtree(os.path.join(root, "var", "cache", "apt"), ignore_errors=True)
    img = os.path.join(work, "rootfs.img")
    with open(img, "wb") as f:
        f.truncate(3 << 30)
    _run(["mke2fs", "-q", "-t", "ext4", "-d", root, img])
    shutil.rmtree(root)


def _initramfs(root, kver, work):
    ird = os.path.join(work, "initramfs")
    os.makedirs(os.path.join(ird, "bin"))
    shutil.copy2(shutil.which("busybox"), os.path.join(ird, "bin", "busybox"))
    mods = os.path.join(root, "lib", "modules", kver)
    deps = _run(["modprobe", "-a", "-d", root, "-S", kver, "--show-depends", *ROOT_MODULES])
    for line in deps.splitlines():
        if line.startswith("insmod "):
            src = line.split()[1]
            # under usrmerge modprobe may print /usr/lib/modules/...: keep the
            # path below the kernel version, under /lib/modules for busybox
            below = src.split(f"/modules/{kver}/", 1)[1]
            dst = os.path.join(ird, "lib", "modules", kver, below)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy2(src, dst)
    for name in ("modules.order", "modules.builtin", "modules.builtin.modinfo"):
        if os.path.exists(os.path.join(mods, name)):
            shutil.copy2(os.path.join(mods, name), os.path.join(ird, "lib", "modules", kver))
    _run(["depmod", "-b", ird, kver])
    with open(os.path.join(ird, "init"), "w") as f:
        f.write(INITRAMFS_INIT)
    os.chmod(os.path.join(ird, "init"), 0o755)
    files = subprocess.run(["find", "."], cwd=ird, capture_output=True, check=True).stdout
    cpio = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=ird, input=files,
                          capture_output=True, check=True).stdout  # fmt: skip
    gz = subprocess.run(["gzip", "-1"], input=cpio, capture_output=True, check=True).stdout
    with open(os.path.join(work, "initrd.gz"), "wb") as f:
        f.write(gz)
    shutil.rmtree(ird)


class Segment:
    """A bridge in a namespace of its own: the FCoE 'fabric' (just Ethernet)."""

    def __init__(self, name=None):
        self.netns = name or f"cifcoe-{uuid.uuid4().hex[:6]}"
        self.taps = []

    def _ip(self, *args):
        _run(["ip", "-n", self.netns, *args])

    def up(self):
        _run(["ip", "netns", "add", self.netns])
        self._ip("link", "set", "lo", "up")
        self._ip("link", "add", "br0", "type", "bridge")
        self._ip("link", "set", "br0", "mtu", str(MTU), "up")
        return self

    def tap(self):
        name = f"tap{len(self.taps)}"
        self._ip("tuntap", "add", name, "mode", "tap")
        self._ip("link", "set", name, "mtu", str(MTU), "master", "br0", "up")
        self.taps.append(name)
        return name

    def set_link(self, tap, up):
        self._ip("link", "set", tap, "up" if up else "down")

    def down(self):
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)


class Guest:
    """One QEMU guest of the image, driven through its agent."""

    def __init__(self, image, work_dir, name, segment, macs, shares=(), nic="virtio-net-pci",
                 accel="tcg", memory_mb=768):  # fmt: skip
        self.image, self.name, self.segment = image, name, segment
        self.dir = os.path.join(work_dir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.sock = os.path.join(self.dir, "agent.sock")
        self.console = os.path.join(self.dir, "console.log")
        self.macs, self.shares, self.nic = list(macs), list(shares), nic
        self.accel, self.memory_mb = accel, memory_mb
        self.taps = []
        self.proc = None
        self._ids = 0

    def argv(self, taps):
        """QEMU's command line, its data NICs on ``taps``. It names files under
        the guest's dir (the agent's socket, the console): a sandbox's reaper
        finds the guest by its work dir on that line."""
        argv = [
            "ip", "netns", "exec", self.segment.netns,
            "qemu-system-x86_64", "-accel", self.accel, "-m", str(self.memory_mb), "-smp", "1",
            "-kernel", self.image.kernel, "-initrd", self.image.initrd,
            "-append", f"console=ttyS0 quiet panic=-1 guest={self.name}",
            "-drive", f"file={self.image.rootfs},format=raw,if=virtio,snapshot=on",
            "-device", "virtio-serial",
            "-chardev", f"socket,id=ctl,path={self.sock},server=on,wait=off",
            "-device", "virtserialport,chardev=ctl,name=ctl",
            "-serial", f"file:{self.console}", "-display", "none", "-no-reboot",
        ]  # fmt: skip
        for i, (mac, tap) in enumerate(zip(self.macs, taps, strict=True)):
            extra = f",host_mtu={MTU}" if self.nic.startswith("virtio") else ""
            argv += ["-netdev", f"tap,id=d{i},ifname={tap},script=no,downscript=no",
                     "-device", f"{self.nic},netdev=d{i},mac={mac}{extra}"]  # fmt: skip
        for i, (tag, path, readonly) in enumerate(self.shares):
            ro = ",readonly=on" if readonly else ""
            model = "none" if readonly else "passthrough"
            argv += ["-virtfs", f"local,path={path},mount_tag={tag},security_model={model},"
                     f"id=fs{i}{ro}"]  # fmt: skip
        return argv

    def start(self):
        self.taps = [self.segment.tap() for _mac in self.macs]
        argv = self.argv(self.taps)
        self.log = open(os.path.join(self.dir, "qemu.log"), "ab")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        return self

    def wait_ready(self, timeout=240):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServiceError(f"guest {self.name} exited: {self.console_tail()}")
            try:
                if self.run("true", timeout=20)["rc"] == 0:
                    return self
            except (OSError, ServiceError):
                pass
            time.sleep(1)
        raise ServiceError(f"guest {self.name} not ready in {timeout}s: {self.console_tail()}")

    def console_tail(self, n=10):
        try:
            with open(self.console, errors="replace") as f:
                return " | ".join(f.read().splitlines()[-n:])
        except OSError:
            return "(no console)"

    def _call(self, req, timeout):
        self._ids += 1
        req["id"] = self._ids
        s = socket.socket(socket.AF_UNIX)
        try:
            s.settimeout(timeout + 15)
            s.connect(self.sock)
            s.sendall((json.dumps(req) + "\n").encode())
            buf = b""
            while True:
                chunk = s.recv(1 << 16)
                if not chunk:
                    raise ServiceError(f"guest {self.name}: agent closed the channel")
                buf += chunk
                for line in buf.split(b"\n")[:-1]:
                    try:
                        reply = json.loads(line)
                    except ValueError:
                        continue
                    if reply.get("id") == req["id"]:
                        return reply
        except TimeoutError as exc:
            raise ServiceError(f"guest {self.name}: no answer in {timeout}s") from exc
        finally:
            s.close()

    def run(self, cmd, timeout=300, check=False):
        reply = self._call({"cmd": cmd, "timeout": timeout}, timeout)
        if check and reply["rc"] != 0:
            raise ServiceError(f"{self.name}: {cmd[:60]!r} rc={reply['rc']}: {reply['err']}")
        return reply

    def background(self, cmd, log):
        return self._call({"cmd": cmd, "background": True, "log": log}, 30)

    def put(self, path, data):
        return self._call({"put": path, "b64": base64.b64encode(data).decode()}, 60)

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            # power off without waiting for an answer that cannot come
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.settimeout(2)
                    s.connect(self.sock)
                    req = {"id": 0, "cmd": "sync; echo o > /proc/sysrq-trigger", "timeout": 5}
                    s.sendall((json.dumps(req) + "\n").encode())
            except OSError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(5)
        self.log.close()
        self.proc = None


# Runs in the FC host: os-brick's connector as Nova's libvirt driver calls it;
# prints RESULT {json}.
BRICK_SCRIPT = r"""
import hashlib, json, mmap, os, sys, time
from os_brick import privileged
privileged.default.set_client_mode(False)  # root in the guest: privileged calls in-process
import os_brick
from os_brick.initiator import connector
from oslo_concurrency import lockutils
lockutils.set_defaults("/tmp/brick-locks")
info, mib = json.loads(sys.argv[1]), int(sys.argv[2])
out = {"os_brick": os_brick.__file__}
conn = connector.InitiatorConnector.factory(
    "FIBRE_CHANNEL", None, use_multipath=False, device_scan_attempts=5)
t0 = time.monotonic()
dev = conn.connect_volume(info)
out["attach_s"] = time.monotonic() - t0
out["device"] = dev
out["real"] = os.path.realpath(dev["path"])
size, chunk = mib << 20, 1 << 20  # 1 MiB requests: one 8 MiB FCP command times out under TCG
data = os.urandom(size)
wbuf, rbuf = mmap.mmap(-1, size), mmap.mmap(-1, size)
wbuf.write(data)
fd = os.open(dev["path"], os.O_RDWR | os.O_DIRECT)
t1 = time.monotonic()
for off in range(0, size, chunk):
    os.pwritev(fd, [memoryview(wbuf)[off:off + chunk]], off)
os.fsync(fd)
out["write_s"] = time.monotonic() - t1
t2 = time.monotonic()
for off in range(0, size, chunk):
    os.preadv(fd, [memoryview(rbuf)[off:off + chunk]], off)
out["read_s"] = time.monotonic() - t2
os.close(fd)
out["written_md5"] = hashlib.md5(data).hexdigest()
out["read_md5"] = hashlib.md5(bytes(rbuf)).hexdigest()
t3 = time.monotonic()
conn.disconnect_volume(info, dev)
out["detach_s"] = time.monotonic() - t3
print("RESULT " + json.dumps(out))
"""


def data_plane_vm(image, work_dir, segment, state, array_data_dir):
    """The array's data-plane VM: a NIC per FC port, the data dir and lio.py shared in."""
    from ci_tools.array import lio  # noqa: PLC0415

    macs = [p["mac"] for p in lio.ports_of(state)]
    shares = [("array", array_data_dir, False), ("kit", HERE, True)]
    return Guest(image, work_dir, "array-dp", segment, macs, shares)


DATA_PLANE_SETUP = (
    "modprobe target_core_mod && modprobe tcm_fc && modprobe target_core_file && "
    "mkdir -p /mnt/array /mnt/kit && "
    "mount -t 9p -o trans=virtio,version=9p2000.L array /mnt/array && "
    "mount -t 9p -o trans=virtio,version=9p2000.L,ro kit /mnt/kit"
)
LIO_AGENT = "exec python3 /mnt/kit/lio.py --state /mnt/array/state.json"


def enable_initiators(guest, timeout=60):
    """Create a VN2VN FCoE controller on each data NIC and bring it up."""
    return guest.run(
        "set -e; for d in $(ls /sys/class/net | grep -v '^lo$'); do "
        f"ip link set $d mtu {MTU} up; echo $d > /sys/bus/fcoe/ctlr_create; done; "
        "for c in /sys/bus/fcoe/devices/ctlr_*; do echo vn2vn > $c/mode; done; "
        "for c in /sys/bus/fcoe/devices/ctlr_*; do echo 1 > $c/enabled; done",
        timeout=timeout,
        check=True,
    )


def fc_host_wwpns(guest):
    out = guest.run("cat /sys/class/fc_host/host*/port_name", check=True)["out"]
    return [w.strip().removeprefix("0x") for w in out.split()]


def remote_ports(guest):
    """[(local host, remote wwpn, roles, state)] from /sys/class/fc_remote_ports."""
    out = guest.run(
        "for r in /sys/class/fc_remote_ports/rport-*; do [ -e $r ] || continue; "
        'echo "${r##*/rport-}|$(cat $r/port_name)|$(cat $r/roles)|$(cat $r/port_state)"; done'
    )["out"]
    rows = []
    for line in out.splitlines():
        name, wwpn, roles, state = line.split("|")
        rows.append(("host" + name.split(":")[0], wwpn.removeprefix("0x"), roles, state))
    return rows


def wwpn_of(mac):
    """The WWPN software FCoE gives a port on a NIC with this MAC."""
    return "2000" + mac.replace(":", "")


class Lab:
    """A running array (ArrayFixture) with its data-plane VM and one FC host guest.

    ``host_macs[0]`` is zoned (fabric zone set) before the host's FCoE ports
    log in; the others are not. After :meth:`start`, the host has logged in
    to every array port and holds upstream os-brick (``brick_src``, the
    package directory of the os-brick under test) in ``/opt/upstream``.
    """

    SCRIPT = "/root/brick_fc.py"

    def __init__(self, work_dir, array, brick_src, host_macs):
        self.work_dir, self.array, self.brick_src = work_dir, array, brick_src
        self.host_macs = list(host_macs)
        self.figures = {}
        self.guests = []
        self.segment = None

    def start(self):
        self.image = build_image()
        with open(os.path.join(self.array.data_dir, "state.json")) as f:
            state = json.load(f)
        from ci_tools.array import lio  # noqa: PLC0415

        self.ports = lio.ports_of(state)
        self.segment = Segment().up()
        self.dp = data_plane_vm(self.image, self.work_dir, self.segment, state, self.array.data_dir)
        self.host = Guest(self.image, self.work_dir, "fc-host", self.segment, self.host_macs)
        self.guests = [self.dp.start(), self.host.start()]
        t0 = time.monotonic()
        for g in self.guests:
            g.wait_ready()
        self.figures["boot_s"] = time.monotonic() - t0
        self.dp.run(DATA_PLANE_SETUP, check=True)
        self.dp.background(LIO_AGENT, "/tmp/lio.log")
        api = self.array.session()
        r = api.post(self.array.url + "/api/v1/admin/fabric/logins",
                     json={"wwpn": wwpn_of(self.host_macs[0])}, timeout=10)  # fmt: skip
        r.raise_for_status()
        zone = lio.colon_wwn(wwpn_of(self.host_macs[0]))

        def zoned():
            acls = self.dp.run("ls /sys/kernel/config/target/fc/*/tpgt_1/acls/")["out"]
            return acls.count(zone) == len(self.ports)

        wait_for(zoned, 90, "the zone in LIO", self.dp)
        t1 = time.monotonic()
        enable_initiators(self.host)
        host_name = self.fc_host_of(wwpn_of(self.host_macs[0]))

        def logged_in():
            targets = {w for h, w, roles, st in remote_ports(self.host)
                       if h == host_name and "FCP Target" in roles and st == "Online"}  # fmt: skip
            return targets >= {p["wwpn"] for p in self.ports}

        wait_for(logged_in, 90, "FCoE login to every array port", self.host)
        self.figures["fcoe_login_s"] = time.monotonic() - t1
        self._install_brick()
        return self

    def _install_brick(self):
        import io  # noqa: PLC0415
        import tarfile  # noqa: PLC0415

        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            tar.add(self.brick_src, arcname="os_brick",
                    filter=lambda t: None if "__pycache__" in t.name else t)  # fmt: skip
        self.host.put("/root/os-brick.tgz", buf.getvalue())
        self.host.run("mkdir -p /opt/upstream && tar -C /opt/upstream -xzf /root/os-brick.tgz",
                      check=True)  # fmt: skip
        self.host.put(self.SCRIPT, BRICK_SCRIPT.encode())

    def fc_host_of(self, wwpn):
        out = self.host.run(
            'for h in /sys/class/fc_host/host*; do echo "${h##*/} $(cat $h/port_name)"; done',
            check=True,
        )["out"]
        for line in out.splitlines():
            name, port = line.split()
            if port == "0x" + wwpn:
                return name
        raise ServiceError(f"no fc_host with WWPN {wwpn}: {out}")

    def mapped_in_lio(self, lun):
        """How many array ports hold ``lun`` in an ACL (configfs, in the data-plane VM)."""
        out = self.dp.run("ls -d /sys/kernel/config/target/fc/*/tpgt_1/acls/*/lun_* 2>/dev/null")
        return out["out"].count(f"/lun_{lun}\n")

    def lio_log(self, lines=12):
        return self.dp.run(f"tail -n {lines} /tmp/lio.log")["out"]

    def lio_passes(self):
        """(apply seconds, lag seconds) of each lio.py pass: lag runs from the
        API's write of state.json (its mtime) to LIO holding it."""
        out = self.dp.run("grep -o 'apply [0-9.]*s, lag [-0-9.]*s' /tmp/lio.log")["out"]
        rows = []
        for line in out.splitlines():
            apply_s, lag_s = line.replace("apply ", "").replace(" lag ", "").split(",")
            rows.append((float(apply_s.rstrip("s")), float(lag_s.rstrip("s"))))
        return rows

    def attach_write_read_detach(self, connection_info, mib=8, timeout=240):
        """os-brick (upstream) in the FC host; returns its RESULT dict."""
        r = self.host.run(
            f"PYTHONPATH=/opt/upstream python3 {self.SCRIPT} '{json.dumps(connection_info)}' "
            f"{mib} 2>/tmp/brick.err; rc=$?; tail -5 /tmp/brick.err >&2; exit $rc",
            timeout=timeout,
        )
        if r["rc"] != 0 or "RESULT " not in r["out"]:
            raise AssertionError(f"os-brick in the FC host failed (rc={r['rc']}): {r['err']}")
        return json.loads(r["out"].split("RESULT ", 1)[1])

    def stop(self):
        for g in self.guests:
            g.stop()
        if self.segment is not None:
            self.segment.down()


def wait_for(pred, timeout, what, guest=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.2)
    tail = f"; console: {guest.console_tail(5)}" if guest else ""
    raise ServiceError(f"timed out after {timeout}s waiting for {what}{tail}")
