"""The data-path phase on this machine: Cinder, the array and a compute node, as the job has them.

Brings up, for tests and benchmarks: the reference array with tgtd's two
portals on a :class:`~ci_tools.harness.data_plane.DataPlane`, DevStack-lite
with the array's driver through the Tempest job's own pre-run playbook (so
the backend is configured exactly as in the job), and a
:class:`~ci_tools.harness.compute_node.ComputeNode` that reaches Keystone,
cinder-api and the array's REST API at the controller address.
:meth:`CinderDataPath.run` runs ``roles/data-path/files/data_path_tests.py``
on the node, as the data-path role does, with the role's venv (os-brick and
the Cinder client at master's upper-constraints, built here and cached by
:mod:`~ci_tools.harness.data_path_venv`, unpacked on the node as
``/opt/data-path-venv``), not the image's Debian os-brick, and returns its
results and what ran them (``node_info``: Python, each library's version and
file).

The node is given array access (``DATA_PATH_ARRAY_*``), so the tests that
can look at the array (leftovers after a failed attach, controllers offline)
do.
"""

import json
import os
import shlex
import subprocess
import time

from ci_tools.array.fixture import ArrayFixture
from ci_tools.harness import data_path_venv, node_image
from ci_tools.harness.compute_node import CONTROLLER_ADDRESS, ComputeNode
from ci_tools.harness.data_plane import DataPlane
from ci_tools.harness.devstack import DevStackLite
from ci_tools.harness.playbook import REPO

FILES = os.path.join(REPO, "roles", "data-path", "files")
WORKSPACE = "/tmp/data-path"
# MariaDB listens on a unix socket only (skip-networking): the node reaches it
# at CONTROLLER_ADDRESS on this port, each connection a socat to the socket
NODE_DB_PORT = 13306


def node_env_file(env):
    """``env`` as lines a POSIX shell sources (values quoted)."""
    return "".join(f"{k}={shlex.quote(str(v))}\n" for k, v in sorted(env.items()))


class CinderDataPath:
    def __init__(self, work_dir, node_services=False, node_memory_mb=1024):
        self.work = work_dir
        # the node also reaches Glance, RabbitMQ and MariaDB, so it can run
        # cinder-volume and cinder-backup (node_cinder_services)
        self.node_services = node_services
        self.node_memory_mb = node_memory_mb
        self.plane = self.array = self.stack = self.node = None
        # the packed venv the node runs the tests with (data_path_venv.build)
        self.venv = None
        self.timings = {}
        # data_path_tests.py's record of what ran the tests, after run()
        self.node_info = None

    def up(self):
        try:
            self._up()
        except BaseException:
            self.down()
            raise
        return self

    def _up(self):
        start = time.monotonic()
        image, _ = node_image.build()
        venv_start = time.monotonic()
        self.venv = data_path_venv.build()
        self.timings["venv_build_s"] = time.monotonic() - venv_start
        self.plane = DataPlane().up()
        self.array = ArrayFixture(
            os.path.join(self.work, "array"), pools={"pool-a": 200, "pool-b": 200},
            extra_args=["--iscsi-netns", self.plane.netns,
                        "--iscsi-portal-ips", ",".join(self.plane.portal_ips)],
        ).start()  # fmt: skip
        self.stack = DevStackLite(
            self.work,
            extra_vars={
                "tempest_protocol": "iscsi",
                "tempest_config_dir": os.path.join(REPO, "tempest-config"),
                "devstack_lite_extra_src": [os.path.join(REPO, "drivers", "refflash")],
                # the job's secret, as Zuul hands it to the playbook
                "refflash_ci_array": {
                    "san_login": self.array.username,
                    "san_password": self.array.password,
                },
                "configure_cinder_backend_options": {"san_api_port": self.array.port},
            },
        )
        pre = self.stack.play("playbooks/tempest/pre.yaml", log_name="data-path-pre")
        self.timings["deploy_s"] = time.monotonic() - start
        if pre.returncode:
            raise AssertionError(f"pre.yaml failed:\n{pre.stdout[-5000:]}{pre.stderr[-2000:]}")
        key = os.path.join(self.work, "id_node")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
        ports = [self.stack.ports["keystone"], self.stack.ports["cinder"], self.array.port]
        if self.node_services:
            db = f"socat STDIO UNIX-CONNECT:{self.stack.dest}/run/mysqld.sock"
            ports += [self.stack.ports["glance"], self.stack.ports["rabbitmq"], (NODE_DB_PORT, db)]
        self.node = ComputeNode(self.work, image, self.plane, [key + ".pub"], key,
                                memory_mb=self.node_memory_mb,
                                controller_ports=ports).start()  # fmt: skip
        self.timings["boot_s"] = self.node.boot_seconds
        self.node.ssh(f"mkdir -p {WORKSPACE}")
        self.timings["venv_install_s"] = data_path_venv.install(self.node, self.venv, WORKSPACE)
        for name in ("brick_volume.py", "data_path_tests.py"):
            self.node.copy_to(os.path.join(FILES, name), f"{WORKSPACE}/{name}")
        env = {
            "OS_AUTH_URL": f"http://{CONTROLLER_ADDRESS}:{self.stack.ports['keystone']}/v3",
            "OS_VOLUME_URL": (
                f"http://{CONTROLLER_ADDRESS}:{self.stack.ports['cinder']}/v3/%(project_id)s"
            ),
            "OS_USERNAME": "admin",
            "OS_PASSWORD": self.stack.password(),
            "OS_PROJECT_NAME": "admin",
            "DATA_PATH_ARRAY_URL": f"http://{CONTROLLER_ADDRESS}:{self.array.port}",
            "DATA_PATH_ARRAY_USER": self.array.username,
            "DATA_PATH_ARRAY_PASSWORD": self.array.password,
        }
        # credentials in a root-only file on the node, never on a command line
        self.node.ssh(f"umask 077; cat > {WORKSPACE}/env", input=node_env_file(env))

    def run(self, names=(), multipath=False, timeout=1500):
        """data_path_tests.py on the node: (results by test name, its stdout, seconds)."""
        args = " ".join(shlex.quote(n) for n in names)
        start = time.monotonic()
        proc = self.node.ssh(
            f"set -a; . {WORKSPACE}/env; set +a; DATA_PATH_MULTIPATH={int(bool(multipath))} "
            f"{data_path_venv.NODE_VENV}/bin/python {WORKSPACE}/data_path_tests.py "
            f"{WORKSPACE}/results.json {args}",
            sudo=True, check=False, timeout=timeout,
        )  # fmt: skip
        took = time.monotonic() - start
        out = self.node.ssh(f"cat {WORKSPACE}/results.json; rm -f {WORKSPACE}/results.json",
                            sudo=True, check=False)  # fmt: skip
        if out.returncode or not out.stdout.strip():
            raise AssertionError(f"no results (rc {proc.returncode}): {proc.stderr[-3000:]}")
        # kept beside the run's other files (CI_KIT_KEEP_WORK keeps them)
        with open(os.path.join(self.work, "data-path-results.json"), "a") as f:
            f.write(out.stdout.strip() + "\n")
        doc = json.loads(out.stdout)
        self.node_info = doc["node"]
        results = {r["id"].split(".", 1)[1]: r for r in doc["results"]}
        return results, proc.stdout, took

    def array_leftovers(self):
        """Hosts of the node's initiator and every mapping, by the array's API."""
        session = self.array.session()
        hosts = session.get(f"{self.array.url}/api/v1/hosts",
                            params={"iqn": self.node.initiator}, timeout=30)  # fmt: skip
        maps = session.get(f"{self.array.url}/api/v1/mappings", timeout=30)
        hosts.raise_for_status()
        maps.raise_for_status()
        mappings = maps.json()
        if isinstance(mappings, dict):
            mappings = mappings.get("mappings", [])
        return {"hosts": [h["name"] for h in hosts.json()], "mappings": mappings}

    def down(self):
        """Stop everything; the plane last (tgtd runs inside it)."""
        try:
            if self.node is not None:
                self.node.stop()
            if self.stack is not None:
                self.stack.shutdown()
            if self.array is not None:
                self.array.stop()
        finally:
            if self.plane is not None:
                self.plane.down()
            self.node = self.stack = self.array = self.plane = None
