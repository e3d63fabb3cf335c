"""Bring the whole CI loop up on one machine, and drive it as upstream would.

Phases (each printed as it starts and with its time when done):

1. gerrit    the emulator with openstack/cinder and os-brick, the CI's account
2. array     the reference array (REST API, tgtd for iSCSI, FC records); with
             the compute node, tgtd's two portals sit on the data plane
             (a network namespace, :mod:`ci_tools.harness.data_plane`)
3. logs      an HTTP log server, so every link in a comment opens
4. zuul      ZooKeeper, PostgreSQL, zuul-scheduler/executor/web/launcher,
             with this repo as the config project
5. node      the static node: a private sshd on loopback, user ``zuul``
6. compute   the compute node: a QEMU guest with its own kernel and iSCSI
             initiator (:mod:`ci_tools.harness.compute_node`), the second
             static node of the protocol jobs' two-node nodesets; with FC
             among the protocols, beside it the array's data-plane VM
             (:mod:`ci_tools.array.fcoe_vm`: LIO's tcm_fc kept equal to the
             array by lio.py) on the data plane's first bridge, and the node's
             software FC initiator (FCoE VN2VN on eth1) logged in to every
             array FC port: real FC protocol over Ethernet, no HBA, no switch
             (doc/fc-fcoe.rst)
7. tenant    the tenant loaded with zero config errors

While it runs, a lost compute node (its QEMU gone: crashed, killed, OOM) is
replaced within :data:`COMPUTE_WATCH_S` seconds by a fresh boot of the same
image on the same port, as a lab cloud replaces a node: Zuul's static
provider only re-scans a node's SSH key and never boots anything, so without
it a job retried after the node was lost would wait for it forever.

Then ``run_change`` pushes a change to openstack/cinder as a developer and
``wait_for_report`` returns the CI's comment on it. ``reconcile_forever``
runs the missed-event reconciler in a thread, ``vote_guard_forever`` the
vote guard (what votes when site.yaml says ``voting: true``).

The job's array address and password are sandbox-only values (the array is
started here with a random password), handed to the job as variables of a
sandbox-only config file; a production site passes them as a Zuul secret.
"""

import copy
import json
import logging
import os
import secrets
import subprocess
import threading
import time
from urllib.parse import urlsplit, urlunsplit

import jwt
import requests
import yaml

from ci_tools.array import fcoe_vm, lio
from ci_tools.array.fixture import ArrayFixture
from ci_tools.configcheck.sandbox_tenant import ALL_PROJECTS, CINDER_PROJECTS, SandboxTenant
from ci_tools.errors import ServiceError
from ci_tools.harness import node_image
from ci_tools.harness.compute_node import CONTROLLER_ADDRESS, ComputeNode, choose_accel
from ci_tools.harness.data_plane import DataPlane
from ci_tools.harness.logserver import LogServer
from ci_tools.harness.ports import free_port
from ci_tools.harness.stack import ZuulStack
from ci_tools.harness.static_node import StaticNode
from ci_tools.harness.workdir import private_work_dir
from ci_tools.harness.zuul_daemons import kit_root
from ci_tools.people.gerrit_rest import GerritRest
from ci_tools.sandbox import reaper
from ci_tools.sandbox.gerrit_hook import DEVELOPER, SandboxGerrit
from ci_tools.watchers import reconciler, zuul_web
from ci_tools.watchers.vote_guard import VoteGuard, guard_tag
from ci_tools.zuulconf import recheck
from ci_tools.zuulconf.site import load_site

LOG = logging.getLogger(__name__)
STATE_FILE = "sandbox.json"
# How often the sandbox checks that its compute node's QEMU still runs.
COMPUTE_WATCH_S = 5


def node_dest(root, user="zuul"):
    """Where the sandbox's node keeps DevStack-lite (warm between runs).

    One per node user: a sandbox whose node logs in as another user (the
    quick-job tests use one, to run beside a full run) has its own home and
    its own DevStack-lite, and stopping it leaves the other's alone."""
    name = "sandbox-node" if user == "zuul" else f"sandbox-node-{user}"
    return os.path.join(root, name, "stack")


class Progress:
    """Phase lines on stdout: what runs now, and how long each took."""

    def __init__(self, out=None):
        # Flushed: a phase that waits minutes (the report) must show when
        # stdout is a file or a pipe (CI logs, `| tee`), not only at the end.
        self.out = out or (lambda line: print(line, flush=True))
        self.times = {}

    def phase(self, name, text):
        return _Phase(self, name, text)


class _Phase:
    def __init__(self, progress, name, text):
        self.progress, self.name, self.text = progress, name, text

    def __enter__(self):
        self.start = time.monotonic()
        self.progress.out(f"[sandbox] {self.name:8} {self.text} ...")
        return self

    def __exit__(self, exc_type, *_):
        took = time.monotonic() - self.start
        self.progress.times[self.name] = took
        status = "done" if exc_type is None else "FAILED"
        self.progress.out(f"[sandbox] {self.name:8} {status} in {took:.1f}s")


def fcoe_mtu(with_fc):
    """The data plane's MTU: FCoE needs frames above 1500 bytes (an FC frame
    carries up to 2112 bytes of data, plus its FC and FCoE headers), so 9000
    when the FC data path is wired; plain 1500 otherwise."""
    return fcoe_vm.MTU if with_fc else 1500


def node_array_url(array_url):
    """The array's REST URL as the compute node reaches it: the host's
    loopback port at the controller address QEMU forwards from the guest."""
    parts = urlsplit(array_url)
    return urlunsplit((parts.scheme, f"{CONTROLLER_ADDRESS}:{parts.port}", parts.path, "", ""))


class Sandbox:
    def __init__(self, repo_root, work_dir, site=None, job_vars=None, extra_files=None,
                 progress=None, rest=True, compute_node=False, periodic_time=None):  # fmt: skip
        self.repo_root = os.path.abspath(repo_root)
        self.work_dir = os.path.abspath(work_dir)
        self.site = copy.deepcopy(site or load_site(self.repo_root))
        # The nightly canary fires here only when asked: on the sandbox's one
        # node its dozen builds would otherwise take the hour after 04:00 UTC
        # ahead of the change being proven. Without a time it runs when enqueued.
        self.site["periodic_time"] = periodic_time
        self.job_vars = dict(job_vars or {})
        self.extra_files = dict(extra_files or {})
        self.progress = progress or Progress()
        self.rest = rest
        self.gerrit = None
        self.array = None
        self.logserver = None
        self.tenant = None
        self.stack = None
        self.node = None
        # The compute node (and the data plane it shares with the array's
        # portals): `sandbox up` boots it unless --no-compute-node; tests that
        # do not exercise the data path leave it off (a TCG boot costs CPU).
        self.with_compute = bool(compute_node)
        # the jobs' nodesets ask for a compute node only when one is there
        self.site["data_path"] = self.with_compute
        # FC over FCoE VN2VN between the compute node and the array's
        # data-plane VM: with the compute node, when the site runs FC.
        self.with_fc = self.with_compute and "fc" in self.site.get("protocols", [])
        self.data_plane = None
        self.compute = None
        self.dp_vm = None
        self.fcoe_figures = {}
        # DevStack-lite on the static node, kept warm between sandbox runs.
        self.node_user = self.site["sandbox_node"]["username"]
        self.node_dest = node_dest(kit_root(), self.node_user)
        self.token_secret = secrets.token_hex(16)
        self._stop = threading.Event()
        self._compute_lock = threading.Lock()
        self._threads = []

    # -- bring up ---------------------------------------------------------------

    def _sandbox_config(self):
        """zuul.d/zz-sandbox.yaml: the array this sandbox started, for the jobs."""
        protocols = self.site.get("protocols", [])
        ci = self.site["ci_name"]
        jobs = []
        for protocol in protocols:
            variables = {
                "sandbox_array_url": self.array.url,
                # The array this sandbox started, on its free port.
                "configure_cinder_backend_options": {
                    "san_ip": "127.0.0.1",
                    "san_api_port": self.array.port,
                },
                # A warm DevStack-lite between sandbox runs, and this machine's /etc
                # left alone (a lab node uses the role's defaults); one config
                # root per node user, beside its DevStack-lite.
                "devstack_lite_dest": self.node_dest,
                "devstack_lite_etc": os.path.join(os.path.dirname(self.node_dest), "etc"),
                # Sandbox-only throwaway credentials, where tempest/pre.yaml looks
                # for the job's <name>_array secret in production.
                "sandbox_array": {
                    "san_login": self.array.username,
                    "san_password": self.array.password,
                },
            }
            if self.with_compute:
                # where the compute node reaches the controller's APIs, and the
                # array's REST API (on this host's loopback, forwarded by QEMU
                # like Keystone's and cinder-api's ports) for the tests'
                # array-side checks; the credentials are sandbox_array's
                variables["data_path_controller_address"] = CONTROLLER_ADDRESS
                variables["data_path_array_url"] = node_array_url(self.array.url)
            variables.update(self.job_vars)
            jobs.append({"job": {"name": f"{ci}-tempest-{protocol}", "vars": variables}})
        header = "# Sandbox only: the reference array started by `ci-tools sandbox up`.\n"
        return header + yaml.safe_dump(jobs, sort_keys=False)

    def up(self):
        # Only this user, and PostgreSQL's server passing through to its
        # cluster dir, may enter: root:postgres 0710 (harness/workdir.py).
        private_work_dir(self.work_dir)
        try:
            self._up()
        except BaseException:
            self.down()
            raise
        self._write_state()
        if self.compute is not None:
            self._every("compute-watch", COMPUTE_WATCH_S, self._replace_lost_compute)
        return self

    def _up(self):
        p = self.progress
        ci = self.site["ci_name"]
        with p.phase("gerrit", "Gerrit emulator (openstack/cinder, openstack/os-brick)"):
            self.gerrit = SandboxGerrit(self.work_dir, ci, self.site.get("vote_label", "Verified"),
                                        rest=self.rest,
                                        full_name=self.site["display_name"])  # fmt: skip
            self.gerrit.start(ALL_PROJECTS, ["master", *self.site.get("stable_branches", [])])
        fc_text = "FC over FCoE" if self.with_fc else "FC records only"
        with p.phase("array", f"reference array (REST, tgtd iSCSI, {fc_text})"):
            extra = []
            if self.with_compute:
                # FCoE carries full FC frames (2 KiB payload): jumbo frames on
                # every bridge and TAP; the iSCSI portals share them.
                self.data_plane = DataPlane(mtu=fcoe_mtu(self.with_fc)).up()
                extra = ["--iscsi-netns", self.data_plane.netns,
                         "--iscsi-portal-ips", ",".join(self.data_plane.portal_ips)]  # fmt: skip
            self.array = ArrayFixture(os.path.join(self.work_dir, "array"),
                                      extra_args=extra).start()  # fmt: skip
        with p.phase("logs", "log server"):
            log_root = os.path.join(self.work_dir, "published-logs")
            os.makedirs(log_root, exist_ok=True)
            self.logserver = LogServer(log_root).start()
        self.site["log_root"] = log_root
        self.site["log_url"] = self.logserver.url
        self.site.setdefault("sandbox_node", {})["port"] = free_port()
        if self.with_compute:
            self.site["sandbox_node"]["compute_port"] = free_port()
        else:
            self.site["sandbox_node"].pop("compute_port", None)
        extra = {"zuul.d/zz-sandbox.yaml": self._sandbox_config(), **self.extra_files}
        with p.phase("zuul", "ZooKeeper, PostgreSQL and Zuul (scheduler, executor, web, launcher)"):
            tenant_dir = os.path.join(self.work_dir, "tenant")
            self.tenant = SandboxTenant(
                self.repo_root, tenant_dir, site=self.site, gerrit=self.gerrit, extra_files=extra
            )
            self.tenant.__enter__()
            self.stack = ZuulStack(
                os.path.join(self.work_dir, "stack"),
                self.tenant.tenant_file,
                self.tenant.connections,
                daemon_files=self.tenant.daemon_files,
                zuul_options={
                    "executor": {"trusted_rw_paths": log_root},
                    "auth sandbox": {
                        "driver": "HS256",
                        "allow_authz_override": "true",
                        "realm": "sandbox",
                        "client_id": "zuul.sandbox",
                        "issuer_id": "ci-tools-sandbox",
                        "secret": self.token_secret,
                    },
                },
            )
            self.stack.start()
        with p.phase("node", f"static node (sshd on loopback, user {self.node_user})"):
            self.node = StaticNode(self.work_dir, [self.stack.config.ssh_key + ".pub"],
                                   port=self.site["sandbox_node"]["port"],
                                   user=self.node_user)  # fmt: skip
            self.node.start()
        if self.with_compute:
            self._start_compute()
        with p.phase("tenant", f"tenant {self.tenant.tenant} loads with no config errors"):
            self.stack.wait_for_tenant(self.tenant.tenant)
            errors = self.stack.config_errors(self.tenant.tenant)
            if errors:
                raise ServiceError(f"config errors: {json.dumps(errors, indent=2)[:2000]}")

    def _start_compute(self):
        image, took = node_image.build(log=self.progress.out)
        built = "built" if took > 60 else "cached"
        fc_image = fcoe_vm.build_image(log=self.progress.out) if self.with_fc else None
        accel = choose_accel()
        text = f"compute node (QEMU {accel}, own kernel {image.record['kernel']}, image {built})"
        if self.with_fc:
            text += " and the array's FC data-plane VM"
        with self.progress.phase("compute", text):
            start = time.monotonic()
            if self.with_fc:
                # booted first, so the two guests boot side by side
                self.dp_vm = self._data_plane_vm(fc_image).start()
            self.compute = ComputeNode(
                self.work_dir, image, self.data_plane,
                [self.stack.config.ssh_key + ".pub"], self.stack.config.ssh_key,
                # Keystone and cinder-api of DevStack-lite on the controller,
                # and the array's REST API (the data-path tests' array checks)
                controller_ports=[5000, 8776, self.array.port],
            )  # fmt: skip
            self.compute.port = self.site["sandbox_node"]["compute_port"]
            self.compute.start()
            if self.with_fc:
                self.dp_vm.wait_ready()
                self.fcoe_figures["boot_both_s"] = time.monotonic() - start
                self._fc_login()
        self.progress.out(
            f"[sandbox] compute  {self.compute.accel} boot {self.compute.boot_seconds:.1f}s, "
            f"image {image.build_seconds:.0f}s to build ({built}), "
            f"data plane {', '.join(self.data_plane.portal_ips)} (MTU {self.data_plane.mtu})"
        )
        if self.with_fc:
            f = self.fcoe_figures
            self.progress.out(
                f"[sandbox] fc       node {self.compute.fcoe_wwpn(0)} ({f['fc_host']} on eth1) "
                f"logged in to {f['ports']} array FC ports over FCoE VN2VN in "
                f"{f['fcoe_login_s']:.1f}s (zone in LIO {f['zone_in_lio_s']:.1f}s; "
                f"both guests up in {f['boot_both_s']:.1f}s)"
            )

    def _array_state(self):
        with open(os.path.join(self.array.data_dir, "state.json")) as f:
            return json.load(f)

    def _data_plane_vm(self, fc_image):
        """The array's data-plane VM on the data plane's first bridge: a NIC per
        FC target port, the array's data dir shared in (its volume files are
        LIO's backstores). Its dir is under the work dir, so the reaper finds
        its QEMU by the command line when the sandbox was killed."""
        return fcoe_vm.data_plane_vm(fc_image, self.work_dir, self.data_plane.segment(0),
                                     self._array_state(), self.array.data_dir)  # fmt: skip

    def _fc_login(self, timeout=120):
        """lio.py in the data-plane VM; the node's WWPN zoned through the array's
        admin API; then the node's FCoE port up and logged in to every port.

        Zoned first: VN2VN has no RSCN, and a port that answered "initiator
        only" at PRLI stays so for the initiator (doc/fc-fcoe.rst)."""
        dp, node = self.dp_vm, self.compute
        dp.run(fcoe_vm.DATA_PLANE_SETUP, check=True)
        dp.background(fcoe_vm.LIO_AGENT, "/tmp/lio.log")
        ports = [p["wwpn"] for p in lio.ports_of(self._array_state())]
        wwpn = node.fcoe_wwpn(0)
        t0 = time.monotonic()
        api = self.array.session()
        api.post(self.array.url + "/api/v1/admin/fabric/logins", json={"wwpn": wwpn},
                 timeout=30).raise_for_status()  # fmt: skip
        zone = lio.colon_wwn(wwpn)

        def zoned():
            acls = dp.run("ls /sys/kernel/config/target/fc/*/tpgt_1/acls/ 2>/dev/null")["out"]
            return acls.count(zone) == len(ports)

        fcoe_vm.wait_for(zoned, timeout, "the compute node's zone in LIO", dp)
        self.fcoe_figures["zone_in_lio_s"] = time.monotonic() - t0
        t1 = time.monotonic()
        fc_host = self._fcoe_up(ports, timeout)
        self.fcoe_figures.update(fcoe_login_s=time.monotonic() - t1, fc_host=fc_host,
                                 ports=len(ports))  # fmt: skip

    def _fcoe_up(self, ports, timeout=120):
        """The compute node's VN2VN port up on eth1 and logged in to ``ports``
        (the array's FC target ports); returns its fc_host."""
        node = self.compute
        fc_host = node.enable_fcoe(0)
        fcoe_vm.wait_for(lambda: set(ports) <= node.fcoe_targets(fc_host), timeout,
                         "the compute node's FCoE login to every array FC port")  # fmt: skip
        return fc_host

    def _fcoe_record(self):
        """The FC login's figures for sandbox.json; None without FC."""
        figures = self.fcoe_figures
        return {k: round(v, 2) if isinstance(v, float) else v for k, v in figures.items()} or None

    def _replace_lost_compute(self):
        compute = self.compute
        if compute is None or compute.running() or self._stop.is_set():
            return
        try:
            self.replace_compute_node()
        except (OSError, subprocess.SubprocessError) as exc:
            # the next watch tries again
            raise ServiceError(f"compute node replacement failed: {exc}") from exc

    def replace_compute_node(self):
        """Boot a fresh compute node in the place of the current one (lost or
        not): same image and host key, same SSH port (the static node Zuul
        knows), same data-plane paths; what the old node held is gone, as
        when a cloud replaces a node. The build that lost it is Zuul's to
        retry; the retry gets this one."""
        with self._compute_lock:
            compute = self.compute
            proc = compute.proc
            code = proc.poll() if proc is not None else "?"
            was = "running" if code is None else f"lost: QEMU exited {code}"
            with self.progress.phase("compute", f"replacing the compute node ({was})"):
                compute.replace()
                if self.with_fc:
                    # a fresh node has no FCoE port: up again, with the same
                    # WWPN, which the array's zoning (in LIO) still lets in
                    ports = [p["wwpn"] for p in lio.ports_of(self._array_state())]
                    self._fcoe_up(ports)
        self.progress.out(
            f"[sandbox] compute  replacement {compute.replacements} up on port {compute.port} "
            f"({compute.accel} boot {compute.boot_seconds:.1f}s)"
        )
        return compute

    def _write_state(self):
        state = {
            "pid": os.getpid(),
            "gerrit": self.gerrit.emulator.url,
            "gerrit_ssh_port": self.gerrit.emulator.ssh_port,
            "array": self.array.url,
            "zuul": self.stack.web_url,
            "logs": self.logserver.url,
            "node_port": self.node.port,
            "compute_port": self.compute.port if self.compute else None,
            "data_plane_netns": self.data_plane.netns if self.data_plane else None,
            "data_plane_mtu": self.data_plane.mtu if self.data_plane else None,
            "fcoe": self._fcoe_record(),
            "tenant": self.tenant.tenant,
        }
        with open(os.path.join(self.work_dir, STATE_FILE), "w") as f:
            json.dump(state, f, indent=2)

    def down(self):
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        self._keep_lio_log()
        errors = []
        for part in (self.compute, self.dp_vm, self.node, self.stack, self.logserver,
                     self.array, self.data_plane):  # fmt: skip
            if part is None:
                continue
            try:
                if part is self.data_plane:
                    part.down()
                else:
                    part.stop()
            except Exception as exc:  # keep stopping the rest
                errors.append(f"{type(part).__name__}: {exc}")
        if self.tenant is not None:
            try:
                self.tenant.__exit__(None, None, None)  # stops the Gerrit emulator
            except Exception as exc:
                errors.append(f"gerrit: {exc}")
        elif self.gerrit is not None:
            self.gerrit.stop()
        try:
            self._stop_node_services()
        except Exception as exc:
            errors.append(f"DevStack-lite on the node: {exc}")
        self.node = self.stack = self.logserver = self.array = self.tenant = None
        self.compute = self.dp_vm = self.data_plane = None
        state = os.path.join(self.work_dir, STATE_FILE)
        if os.path.exists(state):
            os.unlink(state)
        if errors:
            raise ServiceError("sandbox parts did not stop cleanly: " + "; ".join(errors))

    def _keep_lio_log(self):
        """lio.py's log lives in the data-plane VM's memory: copy it beside the
        VM's console before the VM goes, for whoever reads the work dir."""
        if self.dp_vm is None or self.dp_vm.proc is None or self.dp_vm.proc.poll() is not None:
            return
        try:
            log = self.dp_vm.run("tail -n 2000 /tmp/lio.log", timeout=20)["out"]
            with open(os.path.join(self.dp_vm.dir, "lio.log"), "w") as f:
                f.write(log)
        except (OSError, ServiceError) as exc:
            LOG.warning("could not keep lio.py's log: %s", exc)

    def _stop_node_services(self):
        """A job leaves DevStack-lite running on the node (a lab node is thrown
        away; this one is the machine itself): take it down with the sandbox."""
        left = reaper.stop_devstack(self.node_dest)
        if left:
            raise ServiceError(f"DevStack-lite of {self.node_dest} still running: pids {left}")

    # -- acting as upstream -----------------------------------------------------

    @property
    def emulator(self):
        return self.gerrit.emulator

    def push_change(self, files, message, project="openstack/cinder", branch="master"):
        return self.emulator.push_change(project, branch, files, message, account=DEVELOPER)

    def comment(self, change, text):
        return self.emulator.comment(change, text, account=DEVELOPER)

    def _detail(self, change):
        resp = requests.get(f"{self.emulator.url}/changes/{change}/detail", timeout=10)
        resp.raise_for_status()
        return json.loads(resp.text.split("\n", 1)[1])

    def ci_votes(self, change):
        """{label: value} of the CI's non-zero votes on ``change``."""
        ci = self.site["ci_name"]
        votes = {}
        for label, info in (self._detail(change).get("labels") or {}).items():
            for approval in info.get("all", []):
                if approval.get("username") == ci and approval.get("value"):
                    votes[label] = approval["value"]
        return votes

    def ci_messages(self, change, guard=False):
        """The CI's reports on ``change``, oldest first (REST, as a person reads
        them); with ``guard=True`` the vote guard's messages instead."""
        detail = self._detail(change)
        ci = self.site["ci_name"]
        tag = guard_tag(ci)
        return [m for m in detail.get("messages", [])
                if (m.get("author") or {}).get("username") == ci
                and (m.get("tag") == tag) == guard]  # fmt: skip

    def wait_for_report(self, change, count=1, timeout=1800):
        """Wait until the CI has posted ``count`` comments on ``change``; return the last."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            messages = self.ci_messages(change)
            if len(messages) >= count:
                return messages[count - 1]
            self.stack._check_alive()
            time.sleep(2)
        raise ServiceError(
            f"no report {count} on change {change} after {timeout}s; "
            f"zuul status: {self.stack.web_url}/t/{self.tenant.tenant}/status"
        )

    # -- reconciler -------------------------------------------------------------

    def admin_token(self):
        now = int(time.time())
        claims = {
            "iss": "ci-tools-sandbox",
            "aud": "zuul.sandbox",
            "sub": "sandbox-reconciler",
            "iat": now,
            "exp": now + 3600,
            "zuul": {"admin": [self.tenant.tenant]},
        }
        return jwt.encode(claims, self.token_secret, algorithm="HS256")

    def reconciler(self, window=3600, grace=20):
        gerrit = GerritRest(self.emulator.url, rate=20, retries=2, timeout=10)
        zuul = zuul_web.ZuulView(self.stack.web_url, self.tenant.tenant, "check",
                                   token=self.admin_token())  # fmt: skip
        return reconciler.Reconciler(
            gerrit,
            zuul,
            list(CINDER_PROJECTS),
            recheck.comment_regexes(self.repo_root),
            ci_accounts={self.site["ci_name"]},
            window=window,
            grace=grace,
        )

    def _every(self, name, interval, func):
        """Run ``func`` every ``interval`` seconds in a thread until ``down``."""

        def loop():
            while not self._stop.wait(interval):
                try:
                    func()
                except (ServiceError, requests.RequestException) as exc:
                    LOG.warning("%s pass failed (will retry): %s", name, exc)

        thread = threading.Thread(target=loop, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def reconcile_forever(self, interval=5, **kw):
        rec = self.reconciler(**kw)

        def once():
            rec.zuul.token = self.admin_token()
            rec.run_once()

        self._every("reconciler", interval, once)
        return rec

    # -- vote guard -------------------------------------------------------------

    def vote_guard(self, **kw):
        """The guard as a vendor runs it: logged in as the CI's account over REST."""
        gerrit = GerritRest(self.emulator.url, user=self.site["ci_name"],
                            password=self.gerrit.ci_password, auth="basic", rate=20,
                            retries=2, timeout=10)  # fmt: skip
        return VoteGuard(
            gerrit,
            zuul_web.ZuulView(self.stack.web_url, self.tenant.tenant, "check"),
            self.site["ci_name"],
            list(CINDER_PROJECTS),
            label=self.site.get("vote_label", "Verified"),
            max_failures=self.site.get("disable_voting_after_failures", 10),
            **kw,
        )

    def vote_guard_forever(self, interval=2, **kw):
        guard = self.vote_guard(**kw)
        self._every("vote-guard", interval, guard.run_once)
        return guard

    def wait_for_vote(self, change, timeout=60):
        """The CI's vote on ``change`` once the guard has cast it, e.g. ``Verified-1``;
        None when none came within ``timeout`` (the guard casts none on infra failures)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            votes = self.ci_votes(change)
            if votes:
                return " ".join(f"{k}{v:+d}" for k, v in sorted(votes.items()))
            time.sleep(1)
        return None
