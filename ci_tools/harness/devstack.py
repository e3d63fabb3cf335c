"""DevStack-lite on this machine, through the real roles, for tests and benchmarks.

Deploys with ``roles/devstack-lite`` (and the backend, Tempest and cleanup
roles after it) on localhost with Zuul's Ansible, everything under one
``dest`` dir: venv, data, logs and the config root (``dest/etc``, never
``/etc``). A dest that survives between runs is a warm node; a new one is a
cold node. Cinder comes from PyPI unless a source tree is given.
"""

import json
import os
import socket
import subprocess
import time

from ci_tools.harness.playbook import run_playbook
from ci_tools.harness.ports import free_port
from ci_tools.harness.zuul_daemons import kit_root

# The role's ports shifted by 10000: clear of a real DevStack on the host.
PREFERRED_PORTS = {
    "keystone": 15000,
    "glance": 19292,
    "cinder": 18776,
    "rabbitmq": 15672,
    "rabbitmq_dist": 35672,
    "epmd": 14370,
}


def default_dest():
    """The warm node the functional tests share (outside /tmp, like the other venvs)."""
    return os.environ.get("CI_KIT_DEVSTACK_DEST", os.path.join(kit_root(), "devstack-lite-test"))


def _port(preferred):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            return free_port()


class DevStackLite:
    """One deployment; with ``netns`` every service runs inside that network namespace.

    In a namespace of its own the stack has a loopback of its own: the
    preferred ports are always free there, so they are used as they are (no
    probing of the host's loopback), which keeps a warm dest's catalog.
    """

    def __init__(self, work_dir, dest=None, cinder_src="", extra_vars=None, netns=None):
        self.work_dir = work_dir
        self.dest = dest or default_dest()
        self.etc = os.path.join(self.dest, "etc")
        self.netns = netns
        if netns:
            self.ports = dict(PREFERRED_PORTS)
        else:
            self.ports = {name: _port(port) for name, port in PREFERRED_PORTS.items()}
        self.vars = {
            "devstack_lite_dest": self.dest,
            "devstack_lite_etc": self.etc,
            "devstack_lite_cinder_src": cinder_src,
            "devstack_lite_keystone_port": self.ports["keystone"],
            "devstack_lite_glance_port": self.ports["glance"],
            "devstack_lite_cinder_port": self.ports["cinder"],
            "devstack_lite_rabbitmq_port": self.ports["rabbitmq"],
            "devstack_lite_rabbitmq_dist_port": self.ports["rabbitmq_dist"],
            "devstack_lite_epmd_port": self.ports["epmd"],
            # Tempest's workspace and output beside the test's other files
            "run_tempest_workspace": os.path.join(work_dir, "tempest"),
            "run_tempest_output": os.path.join(work_dir, "tempest-output"),
            "array_cleanup_tempest_pid_file": os.path.join(
                work_dir, "tempest-output", "tempest.pid"
            ),
        }
        self.vars.update(extra_vars or {})

    @property
    def venv(self):
        return os.path.join(self.dest, "venv")

    def play(self, playbook, extra=None, log_name=None, timeout=3600, env=None):
        """Run a playbook against this deployment; returns the CompletedProcess."""
        return run_playbook(
            playbook,
            self.work_dir,
            dict(self.vars, **(extra or {})),
            timeout=timeout,
            log_name=log_name,
            env=env,
            netns=self.netns,
        )

    def env(self):
        """Environment for the openstack CLI as the admin of this cloud."""
        return dict(
            os.environ,
            PATH=os.path.join(self.venv, "bin") + ":" + os.environ.get("PATH", ""),
            OS_CLIENT_CONFIG_FILE=os.path.join(self.dest, "clouds.yaml"),
            OS_CLOUD="devstack-admin",
        )

    def openstack(self, *args):
        """Run the openstack CLI (JSON output) and return the parsed answer."""
        netns = ["ip", "netns", "exec", self.netns] if self.netns else []
        out = subprocess.run(
            [*netns, os.path.join(self.venv, "bin", "openstack"), *args, "-f", "json"],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if out.returncode:
            raise RuntimeError(f"openstack {' '.join(args)}: {out.stderr.strip()[-800:]}")
        return json.loads(out.stdout or "null")

    def state(self):
        with open(os.path.join(self.dest, "devstack-lite.json")) as f:
            return json.load(f)

    def password(self):
        with open(os.path.join(self.dest, "password")) as f:
            return f.read().strip()

    def shutdown(self):
        """Stop every service of the deployment (its data stays for a warm start)."""
        ctl = os.path.join(self.venv, "bin", "supervisorctl")
        conf = os.path.join(self.dest, "supervisord.conf")
        if not (os.path.exists(ctl) and os.path.exists(conf)):
            return
        try:
            with open(os.path.join(self.dest, "run", "supervisord.pid")) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return
        subprocess.run([ctl, "-c", conf, "shutdown"], capture_output=True, timeout=120)
        # supervisord exits once every service stopped (RabbitMQ takes seconds)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.5)
