"""zuul.conf and the Zuul daemons (scheduler, executor, web, launcher).

Zuul runs from its own venv (``$CI_KIT_ROOT/zuul``, built by
tools/test-setup.sh with the system python): its pins (SQLAlchemy 2.0,
Ansible through zuul-manage-ansible) must not mix with ours. Every daemon
runs in the foreground (``-f``) and exposes Zuul's own ``/health/ready`` on
a loopback monitoring port, which is how we know it is up.
"""

import configparser
import hashlib
import os
import secrets
import subprocess

import requests

from ci_tools.errors import ServiceError
from ci_tools.harness.ports import free_port
from ci_tools.harness.process import ManagedProcess

SERVICES = ("scheduler", "executor", "web", "launcher")


# ssh's ControlPath (<job_dir>/<build uuid>/.ansible/cp/<10 hex> plus a
# 17-character temp suffix while the master starts) must stay under the
# 108-byte limit of a unix socket path, or every node is UNREACHABLE.
CONTROL_PATH_TAIL = len("/0123456789abcdef0123456789abcdef/.ansible/cp/0123456789.0123456789abcdef")


def short_job_dir(work_dir):
    """``<work_dir>/j`` when ssh's control sockets fit under it, else a short
    directory under /var/tmp named after the work dir."""
    job_dir = os.path.join(os.path.abspath(work_dir), "j")
    if len(job_dir) + CONTROL_PATH_TAIL < 108:
        return job_dir
    digest = hashlib.sha1(os.path.abspath(work_dir).encode()).hexdigest()[:10]
    return os.path.join("/var/tmp", f"zj-{digest}")


def kit_root():
    """Where tools/test-setup.sh puts the venvs: outside /tmp so bubblewrap can see them."""
    return os.environ.get("CI_KIT_ROOT", "/opt/cinder-ci")


def zuul_venv():
    return os.environ.get("CI_KIT_ZUUL_VENV", os.path.join(kit_root(), "zuul"))


def ansible_root():
    return os.environ.get("CI_KIT_ZUUL_ANSIBLE", os.path.join(kit_root(), "zuul-ansible"))


def zuul_bin(name):
    path = os.path.join(zuul_venv(), "bin", name)
    if not os.path.exists(path):
        raise ServiceError(f"{path} not found: run tools/test-setup.sh to build the Zuul venv")
    return path


class ZuulConfig:
    """Writes zuul.conf for one work dir; ``connections`` maps name -> options."""

    def __init__(self, work_dir, zookeeper, database_uri, tenant_config, connections, options=None):
        self.work_dir = work_dir
        self.home = os.path.join(work_dir, "zuul")
        self.path = os.path.join(self.home, "zuul.conf")
        self.state = os.path.join(work_dir, "zuul", "state")
        self.job_dir = short_job_dir(work_dir)
        self.zookeeper = zookeeper
        self.database_uri = database_uri
        self.tenant_config = tenant_config
        self.connections = connections
        self.options = options or {}
        self.web_port = free_port()
        self.health_ports = {name: free_port() for name in SERVICES}
        self.ssh_key = os.path.join(work_dir, "zuul", "id_ed25519")

    @property
    def web_url(self):
        return f"http://127.0.0.1:{self.web_port}"

    def _ensure_ssh_key(self):
        if not os.path.exists(self.ssh_key):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "zuul-executor",
                 "-f", self.ssh_key],
                check=True,
            )  # fmt: skip

    def _keystore_password(self):
        """Stable per work dir: ZooKeeper keeps project keys encrypted with it."""
        path = os.path.join(os.path.dirname(self.path), "keystore-password")
        if not os.path.exists(path):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(24))
        with open(path) as f:
            return f.read().strip()

    def write(self):
        for path in (self.state, self.job_dir, os.path.dirname(self.path)):
            os.makedirs(path, exist_ok=True)
        self._ensure_ssh_key()
        cfg = configparser.ConfigParser(interpolation=None)
        zk = self.zookeeper
        cfg["zookeeper"] = {
            "hosts": zk.hosts,
            "tls_cert": zk.client_cert,
            "tls_key": zk.client_key,
            "tls_ca": zk.ca.ca_cert,
            "session_timeout": "40",
        }
        cfg["keystore"] = {"password": self._keystore_password()}
        cfg["database"] = {"dburi": self.database_uri}
        cfg["scheduler"] = {
            "tenant_config": self.tenant_config,
            "state_dir": self.state,
            "command_socket": os.path.join(self.state, "scheduler.socket"),
            "pidfile": os.path.join(self.state, "scheduler.pid"),
            "git_dir": os.path.join(self.state, "scheduler-git"),
        }
        cfg["merger"] = {
            "git_dir": os.path.join(self.state, "merger-git"),
            "git_user_email": "zuul@sandbox.invalid",
            "git_user_name": "Zuul",
        }
        cfg["executor"] = {
            "state_dir": self.state,
            "job_dir": self.job_dir,
            "git_dir": os.path.join(self.state, "executor-git"),
            "command_socket": os.path.join(self.state, "executor.socket"),
            "pidfile": os.path.join(self.state, "executor.pid"),
            "finger_port": str(free_port()),
            "hostname": "127.0.0.1",
            "private_key_file": self.ssh_key,
            "default_username": "zuul",
            "ansible_root": ansible_root(),
            "manage_ansible": "false",
            # The sandbox machine is small and shared; do not refuse jobs on load.
            "load_multiplier": "100",
            "min_avail_mem": "1",
            "min_avail_hdd": "1",
            # A job holds cinder's and os-brick's checkouts plus its logs: Zuul's
            # 250 MB default ends real jobs (and, near the edge, quick ones) as
            # DISK_FULL. A production executor needs the same headroom.
            "disk_limit_per_job": "5000",
        }
        cfg["web"] = {
            "listen_address": "127.0.0.1",
            "port": str(self.web_port),
            "root": self.web_url + "/",
            "command_socket": os.path.join(self.state, "web.socket"),
            "pidfile": os.path.join(self.state, "web.pid"),
        }
        cfg["launcher"] = {
            "command_socket": os.path.join(self.state, "launcher.socket"),
            "pidfile": os.path.join(self.state, "launcher.pid"),
            "temp_dir": os.path.join(self.state, "launcher-tmp"),
        }
        for name, port in self.health_ports.items():
            cfg[name]["prometheus_port"] = str(port)
            cfg[name]["prometheus_addr"] = "127.0.0.1"
        for section, options in self.options.items():
            if section not in cfg:  # e.g. "auth sandbox"
                cfg[section] = {}
            cfg[section].update({k: str(v) for k, v in options.items()})
        for name, options in self.connections.items():
            cfg[f"connection {name}"] = {k: str(v) for k, v in options.items()}
        with open(self.path, "w") as f:
            cfg.write(f)
        os.chmod(self.path, 0o600)
        return self.path


class ZuulService:
    def __init__(self, name, config):
        if name not in SERVICES:
            raise ServiceError(f"unknown Zuul service {name!r}; choose from {', '.join(SERVICES)}")
        self.name = name
        self.config = config
        self.health_url = f"http://127.0.0.1:{config.health_ports[name]}/health/ready"
        log = os.path.join(config.work_dir, "logs", f"zuul-{name}.log")
        if name == "executor":
            python = os.path.join(zuul_venv(), "bin", "python3")
            # -I keeps this package's directory off sys.path inside Zuul's venv.
            wrapper = os.path.join(os.path.dirname(__file__), "loopback_executor.py")
            argv = [python, "-I", wrapper]
        else:
            argv = [zuul_bin(f"zuul-{name}")]
        argv += ["-c", config.path, "-f", "-d"]
        env = dict(os.environ)
        # Zuul's venv must win over whatever venv runs us (tox, the CLI).
        env["PATH"] = os.path.join(zuul_venv(), "bin") + os.pathsep + env.get("PATH", "")
        env.pop("PYTHONPATH", None)
        env.pop("VIRTUAL_ENV", None)
        self.process = ManagedProcess(
            f"zuul-{name}", argv, log, env=env, cwd=config.home, healthy=self._healthy
        )

    def _healthy(self):
        return requests.get(self.health_url, timeout=2).status_code == 200

    def start(self):
        self.process.start()

    def wait_healthy(self, timeout=180):
        self.process.wait_healthy(timeout=timeout)

    def stop(self):
        self.process.stop(timeout=30)
