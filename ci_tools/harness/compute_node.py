"""The compute node: a QEMU guest with its own Linux kernel and iSCSI initiator.

It boots the cached node image (:mod:`ci_tools.harness.node_image`) with
KVM where KVM works and TCG otherwise (nested KVM on some hosts opens
``/dev/kvm`` and then hangs after the decompressor: a KVM boot that prints no
kernel line within :data:`KVM_PROBE_S` falls back to TCG, and the verdict is
remembered for this host's kernel). Its NICs:

- eth0, management: QEMU user networking, restricted (no way out), SSH
  forwarded from 127.0.0.1:<port>, the address Zuul's static provider gives
  the executor; the controller's API ports (Keystone, cinder-api, and in
  the sandbox the array's REST API, all on this host's loopback) reach the
  node at :data:`CONTROLLER_ADDRESS` (each connection a ``busybox nc`` to
  127.0.0.1), the way a lab's compute node reaches its controller;
- eth1, eth2, data: TAP devices on the two bridges of the
  :class:`~ci_tools.harness.data_plane.DataPlane`, one per iSCSI path.

The image stays untouched: each boot writes to a qcow2 overlay in the work
dir. :meth:`ssh` runs a command on the node as its user (root through sudo).
:meth:`replace` boots a fresh node in the place of a lost one, as a cloud
replacing a node would: same image (so the same SSH host key), same seed, SSH
port and data-plane paths, a fresh root disk.
"""

import json
import os
import platform
import shlex
import signal
import subprocess
import threading
import time

from ci_tools.errors import ServiceError
from ci_tools.harness import node_image
from ci_tools.harness.ports import free_port, wait_for_port

KVM_PROBE_S = 15
READY_MARK = "ci-node: ready"
IQN_PREFIX = "iqn.2026-12.org.example.cinder-ci"
CONTROLLER_ADDRESS = "10.0.2.100"


def _accel_verdict_path():
    return os.path.join(node_image.cache_root(), f"accel-{platform.release()}.json")


def choose_accel(requested="auto"):
    """``kvm``, ``tcg`` or ``probe`` (try KVM once, then remember)."""
    if requested in ("kvm", "tcg"):
        return requested
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg"
    try:
        with open(_accel_verdict_path()) as f:
            return json.load(f)["accel"]
    except (OSError, ValueError, KeyError):
        return "probe"


def _remember_accel(accel):
    os.makedirs(node_image.cache_root(), exist_ok=True)
    with open(_accel_verdict_path(), "w") as f:
        json.dump({"accel": accel, "kernel": platform.release()}, f)


def online_fcp_targets(listing, fc_host):
    """Target WWPNs of ``fc_host`` in a listing of ``<rport>|<port_name>|<state>|<roles>``
    lines (``rport-H:B-N`` names the SCSI host ``H``): Online, with the FCP
    Target role. A port without the role is an initiator to this host (an
    unzoned login, doc/fc-fcoe.rst) and does not count."""
    found = set()
    for line in listing.splitlines():
        parts = line.split("|")
        if len(parts) != 4:
            continue
        name, wwpn, state, roles = parts
        if "host" + name.split(":")[0] == fc_host and state == "Online" and "FCP Target" in roles:
            found.add(wwpn.strip().removeprefix("0x"))
    return found


class ComputeNode:
    def __init__(self, work_dir, image, data_plane, authorized_keys, private_key,
                 name="compute", memory_mb=1024, accel=None, user=node_image.NODE_USER,
                 controller_ports=()):  # fmt: skip
        self.dir = os.path.join(work_dir, f"node-{name}")
        self.image = image
        self.data_plane = data_plane
        self.authorized_keys = list(authorized_keys)
        self.private_key = private_key
        self.name = name
        self.memory_mb = memory_mb
        self.requested_accel = accel or os.environ.get("CI_KIT_NODE_ACCEL", "auto")
        self.accel = None
        self.user = user
        self.port = None
        self.proc = None
        self.boot_seconds = None
        self.replacements = 0
        # stop() is final: a replacement booting in another thread (the
        # sandbox's watch) must not start QEMU after it.
        self._lock = threading.Lock()
        self._stopped = False
        self.initiator = f"{IQN_PREFIX}:{name}"
        self.controller_ports = list(controller_ports)

    def forwards(self):
        """(port, command) per controller port: QEMU runs the command for each
        connection to CONTROLLER_ADDRESS:port, its stdio the connection. A bare
        port is a TCP port on this host's loopback; a (port, command) pair
        reaches anything else (a unix socket through socat)."""
        for entry in self.controller_ports:
            if isinstance(entry, int):
                yield entry, f"busybox nc 127.0.0.1 {entry}"
            else:
                yield entry

    @property
    def console_log(self):
        return os.path.join(self.dir, "console.log")

    @property
    def data_addrs(self):
        return [a.split("/")[0] for a in self.data_plane.node_addrs]

    @property
    def data_macs(self):
        return [f"52:54:00:d{i}:00:0a" for i in range(2)]

    def fcoe_wwpn(self, path_index=0):
        """The WWPN software FCoE gives the FC port on data NIC ``path_index``
        (``fcoe_wwn_from_mac``: ``20:00`` + MAC), as 16 hex digits."""
        return "2000" + self.data_macs[path_index].replace(":", "")

    def enable_fcoe(self, path_index=0, timeout=120):
        """Bring up a VN2VN FCoE port on data NIC ``path_index`` (eth1, eth2):
        the kernel's software FC initiator; its fc_host is what os-brick's
        FibreChannelConnector reads. Zone its WWPN on the array first (an
        initiator that logs in before its ACL exists stays unseen: doc/fc-fcoe.rst).
        Returns the fc_host's name (``hostN``)."""
        nic = f"eth{path_index + 1}"
        script = (
            "set -e; modprobe fcoe; "
            f"ip link set {nic} mtu {self.data_plane.mtu} up; "
            f"echo {nic} > /sys/bus/fcoe/ctlr_create; "
            # the controller created last is this NIC's
            "c=$(ls -d /sys/bus/fcoe/devices/ctlr_* | sort -V | tail -1); "
            "echo vn2vn > $c/mode; echo 1 > $c/enabled; "
            f"for h in /sys/class/fc_host/host*; do "
            f'[ "$(cat $h/port_name)" = 0x{self.fcoe_wwpn(path_index)} ] && basename $h; done; true'
        )
        out = self.ssh(script, sudo=True, timeout=timeout).stdout.split()
        if not out:
            raise ServiceError(f"compute node {self.name}: no fc_host on {nic} after enable")
        return out[-1]

    def fcoe_targets(self, fc_host):
        """WWPNs (16 hex digits) the node's FC port ``fc_host`` sees as an
        Online FCP target (``/sys/class/fc_remote_ports``)."""
        out = self.ssh(
            "for r in /sys/class/fc_remote_ports/rport-*; do [ -e $r ] || continue; "
            'echo "${r##*/rport-}|$(cat $r/port_name)|$(cat $r/port_state)|$(cat $r/roles)"; '
            "done",
            check=False,
        ).stdout
        return online_fcp_targets(out, fc_host)

    def _prepare(self):
        os.makedirs(self.dir, exist_ok=True)
        overlay = os.path.join(self.dir, "root.qcow2")
        if os.path.exists(overlay):
            os.unlink(overlay)
        subprocess.run(
            ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw",
             "-b", self.image.rootfs, overlay],
            check=True, capture_output=True,
        )  # fmt: skip
        seed = os.path.join(self.dir, "seed.ext4")
        node_image.make_seed(
            seed,
            {
                "NODE_NAME": self.name,
                "NODE_DATA_ADDRS": " ".join(self.data_plane.node_addrs),
                "NODE_INITIATOR": self.initiator,
            },
            [open(k).read() for k in self.authorized_keys],
        )
        return overlay, seed

    def _argv(self, accel, overlay, seed, tap_fds):
        argv = [
            "qemu-system-x86_64", "-accel", accel, "-m", str(self.memory_mb), "-smp", "1",
            "-nodefaults", "-display", "none", "-no-reboot",
            "-kernel", self.image.kernel, "-initrd", self.image.initrd,
            "-append", "console=ttyS0 net.ifnames=0 quiet panic=-1",
            "-drive", f"file={overlay},format=qcow2,if=virtio,cache=unsafe",
            "-drive", f"file={seed},format=raw,if=virtio,readonly=on",
            "-serial", f"file:{self.console_log}",
            "-netdev", ",".join(
                ["user,id=mgmt,restrict=on", f"hostfwd=tcp:127.0.0.1:{self.port}-:22"]
                + [f"guestfwd=tcp:{CONTROLLER_ADDRESS}:{port}-cmd:{cmd}"
                   for port, cmd in self.forwards()]
            ),
            "-device", "virtio-net-pci,netdev=mgmt",
        ]  # fmt: skip
        # jumbo frames when the data plane carries them (FCoE)
        mtu = f",host_mtu={self.data_plane.mtu}" if self.data_plane.mtu > 1500 else ""
        for i, fd in enumerate(tap_fds):
            nic = f"virtio-net-pci,netdev=data{i},mac={self.data_macs[i]}{mtu}"
            argv += ["-netdev", f"tap,id=data{i},fd={fd}", "-device", nic]
        if accel == "kvm":
            argv += ["-cpu", "host"]
        return argv

    def start(self, timeout=240):
        """Boot and wait until sshd answers as the node user; sets ``boot_seconds``."""
        start = time.monotonic()
        overlay, seed = self._prepare()
        accel = choose_accel(self.requested_accel)
        if accel == "probe":
            if self._boot("kvm", overlay, seed, probe=True):
                _remember_accel("kvm")
                accel = "kvm"
            else:
                _remember_accel("tcg")
                accel = "tcg"
                overlay, seed = self._prepare()
        if self.proc is None:
            self._boot(accel, overlay, seed)
        self.accel = accel
        self._wait_ready(start + timeout)
        self.boot_seconds = time.monotonic() - start
        return self

    def _boot(self, accel, overlay, seed, probe=False):
        self.port = self.port or free_port()
        tap_fds = [self.data_plane.open_tap(i) for i in range(2)]
        if os.path.exists(self.console_log):
            os.unlink(self.console_log)
        log = open(os.path.join(self.dir, "qemu.log"), "ab")
        try:
            with self._lock:
                if self._stopped:
                    raise ServiceError(f"compute node {self.name}: stopped")
                self.proc = subprocess.Popen(
                    self._argv(accel, overlay, seed, tap_fds),
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    pass_fds=tap_fds, start_new_session=True,
                )  # fmt: skip
        finally:
            log.close()
            for fd in tap_fds:
                os.close(fd)  # QEMU holds them now; the TAPs go with QEMU
        if not probe:
            return True
        deadline = time.monotonic() + KVM_PROBE_S
        while time.monotonic() < deadline and self.proc.poll() is None:
            if os.path.exists(self.console_log) and os.path.getsize(self.console_log) > 0:
                return True
            time.sleep(0.5)
        self._kill()
        return False

    def _console_tail(self, lines=15):
        try:
            with open(self.console_log, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no console log)"

    def _wait_ready(self, deadline):
        while time.monotonic() < deadline:
            proc = self.proc
            if proc is None:  # stopped while booting (sandbox down)
                raise ServiceError(f"compute node {self.name}: stopped while booting")
            if proc.poll() is not None:
                raise ServiceError(
                    f"compute node {self.name}: QEMU exited with {proc.returncode}; "
                    f"console:\n{self._console_tail()}"
                )
            if READY_MARK in self._console_tail(50) and wait_for_port(self.port, timeout=1):
                probe = self.ssh("true", check=False, timeout=30)
                if probe.returncode == 0:
                    return
            time.sleep(1)
        self._kill()
        raise ServiceError(
            f"compute node {self.name} ({self.accel}) not ready in time; console:\n"
            f"{self._console_tail()}"
        )

    def ssh_argv(self):
        return [
            "ssh", "-i", self.private_key, "-p", str(self.port),
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "ConnectTimeout=20",
            f"{self.user}@127.0.0.1",
        ]  # fmt: skip

    def ssh(self, command, input=None, check=True, timeout=300, sudo=False):
        """Run ``command`` (a shell string) on the node; CompletedProcess with text."""
        if sudo:
            command = "sudo -n sh -c " + shlex.quote(command)
        result = subprocess.run(
            self.ssh_argv() + [command], input=input, capture_output=True, text=True,
            timeout=timeout,
        )  # fmt: skip
        if check and result.returncode:
            raise ServiceError(
                f"on {self.name}: {command[:120]!r} exited {result.returncode}: "
                f"{(result.stderr or result.stdout).strip()[-800:]}"
            )
        return result

    def copy_to(self, local, remote):
        subprocess.run(
            ["scp", "-q", "-i", self.private_key, "-P", str(self.port),
             "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
             "-o", "LogLevel=ERROR", "-o", "BatchMode=yes",
             local, f"{self.user}@127.0.0.1:{remote}"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def replace(self, timeout=240):
        """Boot a fresh node where this one was (dead or alive), as a cloud
        replacing a lost node: the same image, and so the same SSH host key
        (the image's, which the executor's known_hosts and the launcher's key
        scan hold), the same seed (authorized keys, data addresses, initiator
        name), SSH port and data-plane bridges, the same accelerator; a fresh
        overlay, since a killed node's disk is not to be trusted (written with
        ``cache=unsafe``). Counts in ``replacements``."""
        self._kill()
        if os.path.exists(self.console_log):  # the lost node's last words
            os.replace(self.console_log, f"{self.console_log}.lost-{self.replacements + 1}")
        if self.accel:
            self.requested_accel = self.accel
        self.start(timeout)
        self.replacements += 1
        return self

    def _kill(self):
        # one read of self.proc: stop() may come from another thread
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(30)

    def stop(self):
        """Power off: the node is disposable (the overlay goes with it), so no
        shutdown. Final: no boot starts after it."""
        with self._lock:
            self._stopped = True
        self._kill()
