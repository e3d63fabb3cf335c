"""The data-plane network: two iSCSI paths in a network namespace, apart from management.

One namespace holds two bridges, one per path (198.51.100.0/24 and
203.0.113.0/24, documentation ranges: this host itself sits in 192.0.2.0/24).
The array's tgtd runs inside the namespace with one portal on each bridge;
the compute node's two data NICs are TAP devices on those bridges. Nothing
routes out: the namespace has no default route and no link to the host.

:func:`open_tap` creates a TAP device inside the namespace from a thread that
joins it for the one ``TUNSETIFF`` call, and hands the open descriptor to
QEMU (``-netdev tap,fd=N``), so QEMU itself runs in the host's namespace,
where its management port forward (SSH for Zuul) listens on 127.0.0.1.

With ``mtu=9000`` (FCoE: a full FC frame is 2.1 KB, more than 1500) the
bridges and every TAP carry jumbo frames, and :meth:`DataPlane.segment`
gives :mod:`ci_tools.array.fcoe_vm`'s guests (the array's data-plane VM)
named TAPs on a path's bridge, beside the compute node's data NIC.
"""

import ctypes
import fcntl
import os
import secrets
import struct
import subprocess
import threading

from ci_tools.errors import ServiceError

CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000

# (bridge, array portal address, compute node address), one per path.
PATHS = (
    ("dpa", "198.51.100.1", "198.51.100.10"),
    ("dpb", "203.0.113.1", "203.0.113.10"),
)
PREFIX = 24


def _ip(*args, netns=None, check=True):
    argv = ["ip"] + (["-n", netns] if netns else []) + list(args)
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if check and result.returncode:
        raise ServiceError(f"data plane: ip {' '.join(args)}: {result.stderr.strip()}")
    return result


class DataPlane:
    """The namespace and its two bridges; :meth:`down` removes everything."""

    def __init__(self, name=None, mtu=1500):
        self.netns = name or f"cinder-ci-dp-{secrets.token_hex(3)}"
        self.mtu = mtu
        self.taps = []

    @property
    def portal_ips(self):
        return [portal for _bridge, portal, _node in PATHS]

    @property
    def node_addrs(self):
        return [f"{node}/{PREFIX}" for _bridge, _portal, node in PATHS]

    def up(self):
        _ip("netns", "add", self.netns)
        try:
            _ip("link", "set", "lo", "up", netns=self.netns)
            for bridge, portal, _node in PATHS:
                _ip("link", "add", bridge, "type", "bridge", netns=self.netns)
                _ip("link", "set", bridge, "mtu", str(self.mtu), netns=self.netns)
                _ip("addr", "add", f"{portal}/{PREFIX}", "dev", bridge, netns=self.netns)
                _ip("link", "set", bridge, "up", netns=self.netns)
        except ServiceError:
            self.down()
            raise
        return self

    def exec_prefix(self):
        """The argv prefix that runs a command inside the namespace (tgtd)."""
        return ["ip", "netns", "exec", self.netns]

    def open_tap(self, path_index):
        """A TAP device on path ``path_index``'s bridge; returns its open fd (for QEMU)."""
        bridge = PATHS[path_index][0]
        name = f"tap-{bridge}-{len(self.taps)}"
        result = {}

        def create():
            # setns only moves this thread; the process stays in the host namespace.
            libc = ctypes.CDLL(None, use_errno=True)
            own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
            target = os.open(f"/run/netns/{self.netns}", os.O_RDONLY)
            try:
                if libc.setns(target, CLONE_NEWNET):
                    raise OSError(ctypes.get_errno(), "setns")
                try:
                    fd = os.open("/dev/net/tun", os.O_RDWR)
                    ifr = struct.pack("16sH22x", name.encode(), IFF_TAP | IFF_NO_PI)
                    fcntl.ioctl(fd, TUNSETIFF, ifr)
                    result["fd"] = fd
                finally:
                    libc.setns(own, CLONE_NEWNET)
            except OSError as exc:
                result["error"] = exc
            finally:
                os.close(own)
                os.close(target)

        thread = threading.Thread(target=create, name=f"tap-{name}")
        thread.start()
        thread.join()
        if "error" in result:
            raise ServiceError(f"data plane: cannot create {name}: {result['error']}")
        _ip("link", "set", name, "mtu", str(self.mtu), "master", bridge, netns=self.netns)
        _ip("link", "set", name, "up", netns=self.netns)
        self.taps.append(name)
        return result["fd"]

    def segment(self, path_index=0):
        """Path ``path_index``'s bridge as a :class:`ci_tools.array.fcoe_vm.Segment`
        (``netns`` and ``tap()``), for guests QEMU starts inside the namespace."""
        return _PathSegment(self, PATHS[path_index][0])

    def set_path(self, path_index, up):
        """Take a path's bridge down (a failed switch port) or bring it back."""
        bridge = PATHS[path_index][0]
        _ip("link", "set", bridge, "up" if up else "down", netns=self.netns)

    def exists(self):
        return os.path.exists(f"/run/netns/{self.netns}")

    def down(self):
        if self.exists():
            _ip("netns", "delete", self.netns, check=False)


class _PathSegment:
    def __init__(self, plane, bridge):
        self.plane, self.bridge, self.netns = plane, bridge, plane.netns

    def tap(self):
        name = f"tap-{self.bridge}-{len(self.plane.taps)}"
        _ip("tuntap", "add", name, "mode", "tap", netns=self.netns)
        _ip("link", "set", name, "mtu", str(self.plane.mtu), "master", self.bridge,
            netns=self.netns)  # fmt: skip
        _ip("link", "set", name, "up", netns=self.netns)
        self.plane.taps.append(name)
        return name

    def down(self):
        """The plane owns the namespace: :meth:`DataPlane.down` removes it."""


def leftover_namespaces():
    """Data-plane namespaces still present (a test checks none outlives its sandbox)."""
    try:
        return sorted(n for n in os.listdir("/run/netns") if n.startswith("cinder-ci-dp-"))
    except FileNotFoundError:
        return []
