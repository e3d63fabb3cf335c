"""The ZTSP lab: a switch, arrays, a controller and Cinder nodes in network namespaces.

::

                      ┌──────────── <prefix>-sw ──────────────┐
    <prefix>-arr1     │ lldpd -x ──AgentX── snmpd ──traps──▶  │──▶ <prefix>-ctl
      data0 ◀─veth──▶ │ swp1      (LLDP-MIB, IF-MIB, :161)    │      mgmt0 198.51.100.2
      lldpd (MAC,     │                                       │      ci-tools ztsp controller
      mgmt IP)        │ br-mgmt 198.51.100.1: m-ctl, m-arr1,  │
      mgmt0 .11       │                       m-node1         │──▶ <prefix>-node1
      array API :8780 └───────────────────────────────────────┘      mgmt0 198.51.100.21, sshd

Every address is in 198.51.100.0/24 (documentation range) inside namespaces
this module creates; no namespace has a default route, so nothing leaves the
lab. ``up`` refuses to build a lab whose subnet the host itself uses (some
machines sit on a documentation range): a controller started outside its
namespace by mistake would then reach real machines.

The array's data port starts down, as an array not yet cabled: :meth:`Lab.link`
brings it up or down, the switch port follows and snmpd sends linkUp/linkDown.

Two kinds of Cinder node (``cinder=``):

* ``agent`` (default): sshd for the user ``zuul`` and the node agent
  (``node_agent.py``, the Cinder venv), which loads the delivered section with
  Cinder's own code and starts the driver; seconds per restart, no database
  or message bus. The fast tests and the default benchmark use it.
* ``devstack``: a real DevStack-lite (``roles/devstack-lite``: MariaDB,
  RabbitMQ, Keystone, Glance, Cinder API, scheduler, volume and backup under
  supervisord, the refflash driver from ``drivers/refflash``) deployed *inside
  the node's namespace*: ansible-playbook runs there (``ip netns exec``), so
  every service it starts binds the namespace's own loopback and c-vol reaches
  the array's API on the lab's management network like any node on it. This
  was chosen over a veth from the host's root namespace into ``br-mgmt``:
  such a veth would put a lab address on the host (which ``up`` refuses, so a
  mistaken controller cannot reach real machines) and the stack's ports
  would share the host's loopback with other stacks (the devstack tests,
  the sandbox); in the namespace the role's ports are always free, nothing
  of the stack is reachable from outside the lab, and ``down`` finds every
  leftover (epmd included) by namespace. The controller logs in as root (the
  services run as root, as the Tempest job's ``become`` makes them) to write
  the gold copy into ``cinder.conf.d/`` and run ``cinder_volume.py refresh``
  (``supervisorctl restart c-vol`` and a wait until it serves). One
  DevStack-lite node per lab: its ``dest`` (by default the warm one the
  devstack tests share, ``$CI_KIT_ROOT/devstack-lite-test``) holds one stack.

``lab.json`` in the work dir records the lab (namespaces, addresses, the SNMP
community, the arrays' data MACs) so ``ci-tools ztsp lab down`` in another
process finds what to stop; the controller's own config (``ctl/ztsp.yaml``)
and secret store (``ctl/secrets.json``) are written beside it.
"""

import json
import logging
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import time

import yaml

import ci_tools
from ci_tools.errors import ServiceError, UsageError
from ci_tools.harness.process import ManagedProcess

LOG = logging.getLogger(__name__)

SUBNET = "198.51.100"
SWITCH_IP = f"{SUBNET}.1"
CONTROLLER_IP = f"{SUBNET}.2"
ARRAY_API_PORT = 8780
TRAP_PORT = 162
REPO = os.path.dirname(os.path.dirname(os.path.abspath(ci_tools.__file__)))
NODE_USER = "zuul"


def array_ip(index):
    return f"{SUBNET}.{10 + index}"


def node_ip(index):
    return f"{SUBNET}.{20 + index}"


def server_ip(index):
    return f"{SUBNET}.{30 + index}"


def run(argv, check=True):
    """Run a short command; failures name the command and its stderr."""
    proc = subprocess.run(argv, capture_output=True, text=True)
    if check and proc.returncode:
        raise ServiceError(f"{' '.join(argv)}: exit {proc.returncode}: {proc.stderr.strip()}")
    return proc


def ns_argv(ns, argv):
    return ["ip", "netns", "exec", ns, *argv]


def missing_tools():
    """Programs the lab needs that are not installed (Debian packages in bindep.txt)."""
    wanted = {
        "ip": "iproute2",
        "lldpd": "lldpd",
        "lldpcli": "lldpd",
        "snmpd": "snmpd",
        "snmpset": "snmp",
        "ssh": "openssh-client",
    }
    out = [f"{tool} ({pkg})" for tool, pkg in wanted.items() if not shutil.which(tool)]
    if not os.path.exists("/usr/sbin/sshd"):
        out.append("sshd (openssh-server)")
    try:
        pwd.getpwnam(NODE_USER)
    except KeyError:
        out.append(f"the node user {NODE_USER}")
    return out


def default_cinder_python():
    root = os.environ.get("CI_KIT_ROOT", "/opt/cinder-ci")
    return os.path.join(root, "cinder-venv", "bin", "python")


class Lab:
    """One lab; ``up()`` builds it, ``down()`` removes every namespace and process of it."""

    def __init__(
        self,
        work_dir,
        arrays=1,
        nodes=1,
        servers=0,
        prefix=None,
        cinder_python=None,
        restart_command=None,
        trap_port=TRAP_PORT,
        cinder="agent",
        devstack_dest=None,
    ):
        if not 1 <= arrays <= 9 or not 1 <= nodes <= 9 or not 0 <= servers <= 9:
            raise UsageError("a lab has 1 to 9 arrays, 1 to 9 nodes and 0 to 9 servers")
        if cinder not in ("agent", "devstack"):
            raise UsageError(f"cinder={cinder!r}: 'agent' or 'devstack'")
        if cinder == "devstack" and nodes != 1:
            raise UsageError("a lab has one DevStack-lite node (one stack per dest)")
        self.cinder = cinder
        self.devstack_dest = devstack_dest
        self.servers = servers
        self.work_dir = os.path.abspath(work_dir)
        self.arrays = arrays
        self.nodes = nodes
        # namespaces are global to the machine: a random prefix keeps runs apart
        self.prefix = prefix or f"ztsp{secrets.token_hex(3)}"
        self.cinder_python = cinder_python or default_cinder_python()
        self.restart_command = restart_command
        self.trap_port = trap_port
        self.community = secrets.token_hex(8)
        self.processes = []
        self.state = None

    # -- names ----------------------------------------------------------------

    @property
    def sw(self):
        return f"{self.prefix}-sw"

    @property
    def ctl(self):
        return f"{self.prefix}-ctl"

    def arr(self, i):
        return f"{self.prefix}-arr{i}"

    def node(self, i):
        return f"{self.prefix}-node{i}"

    def srv(self, i):
        return f"{self.prefix}-srv{i}"

    def namespaces(self):
        return (
            [self.sw, self.ctl]
            + [self.arr(i) for i in range(1, self.arrays + 1)]
            + [self.node(i) for i in range(1, self.nodes + 1)]
            + [self.srv(i) for i in range(1, self.servers + 1)]
        )

    def path(self, *parts):
        return os.path.join(self.work_dir, *parts)

    @property
    def state_path(self):
        return self.path("lab.json")

    # -- up -------------------------------------------------------------------

    def up(self):
        missing = missing_tools()
        if missing:
            raise ServiceError(f"missing: {', '.join(missing)}; run tools/test-setup.sh")
        if os.path.exists(self.state_path):
            raise UsageError(f"{self.state_path} exists: run 'ci-tools ztsp lab down' first")
        if self.cinder == "devstack":
            self._check_devstack_free()
        elif self.restart_command is None and not os.path.exists(self.cinder_python):
            raise UsageError(
                f"{self.cinder_python} missing: run tools/setup-cinder.sh, or give "
                "--restart-command for the nodes"
            )
        used = host_addresses_in(f"{SUBNET}.0/24")
        if used:
            raise UsageError(
                f"this host uses {', '.join(used)} in the lab's subnet {SUBNET}.0/24: "
                "the lab cannot be told apart from the real network"
            )
        os.makedirs(self.work_dir, exist_ok=True)
        # the node user reads its own dir under here (sshd, the node agent)
        os.chmod(self.work_dir, 0o755)
        self.state = {
            "prefix": self.prefix,
            "namespaces": [],
            "work_dir": self.work_dir,
            "cinder": self.cinder,
        }
        self._save()
        try:
            self._network()
            self._switch()
            for i in range(1, self.arrays + 1):
                self._array(i)
            for i in range(1, self.nodes + 1):
                self._node(i)
            for i in range(1, self.servers + 1):
                self._server(i)
            self._controller_files()
            self._save()
        except BaseException:
            self.down()
            raise
        return self.state

    def _devstack_dest(self):
        from ci_tools.harness.devstack import default_dest

        return os.path.abspath(self.devstack_dest or default_dest())

    def _check_devstack_free(self):
        """Refuse a dest whose supervisord runs: another stack (a test) is using it."""
        pid_file = os.path.join(self._devstack_dest(), "run", "supervisord.pid")
        try:
            with open(pid_file) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return
        if _alive(pid):
            raise UsageError(
                f"DevStack-lite in {self._devstack_dest()} is running (supervisord pid {pid}): "
                "another test or lab uses it; stop it or give another dest"
            )

    def _save(self):
        tmp = self.state_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.state, f, indent=2, sort_keys=True)
        os.replace(tmp, self.state_path)

    def _network(self):
        for ns in self.namespaces():
            run(["ip", "netns", "add", ns])
            self.state["namespaces"].append(ns)
            self._save()
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
        run(["ip", "-n", self.sw, "link", "add", "br-mgmt", "type", "bridge"])
        run(["ip", "-n", self.sw, "addr", "add", f"{SWITCH_IP}/24", "dev", "br-mgmt"])
        run(["ip", "-n", self.sw, "link", "set", "br-mgmt", "up"])
        self._mgmt_link("m-ctl", self.ctl, CONTROLLER_IP)
        for i in range(1, self.arrays + 1):
            self._mgmt_link(f"m-arr{i}", self.arr(i), array_ip(i))
            # the data cable: switch port swp<i> <-> the array's data0, left down
            self._veth(self.sw, f"swp{i}", self.arr(i), "data0")
            run(["ip", "-n", self.sw, "link", "set", f"swp{i}", "up"])
        for i in range(1, self.nodes + 1):
            self._mgmt_link(f"m-node{i}", self.node(i), node_ip(i))
        for i in range(1, self.servers + 1):
            self._veth(self.sw, f"swps{i}", self.srv(i), "eth0")
            run(["ip", "-n", self.sw, "link", "set", f"swps{i}", "up"])
            run(["ip", "-n", self.srv(i), "addr", "add", f"{server_ip(i)}/32", "dev", "lo"])

    def _veth(self, ns_a, name_a, ns_b, name_b):
        run(
            [
                "ip",
                "link",
                "add",
                name_a,
                "netns",
                ns_a,
                "type",
                "veth",
                "peer",
                "name",
                name_b,
                "netns",
                ns_b,
            ]
        )

    def _mgmt_link(self, port, ns, ip):
        self._veth(self.sw, port, ns, "mgmt0")
        run(["ip", "-n", self.sw, "link", "set", port, "master", "br-mgmt", "up"])
        run(["ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "mgmt0"])
        run(["ip", "-n", ns, "link", "set", "mgmt0", "up"])

    def _start(self, name, ns, argv, log, healthy=None, env=None, timeout=30):
        proc = ManagedProcess(
            name, ns_argv(ns, argv), self.path("logs", log), env=env, healthy=healthy
        )
        proc.start()
        self.processes.append(proc)
        self.state.setdefault("pids", {})[name] = proc.pid
        self._save()
        proc.wait_healthy(timeout=timeout, interval=0.1)
        return proc

    def _log_says(self, log, text):
        def check():
            try:
                with open(self.path("logs", log), errors="replace") as f:
                    return text in f.read()
            except OSError:
                return False

        return check

    def _switch(self):
        d = self.path("sw")
        os.makedirs(os.path.join(d, "snmp"), exist_ok=True)
        rw = secrets.token_hex(8)
        conf = os.path.join(d, "snmpd.conf")
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(render_snmpd_conf(self.community, rw, CONTROLLER_IP, self.trap_port))
        env = dict(os.environ, SNMP_PERSISTENT_DIR=os.path.join(d, "snmp"), SNMPCONFPATH=d)
        self._start(
            "snmpd",
            self.sw,
            ["snmpd", "-f", "-Lo", "-C", "-c", conf, "-p", os.path.join(d, "snmpd.pid")],
            "sw-snmpd.log",
            healthy=self._log_says("sw-snmpd.log", "NET-SNMP version"),
            env=env,
        )
        # Link changes reach the trap monitor only when IF-MIB's cache is
        # stale; by default it holds a few seconds. 0 = read the kernel each time.
        deadline = time.monotonic() + 10
        while True:
            proc = run(
                ns_argv(
                    self.sw,
                    [
                        "snmpset",
                        "-v2c",
                        "-c",
                        rw,
                        "-t",
                        "1",
                        "-r",
                        "0",
                        "127.0.0.1",
                        IFTABLE_CACHE_TIMEOUT,
                        "i",
                        "0",
                    ],
                ),
                check=False,
            )
            if proc.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise ServiceError(f"snmpd: cannot set the ifTable cache: {proc.stderr.strip()}")
            time.sleep(0.2)
        lconf = os.path.join(d, "lldpd.conf")
        with open(lconf, "w") as f:
            f.write("configure system hostname lab-switch\nconfigure lldp tx-interval 1\n")
        self._start(
            "sw-lldpd",
            self.sw,
            [
                "lldpd",
                "-d",
                "-x",
                "-X",
                "tcp:127.0.0.1:705",
                "-I",
                "swp*",
                "-u",
                os.path.join(d, "lldpd.socket"),
                "-O",
                lconf,
                "-k",
            ],
            "sw-lldpd.log",
            healthy=self._socket(os.path.join(d, "lldpd.socket")),
        )

    def _socket(self, path):
        return lambda: os.path.exists(path)

    def _array(self, i):
        d = self.path(f"arr{i}")
        os.makedirs(d, exist_ok=True)
        password = secrets.token_urlsafe(12)
        pw_file = os.path.join(d, "password")
        fd = os.open(pw_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(password)
        data_dir = os.path.join(d, "data")
        self._start(
            f"array{i}",
            self.arr(i),
            [
                sys.executable,
                "-m",
                "ci_tools.cli",
                "array",
                "serve",
                "--data-dir",
                data_dir,
                "--host",
                array_ip(i),
                "--port",
                str(ARRAY_API_PORT),
                "--name",
                f"refflash-{i}",
                "--password-file",
                pw_file,
                "--iscsi-ports",
                "none",
            ],
            f"arr{i}-api.log",
            env=dict(os.environ, PYTHONPATH=REPO),
            healthy=self._log_says(f"arr{i}-api.log", " serving "),
        )
        with open(os.path.join(data_dir, "endpoint.json")) as f:
            serial = json.load(f)["serial"]
        info = json.loads(run(["ip", "-n", self.arr(i), "-j", "link", "show", "data0"]).stdout)
        mac = info[0]["address"]
        lconf = os.path.join(d, "lldpd.conf")
        with open(lconf, "w") as f:
            # the array announces its data port by MAC and where its API is
            f.write(
                f"configure system hostname refflash-{serial.lower()}\n"
                "configure lldp portidsubtype macaddress\n"
                "configure lldp tx-interval 1\n"
            )
        sock = os.path.join(d, "lldpd.socket")
        self._start(
            f"arr{i}-lldpd",
            self.arr(i),
            [
                "lldpd",
                "-d",
                "-I",
                "data0",
                "-C",
                "data0",
                "-m",
                array_ip(i),
                "-S",
                f"RefFlash reference array {serial}",
                "-u",
                sock,
                "-O",
                lconf,
                "-k",
                "-i",
            ],
            f"arr{i}-lldpd.log",
            healthy=self._socket(sock),
        )
        self.state.setdefault("arrays", []).append(
            {
                "index": i,
                "namespace": self.arr(i),
                "mgmt_ip": array_ip(i),
                "api_port": ARRAY_API_PORT,
                "serial": serial,
                "data_mac": mac,
                "switch_port": f"swp{i}",
                "data_dir": data_dir,
                "username": "admin",
            }
        )
        self._secret(mac, {"username": "admin", "password": password})

    def _server(self, i):
        """A neighbour that is not an array: a Linux host announcing itself over LLDP."""
        d = self.path(f"srv{i}")
        os.makedirs(d, exist_ok=True)
        lconf = os.path.join(d, "lldpd.conf")
        with open(lconf, "w") as f:
            f.write(f"configure system hostname server-{i}\nconfigure lldp tx-interval 1\n")
        sock = os.path.join(d, "lldpd.socket")
        self._start(
            f"srv{i}-lldpd",
            self.srv(i),
            [
                "lldpd",
                "-d",
                "-I",
                "eth0",
                "-m",
                server_ip(i),
                "-S",
                "Debian GNU/Linux",
                "-u",
                sock,
                "-O",
                lconf,
                "-k",
                "-i",
            ],
            f"srv{i}-lldpd.log",
            healthy=self._socket(sock),
        )
        self.state.setdefault("servers", []).append(
            {"index": i, "namespace": self.srv(i), "switch_port": f"swps{i}"}
        )

    def link_server(self, index, up):
        run(["ip", "-n", self.srv(index), "link", "set", "eth0", "up" if up else "down"])

    def _secret(self, mac, creds):
        path = self.path("ctl", "secrets.json")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        data = {"arrays": {}}
        if os.path.exists(path):
            with open(path) as f:
                data = json.load(f)
        data["arrays"][mac] = creds
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True)

    def _node_sshd(self, i, user, d):
        """sshd in node ``i``'s namespace for ``user``, with the controller's key."""
        ssh = self.path("ctl", "ssh")
        os.makedirs(ssh, exist_ok=True)
        key = os.path.join(ssh, "id_ed25519")
        if not os.path.exists(key):
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ztsp-controller", "-f", key])
        sshd_dir = os.path.join(d, "sshd")
        os.makedirs(sshd_dir, exist_ok=True)
        host_key = os.path.join(sshd_dir, "ssh_host_ed25519_key")
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", host_key])
        shutil.copy(key + ".pub", os.path.join(sshd_dir, "authorized_keys"))
        os.chmod(os.path.join(sshd_dir, "authorized_keys"), 0o644)
        with open(host_key + ".pub") as f:
            host_pub = f.read().split()
        with open(os.path.join(ssh, "known_hosts"), "a") as f:
            f.write(f"{node_ip(i)} {host_pub[0]} {host_pub[1]}\n")
        cfg = os.path.join(sshd_dir, "sshd_config")
        with open(cfg, "w") as f:
            f.write(render_sshd_config(node_ip(i), sshd_dir, user))
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self._start(
            f"node{i}-sshd",
            self.node(i),
            ["/usr/sbin/sshd", "-D", "-e", "-f", cfg],
            f"node{i}-sshd.log",
            healthy=self._log_says(f"node{i}-sshd.log", "Server listening"),
        )

    def _devstack_node(self, i):
        """Node ``i`` as a real DevStack-lite, deployed inside its namespace."""
        d = self.path(f"node{i}")
        os.makedirs(d, exist_ok=True)
        self._node_sshd(i, "root", d)
        dest = self._devstack_dest()
        node = {
            "name": f"node{i}",
            "namespace": self.node(i),
            "address": node_ip(i),
            "user": "root",
            "kind": "devstack",
            "devstack": {"dest": dest, "work_dir": os.path.join(d, "devstack")},
            "iqn": f"iqn.2010-10.org.openstack:{self.prefix}-node{i}",
        }
        # recorded before the deploy: down() must stop a half-deployed stack too
        self.state.setdefault("nodes", []).append(node)
        self._save()
        stack = self._stack(node)
        t0 = time.monotonic()
        proc = stack.play("test-playbooks/devstack-lite/deploy.yaml", log_name="deploy")
        if proc.returncode:
            tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-15:])
            raise ServiceError(
                f"DevStack-lite on node{i} failed (log {stack.work_dir}/deploy.log):\n{tail}"
            )
        node["devstack"]["deploy_seconds"] = round(time.monotonic() - t0, 1)
        node["devstack"]["ports"] = stack.ports
        etc = os.path.join(dest, "etc", "cinder")
        node.update(
            config_file=os.path.join(etc, "cinder.conf"),
            config_dir=os.path.join(etc, "cinder.conf.d"),
            gold_copy=os.path.join(etc, "cinder.conf.d", "ztsp.conf"),
            restart_command=(
                f"env PYTHONPATH={REPO} {stack.venv}/bin/python -m ci_tools.ztsp.cinder_volume "
                f"refresh --dest {dest}"
            ),
        )
        self._save()

    def _stack(self, node):
        from ci_tools.harness.devstack import DevStackLite

        return DevStackLite(
            node["devstack"]["work_dir"],
            dest=node["devstack"]["dest"],
            netns=node["namespace"],
            extra_vars={
                # the driver the gold copy names, as the Tempest job installs it
                "devstack_lite_extra_src": [os.path.join(REPO, "drivers", "refflash")],
                # services named after the lab's node (node1@ztsp-<serial>); an
                # uncabled backend's service shows down seconds later, not 60 s
                "devstack_lite_cinder_extra": {
                    "host": node["name"],
                    "report_interval": 2,
                    "service_down_time": 10,
                },
            },
        )

    def devstack(self, index=1):
        """The DevStackLite of node ``index`` (openstack CLI, ports, password)."""
        node = self.state["nodes"][index - 1]
        if node.get("kind") != "devstack":
            raise UsageError(f"node{index} is not a DevStack-lite node")
        return self._stack(node)

    def _node_code(self):
        """The node agent's code (ci_tools and the refflash driver) in the lab's
        dir, readable by the node user: a clone of this repo under a private
        dir (mode 0700, as mktemp makes them) is not."""
        dest = self.path("node-code")
        if not os.path.isdir(dest):
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
            shutil.copytree(os.path.join(REPO, "ci_tools"), os.path.join(dest, "ci_tools"),
                            ignore=ignore)  # fmt: skip
            shutil.copytree(os.path.join(REPO, "drivers", "refflash"),
                            os.path.join(dest, "refflash"), ignore=ignore)  # fmt: skip
            for root, _dirs, files in os.walk(dest):
                os.chmod(root, 0o755)
                for name in files:
                    os.chmod(os.path.join(root, name), 0o644)
        return dest

    def _node(self, i):
        if self.cinder == "devstack":
            return self._devstack_node(i)
        d = self.path(f"node{i}")
        user = pwd.getpwnam(NODE_USER)
        for sub in ("", "etc/cinder/cinder.conf.d", "state", "ssh"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        with open(os.path.join(d, "etc", "cinder", "cinder.conf"), "w") as f:
            f.write(f"[DEFAULT]\nhost = node{i}\nstate_path = {d}/state\n")
        for root, dirs, _files in os.walk(d):
            for name in ["."] + dirs:
                os.chown(os.path.join(root, name), user.pw_uid, user.pw_gid)
        self._node_sshd(i, NODE_USER, d)
        conf = os.path.join(d, "etc", "cinder", "cinder.conf")
        conf_dir = os.path.join(d, "etc", "cinder", "cinder.conf.d")
        code = self._node_code()
        restart = self.restart_command or (
            f"env PYTHONPATH={code}:{os.path.join(code, 'refflash')} "
            f"{self.cinder_python} -W ignore -m ci_tools.ztsp.node_agent restart "
            f"--config-file {conf} --config-dir {conf_dir} --state-dir {d}/state"
        )
        self.state.setdefault("nodes", []).append(
            {
                "name": f"node{i}",
                "namespace": self.node(i),
                "address": node_ip(i),
                "user": NODE_USER,
                "config_file": conf,
                "config_dir": conf_dir,
                "gold_copy": os.path.join(conf_dir, "ztsp.conf"),
                "state_dir": f"{d}/state",
                "restart_command": restart,
                "kind": "agent",
                "iqn": f"iqn.2010-10.org.openstack:{self.prefix}-node{i}",
            }
        )

    def _controller_files(self):
        with open(os.path.join(REPO, "tempest-config", "iscsi", "backend.yaml")) as f:
            backend = yaml.safe_load(f)
        ssh = self.path("ctl", "ssh")
        config = {
            "listen": {"address": CONTROLLER_IP, "port": self.trap_port},
            "switches": [{"name": "lab-switch", "address": SWITCH_IP, "community": self.community}],
            "secrets": {"backend": "file", "path": self.path("ctl", "secrets.json")},
            "state_dir": self.path("ctl", "state"),
            "array_pattern": "RefFlash",
            "backend": {
                "driver": backend["driver"],
                "options": backend["options"],
                "name_prefix": "ztsp",
            },
            "nodes": [
                {
                    "name": n["name"],
                    "address": n["address"],
                    "user": n["user"],
                    "ssh_key": os.path.join(ssh, "id_ed25519"),
                    "known_hosts": os.path.join(ssh, "known_hosts"),
                    "gold_copy": n["gold_copy"],
                    "restart_command": n["restart_command"],
                    "iqn": n["iqn"],
                }
                for n in self.state["nodes"]
            ],
        }
        path = self.path("ctl", "ztsp.yaml")
        with open(path, "w") as f:
            yaml.safe_dump(config, f, sort_keys=False)
        self.state["controller"] = {"namespace": self.ctl, "config": path, "address": CONTROLLER_IP}
        self.state["switch"] = {
            "namespace": self.sw,
            "address": SWITCH_IP,
            "community": self.community,
        }

    # -- use ------------------------------------------------------------------

    def link(self, index, up):
        """Cable (up) or uncable (down) array ``index``'s data port."""
        ns = self.arr(index)
        run(["ip", "-n", ns, "link", "set", "data0", "up" if up else "down"])

    # -- down -----------------------------------------------------------------

    def down(self):
        """Stop every process in the lab's namespaces, then delete the namespaces."""
        for proc in reversed(self.processes):
            try:
                proc.stop(timeout=10)
            except ServiceError as exc:
                LOG.warning("%s", exc)
        self.processes = []
        for node in (self.state or {}).get("nodes", []):
            if node.get("kind") == "devstack":
                # supervisord first (MariaDB and RabbitMQ stop cleanly); the
                # namespace sweep below takes what escaped it (epmd)
                self._stack(node).shutdown()
        namespaces = (self.state or {}).get("namespaces") or self.namespaces()
        teardown(namespaces)
        if os.path.exists(self.state_path):
            os.unlink(self.state_path)

    @classmethod
    def load(cls, work_dir):
        path = os.path.join(os.path.abspath(work_dir), "lab.json")
        try:
            with open(path) as f:
                state = json.load(f)
        except (OSError, ValueError) as exc:
            raise UsageError(f"{path}: no lab here ({exc})") from exc
        lab = cls(
            work_dir,
            arrays=max(1, len(state.get("arrays", []))),
            nodes=max(1, len(state.get("nodes", []))),
            servers=len(state.get("servers", [])),
            prefix=state["prefix"],
            restart_command="",
            cinder=state.get("cinder", "agent"),
        )
        lab.state = state
        lab.community = state.get("switch", {}).get("community", lab.community)
        return lab


def host_addresses_in(network):
    """Addresses of this (root namespace) host inside ``network``."""
    import ipaddress

    net = ipaddress.ip_network(network)
    out = json.loads(run(["ip", "-j", "addr", "show"]).stdout or "[]")
    return [
        a["local"]
        for link in out
        for a in link.get("addr_info", [])
        if a.get("family") == "inet" and ipaddress.ip_address(a["local"]) in net
    ]


def existing_namespaces():
    out = run(["ip", "netns", "list"], check=False).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def teardown(namespaces, timeout=10):
    """Kill what runs in ``namespaces`` (ours by construction), then delete them."""
    present = [ns for ns in namespaces if ns in existing_namespaces()]
    pids = set()
    for ns in present:
        out = run(["ip", "netns", "pids", ns], check=False).stdout
        pids.update(int(p) for p in out.split() if p.isdigit())
    for pid in pids:
        _kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pids and time.monotonic() < deadline:
        pids = {p for p in pids if _alive(p)}
        time.sleep(0.1)
    for pid in pids:
        LOG.warning("pid %s ignored SIGTERM, killing", pid)
        _kill(pid, signal.SIGKILL)
    for ns in present:
        run(["ip", "netns", "del", ns], check=False)


def _kill(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


IF_ENTRY = ".1.3.6.1.2.1.2.2.1"
# NET-SNMP-AGENT-MIB::nsCacheTimeout.<ifTable OID> (an IMPLIED index)
IFTABLE_CACHE_TIMEOUT = ".1.3.6.1.4.1.8072.1.5.3.1.2.1.3.6.1.2.1.2.2"


def render_snmpd_conf(community, rw_community, trap_host, trap_port):
    """The switch's snmpd: LLDP-MIB from lldpd over AgentX, link traps every second."""
    return f"""# written by ci-tools ztsp lab
agentaddress udp:{SWITCH_IP}:161,udp:127.0.0.1:161
rocommunity {community} {SUBNET}.0/24
rwcommunity {rw_community} 127.0.0.1
master agentx
agentXSocket tcp:127.0.0.1:705
# the DisMan monitor queries the agent itself as this user
createUser internalUser
rouser internalUser noauth
iquerySecName internalUser
trap2sink {trap_host}:{trap_port} {community}
# numeric OIDs: Debian ships no IETF MIB files (linkUp, linkDown; ifIndex,
# ifAdminStatus, ifOperStatus)
notificationEvent linkUpTrap .1.3.6.1.6.3.1.1.5.4 {IF_ENTRY}.1 {IF_ENTRY}.7 {IF_ENTRY}.8
notificationEvent linkDownTrap .1.3.6.1.6.3.1.1.5.3 {IF_ENTRY}.1 {IF_ENTRY}.7 {IF_ENTRY}.8
# -S: no trap for ports already up at start; -r 1: look every second
monitor -S -r 1 -e linkUpTrap "Generate linkUp" {IF_ENTRY}.8 != 2
monitor -S -r 1 -e linkDownTrap "Generate linkDown" {IF_ENTRY}.8 == 2
"""


def render_sshd_config(address, sshd_dir, user):
    # root only where it is the one user (a DevStack-lite node), by key only
    root = "prohibit-password" if user == "root" else "no"
    return (
        f"Port 22\nListenAddress {address}\n"
        f"HostKey {sshd_dir}/ssh_host_ed25519_key\n"
        f"PidFile {sshd_dir}/sshd.pid\n"
        f"AuthorizedKeysFile {sshd_dir}/authorized_keys\n"
        f"AllowUsers {user}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        f"PermitRootLogin {root}\nUsePAM no\nStrictModes no\n"
    )
