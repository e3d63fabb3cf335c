"""The compute node's image: Debian 12 with a kernel, open-iscsi, multipath and os-brick.

Built once with mmdebstrap from the package list of the diskimage-builder
element the lab's launcher builds (nodepool/elements/cinder-ci-node), written
into an ext4 filesystem with ``mke2fs -d`` (no loop mount, no partition table),
and cached under ``$CI_KIT_ROOT/node-image/<key>``: the key changes when the
package list or the node's init changes, so a new list means a new image.

The node boots with a direct kernel (QEMU ``-kernel``) and a small busybox
initramfs that mounts the root filesystem; its PID 1 is :data:`NODE_INIT`, a
short script instead of systemd, because every second of boot counts under
TCG. Per-boot settings (addresses, initiator name, SSH keys) come from a
second small disk, the seed (:func:`make_seed`), so the cached image never
changes.
"""

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time

import yaml

from ci_tools.errors import ServiceError
from ci_tools.harness.zuul_daemons import kit_root

SUITE = "bookworm"
MIRRORS = [
    f"deb http://deb.debian.org/debian {SUITE} main",
    f"deb http://deb.debian.org/debian {SUITE}-updates main",
    f"deb http://deb.debian.org/debian-security {SUITE}-security main",
]
ELEMENT = os.path.join(
    os.path.dirname(__file__), "..", "..", "nodepool", "elements", "cinder-ci-node"
)
# Elements whose static files the image layer installs (diskimage-builder's
# install-static): the FCoE by-path udev rule os-brick's FibreChannelConnector
# needs on a virtio NIC (doc/fc-fcoe.rst). The kernel's fcoe module is in
# linux-image-amd64; VN2VN is set up through /sys/bus/fcoe, no fcoe-utils.
STATIC_ELEMENTS = [os.path.join(os.path.dirname(ELEMENT), "cinder-ci-fcoe")]
# Modules the initramfs loads to mount the root filesystem (with their deps).
ROOT_MODULES = ["virtio_pci", "virtio_blk", "ext4", "crc32c_generic"]
NODE_USER = "zuul"

# PID 1 of the node. Brings up what a compute host needs for os-brick (udev,
# iscsid, multipathd) and sshd for Zuul, then reaps orphans.
NODE_INIT = r"""#!/bin/bash
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm /run /tmp
mount -t devpts devpts /dev/pts; mount -t tmpfs tmpfs /run; mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp; mount -t configfs configfs /sys/kernel/config 2>/dev/null
ln -sf /proc/self/fd /dev/fd
echo 1 > /proc/sys/kernel/sysrq
for m in virtio_net iscsi_tcp sd_mod sg dm_multipath dm_round_robin scsi_dh_alua; do
    modprobe "$m" || echo "ci-node: modprobe $m failed"
done
mkdir -p /run/seed /run/lock/iscsi /run/sshd /run/multipathd
mount -o ro /dev/vdb /run/seed || echo "ci-node: no seed disk"
. /run/seed/node.env
hostname "$NODE_NAME"
echo "$NODE_NAME" > /etc/hostname
echo "127.0.1.1 $NODE_NAME" >> /etc/hosts
ip link set lo up
ip link set eth0 up; ip addr add 10.0.2.15/24 dev eth0; ip route add default via 10.0.2.2
i=1
for addr in $NODE_DATA_ADDRS; do
    ip link set "eth$i" up; ip addr add "$addr" dev "eth$i"; i=$((i + 1))
done
install -d -m 700 -o __USER__ -g __USER__ /home/__USER__/.ssh
install -m 600 -o __USER__ -g __USER__ /run/seed/authorized_keys /home/__USER__/.ssh/
echo "InitiatorName=$NODE_INITIATOR" > /etc/iscsi/initiatorname.iscsi
/lib/systemd/systemd-udevd --daemon
udevadm trigger --action=add; udevadm settle -t 30
iscsid
multipathd
/usr/sbin/sshd -E /var/log/sshd.log
echo "ci-node: ready $(cut -d' ' -f1 /proc/uptime)s" > /dev/ttyS0
trap 'echo o > /proc/sysrq-trigger' TERM USR1
while :; do wait; sleep 5 & wait $!; done
""".replace("__USER__", NODE_USER)

INITRAMFS_INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
while read -r mod; do insmod "$mod" 2>/dev/null; done < /modules.order
mkdir -p /newroot
mount -t ext4 -o rw /dev/vda /newroot || { echo "initramfs: cannot mount /dev/vda"; ls /dev; poweroff -f; }
umount /proc /sys /dev
exec switch_root /newroot /sbin/ci-node-init
"""

MULTIPATH_CONF = """# A map only once a second path shows up: a single-path attach stays a SCSI disk
defaults {
    user_friendly_names no
    find_multipaths yes
}
blacklist {
    devnode "^vd[a-z]"
}
"""

# Runs on the host after the packages are in, with the tree's path as $1.
CUSTOMIZE = f"""#!/bin/sh
set -e
R=$1
install -m 755 __HOOKS__/ci-node-init "$R/sbin/ci-node-init"
install -m 644 __HOOKS__/multipath.conf "$R/etc/multipath.conf"
chroot "$R" id {NODE_USER} >/dev/null 2>&1 || chroot "$R" useradd -m -s /bin/bash {NODE_USER}
# sshd (UsePAM no) refuses a locked account: no password, but not locked
chroot "$R" usermod -p '*' {NODE_USER}
echo '{NODE_USER} ALL=(ALL) NOPASSWD:ALL' > "$R/etc/sudoers.d/{NODE_USER}"
chmod 440 "$R/etc/sudoers.d/{NODE_USER}"
rm -f "$R"/etc/ssh/ssh_host_*
chroot "$R" ssh-keygen -A
printf 'PasswordAuthentication no\\nUseDNS no\\nUsePAM no\\n' > "$R/etc/ssh/sshd_config.d/ci-node.conf"
# A dead path fails over in seconds, not two minutes (as on Nova hosts with multipath)
sed -i 's/^node.session.timeo.replacement_timeout = .*/node.session.timeo.replacement_timeout = 5/' \\
    "$R/etc/iscsi/iscsid.conf"
rm -f "$R"/boot/initrd.img-*
rm -rf "$R"/var/cache/apt/archives/*.deb "$R"/var/lib/apt/lists/* "$R"/usr/share/doc "$R"/usr/share/man
"""

# Bumped when the build steps change in a way the package list does not show.
BUILD_VERSION = "1"


def packages(element=ELEMENT):
    """The package list of the diskimage-builder element (package-installs.yaml)."""
    with open(os.path.join(element, "package-installs.yaml")) as f:
        return sorted((yaml.safe_load(f) or {}).keys())


def tree_key(element=ELEMENT):
    """The bootstrapped package tree's key: the suite and the package list."""
    digest = hashlib.sha256()
    for part in (SUITE, *MIRRORS, *packages(element)):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:16]


def static_files():
    """[(path in the image, file here)] of :data:`STATIC_ELEMENTS`' ``static/`` trees."""
    out = []
    for element in STATIC_ELEMENTS:
        base = os.path.join(element, "static")
        for top, _dirs, files in os.walk(base):
            for name in files:
                path = os.path.join(top, name)
                out.append((os.path.relpath(path, base), path))
    return sorted(out)


def image_key(element=ELEMENT):
    """The image's key: the tree's plus everything the node-specific layer writes."""
    digest = hashlib.sha256()
    parts = (BUILD_VERSION, tree_key(element), NODE_INIT, INITRAMFS_INIT, MULTIPATH_CONF, CUSTOMIZE)
    for part in parts:
        digest.update(part.encode() + b"\0")
    for rel, path in static_files():
        with open(path, "rb") as f:
            digest.update(rel.encode() + b"\0" + f.read() + b"\0")
    return digest.hexdigest()[:16]


def cache_root():
    return os.path.join(kit_root(), "node-image")


class NodeImage:
    """A built image: ``rootfs`` (ext4), ``kernel``, ``initrd`` and the build record."""

    def __init__(self, path):
        self.path = path
        with open(os.path.join(path, "build.json")) as f:
            self.record = json.load(f)
        self.rootfs = os.path.join(path, "rootfs.ext4")
        self.kernel = os.path.join(path, "vmlinuz")
        self.initrd = os.path.join(path, "initrd.cpio.gz")

    @property
    def build_seconds(self):
        return self.record["build_seconds"]


def build(element=ELEMENT, root=None, log=print):
    """The cached image for ``element``'s package list, built first when missing.

    Two layers: the package tree (mmdebstrap, minutes; kept as
    ``tree-<key>``) and the image made from a copy of it (the node's init,
    user and settings, initramfs, ``mke2fs -d``; under a minute). A change to
    the node's init rebuilds only the second. Returns ``(NodeImage,
    seconds_spent_here)``: a cached image costs only the lock and a stat.
    """
    start = time.monotonic()
    root = root or cache_root()
    os.makedirs(root, exist_ok=True)
    path = os.path.join(root, image_key(element))
    with open(os.path.join(root, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time; the rest wait and reuse it
        if not os.path.exists(os.path.join(path, "build.json")):
            log(f"node image: building {os.path.basename(path)} (mmdebstrap, {SUITE})")
            _build(element, root, path)
    return NodeImage(path), time.monotonic() - start


def _run(argv, **kw):
    result = subprocess.run(argv, capture_output=True, text=True, **kw)
    if result.returncode:
        tail = (result.stderr or result.stdout).strip()[-1500:]
        raise ServiceError(f"node image: {argv[0]} failed ({result.returncode}): {tail}")
    return result


def _tree(element, root):
    """The package tree, bootstrapped once per package list."""
    tree = os.path.join(root, "tree-" + tree_key(element))
    if os.path.exists(os.path.join(tree, "etc", "ci-node-tree")):
        return tree, 0.0
    start = time.monotonic()
    shutil.rmtree(tree, ignore_errors=True)
    _run(
        [
            "mmdebstrap", "--mode=root", "--variant=minbase", "--quiet",
            "--aptopt=APT::Install-Recommends \"false\"",
            "--include=" + ",".join(packages(element)),
            SUITE, tree, *MIRRORS,
        ],
        timeout=1800,
    )  # fmt: skip
    with open(os.path.join(tree, "etc", "ci-node-tree"), "w") as f:
        f.write(tree_key(element) + "\n")
    return tree, time.monotonic() - start


def _build(element, root, path):
    for tool in ("mmdebstrap", "mke2fs", "busybox", "cpio", "modprobe"):
        if not shutil.which(tool):
            raise ServiceError(
                f"node image: {tool} missing: install bindep.txt's [sandbox] packages"
            )
    start = time.monotonic()
    tree, tree_seconds = _tree(element, root)
    work = tempfile.mkdtemp(prefix="build-", dir=root)
    try:
        rootfs = os.path.join(work, "rootfs")
        _run(["cp", "-a", "--reflink=auto", tree, rootfs])
        hooks = _write_hooks(work)
        _run([os.path.join(hooks, "customize"), rootfs])
        for rel, src in static_files():
            dst = os.path.join(rootfs, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy2(src, dst)
        out = os.path.join(work, "image")
        os.makedirs(out)
        kver = _kernel(rootfs, out)
        _initramfs(rootfs, kver, os.path.join(work, "initramfs"), out)
        size_mb = int(_run(["du", "-sm", rootfs]).stdout.split()[0])
        image = os.path.join(out, "rootfs.ext4")
        # Room for the data path's files and logs; sparse, so free space costs nothing.
        with open(image, "wb") as f:
            f.truncate((size_mb * 3 // 2 + 1024) * 1024 * 1024)
        _run(["mke2fs", "-q", "-t", "ext4", "-L", "ci-node", "-d", rootfs, image])
        record = {
            "key": os.path.basename(path),
            "tree": os.path.basename(tree),
            "suite": SUITE,
            "kernel": kver,
            "packages": packages(element),
            "rootfs_mb": size_mb,
            "tree_seconds": round(tree_seconds, 1),
            "build_seconds": round(time.monotonic() - start, 1),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        with open(os.path.join(out, "build.json"), "w") as f:
            json.dump(record, f, indent=2)
        os.rename(out, path)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _write_hooks(work):
    """The customize hook: node user, init, multipath.conf, sshd (runs on the host with
    the chroot's path as $1)."""
    hooks = os.path.join(work, "hooks")
    os.makedirs(hooks)
    files = {"ci-node-init": NODE_INIT, "multipath.conf": MULTIPATH_CONF}
    for name, text in files.items():
        with open(os.path.join(hooks, name), "w") as f:
            f.write(text)
    script = CUSTOMIZE.replace("__HOOKS__", hooks)
    path = os.path.join(hooks, "customize")
    with open(path, "w") as f:
        f.write(script)
    os.chmod(path, 0o755)
    return hooks


def _kernel(rootfs, out):
    kernels = sorted(
        n for n in os.listdir(os.path.join(rootfs, "boot")) if n.startswith("vmlinuz-")
    )
    if not kernels:
        raise ServiceError("node image: no kernel in /boot (linux-image-amd64 missing?)")
    kver = kernels[-1][len("vmlinuz-") :]
    shutil.copy(os.path.join(rootfs, "boot", kernels[-1]), os.path.join(out, "vmlinuz"))
    return kver


def _initramfs(rootfs, kver, work, out):
    """A busybox initramfs holding just the modules that mount /dev/vda."""
    for d in ("bin", "proc", "sys", "dev", "mods"):
        os.makedirs(os.path.join(work, d))
    shutil.copy(shutil.which("busybox"), os.path.join(work, "bin", "busybox"))
    order = []
    for module in ROOT_MODULES:
        shown = _run(["modprobe", "-d", rootfs, "-S", kver, "--show-depends", module]).stdout
        for line in shown.splitlines():
            if not line.startswith("insmod "):
                continue  # builtin
            src = line.split()[1]  # modprobe -d prints the path under the base dir
            dest = "/mods/" + os.path.basename(src)
            if dest not in order:
                shutil.copy(src, work + dest)
                order.append(dest)
    with open(os.path.join(work, "modules.order"), "w") as f:
        f.write("\n".join(order) + "\n")
    init = os.path.join(work, "init")
    with open(init, "w") as f:
        f.write(INITRAMFS_INIT)
    os.chmod(init, 0o755)
    cpio = os.path.join(out, "initrd.cpio.gz")
    _run(
        ["sh", "-c", f"cd {work} && find . | cpio -o -H newc --quiet | gzip -1 > {cpio}"],
    )


def make_seed(path, node_env, authorized_keys):
    """The per-boot seed disk: ``node.env`` (shell assignments) and SSH keys."""
    work = tempfile.mkdtemp(prefix="seed-", dir=os.path.dirname(path))
    try:
        with open(os.path.join(work, "node.env"), "w") as f:
            for key, value in node_env.items():
                f.write(f"{key}={_shell_quote(value)}\n")
        with open(os.path.join(work, "authorized_keys"), "w") as f:
            f.write("".join(k.strip() + "\n" for k in authorized_keys))
        with open(path, "wb") as f:
            f.truncate(4 * 1024 * 1024)
        _run(["mke2fs", "-q", "-t", "ext4", "-F", "-d", work, path])
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _shell_quote(value):
    return "'" + str(value).replace("'", "'\\''") + "'"
