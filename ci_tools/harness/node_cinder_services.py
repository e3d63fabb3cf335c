"""cinder-volume and cinder-backup on the compute node instead of the controller.

The layout a lab uses when its controller has no initiator: the services
that copy data through an os-brick attach on their own host (image to volume
and back, host-assisted migration, backups) run where a kernel initiator is.
In the sandbox that host is the compute node, a QEMU guest (TCG here):
:class:`NodeCinderServices` measures what the layout costs there.

On a :class:`~ci_tools.harness.cinder_data_path.CinderDataPath` brought up
with ``node_services=True`` (the node reaches Glance, RabbitMQ and MariaDB at
the controller address), :meth:`move` stops the controller's ``c-vol`` and
``c-bak``, carries the controller's Cinder venv to the same path on the node
(a venv is tied to its path and Python: both nodes come from one Debian 12),
writes the controller's Cinder config with the controller's addresses
replaced by the controller address the node reaches, and starts both
services on the node as root under the controller's ``host`` name, so the
volumes Cinder already knows stay theirs. :meth:`restore` stops them and
starts the controller's again. Each step's seconds are in ``timings``.
"""

import configparser
import io
import os
import re
import shlex
import socket
import subprocess
import time

from ci_tools.errors import ServiceError
from ci_tools.harness.compute_node import CONTROLLER_ADDRESS

SERVICES = {"c-vol": "cinder-volume", "c-bak": "cinder-backup"}
NODE_LOGS = "/var/log/cinder-node"
LOOPBACK = ("127.0.0.1", "localhost")
# The posix backup driver reads and compresses a whole file's worth of the
# volume in memory: its default (1.9 GB) got cinder-backup OOM-killed on a
# 2 GiB node backing up a 1 GiB volume. 64 MiB, a multiple of the 32 KiB
# SHA block as the driver requires.
NODE_BACKUP_FILE_SIZE = 64 * 1024 * 1024
# the node's own management address (QEMU user networking's guest address)
NODE_ADDRESS = "10.0.2.15"


def node_config(text, host, db_port):
    """The controller's cinder.conf (or a cinder.conf.d file) for the node:
    every URL or address of the controller's loopback becomes the controller
    address; the database, a unix socket on the controller, is reached over
    TCP at ``db_port``; ``host`` keeps the controller's service name."""
    conf = configparser.RawConfigParser(strict=False, interpolation=None)
    conf.optionxform = str  # keep option names as written
    conf.read_string(text)
    for section in conf.sections() + ["DEFAULT"]:
        items = conf.defaults() if section == "DEFAULT" else conf[section]
        for key, value in list(items.items()):
            if section != "DEFAULT" and key in conf.defaults() and conf.defaults()[key] == value:
                continue  # inherited from DEFAULT: rewritten there
            new = re.sub(r"(?<=[/@])(127\.0\.0\.1|localhost)(?=[:/])", CONTROLLER_ADDRESS, value)
            if key == "san_ip" and value in LOOPBACK:
                new = CONTROLLER_ADDRESS
            if key == "my_ip":
                new = NODE_ADDRESS
            if section == "database" and key == "connection":
                new = re.sub(r"@[^/]*/", f"@{CONTROLLER_ADDRESS}:{db_port}/", value)
                new = re.sub(r"unix_socket=[^&]*&?", "", new).rstrip("?&")
            items[key] = new
    if host and not conf.defaults().get("host"):
        conf.defaults()["host"] = host
    if "backup_driver" in conf.defaults() and "backup_file_size" not in conf.defaults():
        conf.defaults()["backup_file_size"] = str(NODE_BACKUP_FILE_SIZE)
    out = io.StringIO()
    conf.write(out)
    return out.getvalue()


class NodeCinderServices:
    def __init__(self, data_path, db_port):
        self.stack = data_path.stack
        self.node = data_path.node
        self.db_port = db_port
        self.timings = {}
        self.moved = False

    def _supervisor(self, *args):
        ctl = os.path.join(self.stack.venv, "bin", "supervisorctl")
        conf = os.path.join(self.stack.dest, "supervisord.conf")
        return subprocess.run([ctl, "-c", conf, *args], capture_output=True, text=True,
                              timeout=180)  # fmt: skip

    def _stream_to_node(self, tar_args, timeout=900):
        """``tar`` of ``tar_args`` on this host, unpacked under / on the node."""
        tar = subprocess.Popen(["tar", "-C", "/", "-cf", "-", *tar_args],
                               stdout=subprocess.PIPE)  # fmt: skip
        unpack = subprocess.run(
            self.node.ssh_argv() + ["sudo -n tar -C / -xf -"], stdin=tar.stdout,
            capture_output=True, timeout=timeout,
        )  # fmt: skip
        tar.stdout.close()
        if tar.wait() or unpack.returncode:
            raise ServiceError(f"copy to the node failed: {unpack.stderr.decode()[-800:]}")

    def move(self, timeout=600):
        start = time.monotonic()
        for name in SERVICES:
            self._supervisor("stop", name)
        self.moved = True
        self.timings["controller_stop_s"] = time.monotonic() - start
        step = time.monotonic()
        venv = os.path.relpath(self.stack.venv, "/")
        self._stream_to_node([venv])
        self.timings["venv_copy_s"] = time.monotonic() - step
        self.timings["venv_mb"] = int(
            subprocess.run(
                ["du", "-sm", self.stack.venv], capture_output=True, text=True
            ).stdout.split()[0]
        )
        step = time.monotonic()
        self._configure()
        self.timings["configure_s"] = time.monotonic() - step
        step = time.monotonic()
        for name, program in SERVICES.items():
            argv = [f"{self.stack.venv}/bin/{program}",
                    "--config-file", f"{self.stack.etc}/cinder/cinder.conf",
                    "--config-dir", f"{self.stack.etc}/cinder/cinder.conf.d"]  # fmt: skip
            self.node.ssh(
                f"mkdir -p {NODE_LOGS}; nohup {shlex.join(argv)} > {NODE_LOGS}/{name}.log 2>&1 "
                f"< /dev/null & echo $! > {NODE_LOGS}/{name}.pid",
                sudo=True,
            )  # fmt: skip
        self._wait_up(time.monotonic() + timeout)
        self.timings["start_to_up_s"] = time.monotonic() - step
        self.timings["move_s"] = time.monotonic() - start
        return self

    def _configure(self):
        etc = os.path.join(self.stack.etc, "cinder")
        host = self._controller_host()
        files = {}
        for name in ["cinder.conf"] + [
            os.path.join("cinder.conf.d", f)
            for f in sorted(os.listdir(os.path.join(etc, "cinder.conf.d")))
        ]:
            with open(os.path.join(etc, name)) as f:
                files[name] = node_config(f.read(), host if name == "cinder.conf" else "",
                                          self.db_port)  # fmt: skip
        # the rest of the config dir as it is (paste, rootwrap, filters)
        self._stream_to_node([os.path.relpath(etc, "/")])
        data = os.path.join(self.stack.dest, "data", "cinder")
        self.node.ssh(f"mkdir -p {data}/locks {data}/backups", sudo=True)
        for name, text in files.items():
            # credentials: root-only files, never a command line
            self.node.ssh(f"umask 077; cat > {etc}/{name}", input=text, sudo=True)

    def _controller_host(self):
        with open(os.path.join(self.stack.etc, "cinder", "cinder.conf")) as f:
            found = re.search(r"^host\s*=\s*(\S+)", f.read(), re.M)
        return found.group(1) if found else socket.gethostname()

    def _wait_up(self, deadline):
        """Until both services on the node report to Cinder (their log says
        so: the volume service once its driver is initialized)."""
        marks = {"c-vol": "Driver initialization completed successfully",
                 "c-bak": "Starting cinder-backup node"}  # fmt: skip
        pending = dict(marks)
        start = time.monotonic()
        while pending:
            for name, mark in list(pending.items()):
                log = self.node.ssh(f"cat {NODE_LOGS}/{name}.log", sudo=True, check=False).stdout
                if mark in log:
                    self.timings[f"{name}_up_s"] = round(time.monotonic() - start, 1)
                    del pending[name]
                alive = self.node.ssh(f"kill -0 $(cat {NODE_LOGS}/{name}.pid)", sudo=True,
                                      check=False).returncode == 0  # fmt: skip
                if name in pending and not alive:
                    raise ServiceError(f"{name} on the node exited: {log[-3000:]}")
            if pending and time.monotonic() > deadline:
                raise ServiceError(f"not up on the node: {sorted(pending)}")
            time.sleep(2)
        # service reports every report_interval; give the scheduler one
        time.sleep(5)

    def dead(self):
        """The services that no longer run on the node, with the kernel's
        word on it if it killed them (the OOM killer)."""
        gone = {}
        for name in SERVICES:
            pid = self.node.ssh(f"cat {NODE_LOGS}/{name}.pid", sudo=True, check=False).stdout
            if self.node.ssh(f"kill -0 {pid.strip() or 0}", sudo=True, check=False).returncode:
                gone[name] = pid.strip()
        if gone:
            killed = self.node.ssh("dmesg | grep -i 'killed process' | tail -3", sudo=True,
                                   check=False).stdout.strip()  # fmt: skip
            gone["dmesg"] = killed
        return gone

    def logs(self):
        return {
            name: self.node.ssh(f"cat {NODE_LOGS}/{name}.log", sudo=True, check=False).stdout
            for name in SERVICES
        }

    def restore(self):
        """Stop the node's services; start the controller's again."""
        if not self.moved:
            return
        if self.node is not None and self.node.running():
            self.node.ssh(
                " ; ".join(f"kill $(cat {NODE_LOGS}/{n}.pid) 2>/dev/null" for n in SERVICES)
                + "; sleep 3; true",
                sudo=True, check=False,
            )  # fmt: skip
        for name in SERVICES:
            self._supervisor("start", name)
        self.moved = False
