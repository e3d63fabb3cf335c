"""The real job, end to end: nothing swapped.

A change pushed to the Gerrit emulator; Zuul runs refflash-ci-tempest-iscsi
and -fc with this repo's playbooks on the static node: DevStack-lite with
cinder installed from the change's tree, the refflash driver on the
reference array, Tempest, log collection and scrubbing, array cleanup. Both
jobs also get the compute node (a QEMU guest with its own kernel) and its
data-path phase: os-brick attaches volumes through the kernel's iSCSI
initiator, and through its FC initiator over FCoE VN2VN to the array's
data-plane VM (real FC protocol over Ethernet, no HBA: doc/fc-fcoe.rst).
The published logs are laid out as a Cinder reviewer knows them from
DevStack jobs (zuul-info/, screen-*.txt, pip-freeze/, zuul-manifest.json),
and a stable/2025.1 change installs with 2025.1's upper-constraints.
Tempest runs a subset here (SANDBOX_REGEX) so the suite fits the CI budget;
the whole volume suite is exercised by tests/functional/devstack.
"""

import glob
import json
import os
import re
import signal
import time

import requests
import yaml
from testtools import content

from ci_tools.watchers import vote_guard, zuul_web
from tests.functional.sandbox.test_loop import CI, SandboxCase, job_lines
from tests.functional.zuul_manifest import listed_files

SANDBOX_REGEX = r"^tempest\.api\.volume\.(test_volumes_get|test_volumes_snapshots)\."

FLOW = "cinder/volume/flows/manager/create_volume.py"
# The volume manager's create flow calls the driver here for a clone of a
# volume; raising makes the flow revert and the clone go to "error", as a
# broken driver path would. Tempest's VolumesGetTest clones; the data path's
# tests never do, so they reach the attach, which BROKEN_CONNECTION breaks.
BROKEN_CLONE = """

# Sandbox: a change that breaks cloning a volume on purpose.
def _sandbox_broken_create_from_source_volume(self, *args, **kwargs):
    raise exception.VolumeBackendAPIException(data="sandbox: cloning broken on purpose")


CreateVolumeFromSpecTask._create_from_source_volume = _sandbox_broken_create_from_source_volume
"""
CLONE_TEST = "VolumesGetTest.test_volume_create_get_update_delete_as_clone"


# The services DevStack-lite runs, under the names DevStack's logs give them.
SCREEN_LOGS = ("keystone", "g-api", "c-api", "c-sch", "c-vol", "c-bak")
# openstack/requirements' pins (sandbox-data/openstack-requirements/<series>/),
# as pip freeze prints them.
PINS = {
    "master": ("os-brick==7.1.0", "oslo.config==10.7.0", "python-openstackclient==10.2.1"),
    "stable/2025.1": ("os-brick==6.11.1", "oslo.config==9.7.2", "python-openstackclient==7.5.0"),
}


ISCSI_CONNECTOR = "os_brick/initiator/connectors/iscsi.py"
FC_CONNECTOR = "os_brick/initiator/connectors/fibre_channel.py"
# An os-brick change that breaks every iSCSI and FC attach: only the data
# path (the compute node's os-brick, from the change's tree) can catch it.
BROKEN_ATTACH = """

# Sandbox: a change that breaks the {kind} attach on purpose.
def _sandbox_broken_connect_volume(self, connection_properties):
    raise exception.BrickException("sandbox: connect_volume broken on purpose")


{connector}.connect_volume = _sandbox_broken_connect_volume
"""
MANAGER = "cinder/volume/manager.py"
# A Cinder change that breaks every attach where the volume manager asks the
# driver for the connection (attachment update, as Nova's attach does); the
# Tempest API tests here never attach, so only the data path catches it.
BROKEN_CONNECTION = """

# Sandbox: a change that breaks initialize_connection on purpose.
def _sandbox_broken_connection_create(self, *args, **kwargs):
    raise exception.VolumeBackendAPIException(
        data="sandbox: initialize_connection broken on purpose")


VolumeManager._connection_create = _sandbox_broken_connection_create
"""
DATA_PATH_LINE = re.compile(
    rf"{CI}-tempest-iscsi: data path \(compute node's kernel initiator, "
    r"os-brick (?P<os_brick>\S+)\): (?P<passed>\d+) of (?P<total>\d+) passed: (?P<tests>.*)"
)
# The FC job's: the node's software FC port on its first data NIC, the
# carrier read from the node's sysfs.
FC_DATA_PATH_LINE = re.compile(
    rf"{CI}-tempest-fc: data path \(compute node's kernel FC initiator, "
    r"FCoE VN2VN on eth1, no HBA, os-brick (?P<os_brick>\S+)\): "
    r"(?P<passed>\d+) of (?P<total>\d+) passed: (?P<tests>.*)"
)
# Where the data-path role unpacks the venv it built on the controller.
NODE_VENV = "/opt/data-path-venv/"
# The data-path role's task that attaches on the compute node, as the
# executor's job output names it when it starts.
DATA_PATH_TASK = "Attach, write, read and detach through os-brick]"


class TestFullRun(SandboxCase):
    quick = False
    compute_node = True
    job_vars = {"run_tempest_regex": SANDBOX_REGEX}

    def _cinder_file(self, path, project="openstack/cinder"):
        seed = os.path.join(self.sandbox.gerrit.work_dir, "seed", project)
        with open(os.path.join(seed, path)) as f:
            return f.read()

    def _builds(self, change):
        tenant = self.sandbox.tenant.tenant
        return self.sandbox.stack.api(f"tenant/{tenant}/builds?change={change}")

    def _buildset(self, change):
        """The builds of the change's newest finished buildset, as the guard reads them."""
        view = zuul_web.ZuulView(self.sandbox.stack.web_url, self.sandbox.tenant.tenant, "check")
        (newest, *_) = view.buildsets(change, 1)
        return view.builds(newest["uuid"])

    def test_change_passes_and_logs_hold_results_and_scrubbed_config(self):
        text = self._cinder_file(FLOW) + "\n# Sandbox: a harmless change.\n"
        change, _, _ = self.sandbox.push_change({FLOW: text},
                                                "Sandbox: harmless change")  # fmt: skip
        message = self.sandbox.wait_for_report(change, timeout=3000)["message"]
        lines = job_lines(message)
        self.assertEqual({f"{CI}-tempest-iscsi", f"{CI}-tempest-fc"}, set(lines), message)
        self.assertEqual({"SUCCESS"}, {line["result"] for line in lines.values()}, message)
        # The comment says the data path ran, and every data-path test passed.
        found = found_iscsi = DATA_PATH_LINE.search(message)
        self.assertIsNotNone(found, message)
        self.assertEqual(found["passed"], found["total"], message)
        self.assertIn("test_attach_write_read_detach", found["tests"])
        # ... with the os-brick the branch's upper-constraints pin, as DevStack-lite
        # installs it on the controller, not the node image's Debian package.
        (pin,) = [p.split("==")[1] for p in PINS["master"] if p.startswith("os-brick==")]
        self.assertEqual(pin, found["os_brick"], message)
        iscsi = self._newest(change, "-iscsi")
        node = self._data_path_doc(iscsi)["node"]
        self.assertEqual(pin, node["os_brick"]["version"], node)
        self.assertTrue(node["os_brick"]["file"].startswith(NODE_VENV), node)
        self.assertTrue(node["cinderclient"]["file"].startswith(NODE_VENV), node)
        # The FC job's data path: the same tests but CHAP and the online
        # extend (the array's LIO fileio LUNs keep their size over FCoE),
        # through os-brick's FibreChannelConnector, every one passed, with the pin.
        found = FC_DATA_PATH_LINE.search(message)
        self.assertIsNotNone(found, message)
        self.assertEqual(found["passed"], found["total"], message)
        self.assertEqual(
            ["test_attach_write_read_detach", "test_volume_from_snapshot_holds_its_data",
             "test_multiattach_same_host_detach_one_keeps_the_other",
             "test_concurrent_first_attaches_from_a_new_host",
             "test_force_detach_leaves_nothing",
             "test_attach_with_both_controllers_offline_leaves_nothing"],
            found["tests"].strip().split(", "), message,
        )  # fmt: skip
        self.assertEqual(pin, found["os_brick"], message)
        # The role gave the tests the array (its REST API through the node's
        # forward, the job's array secret): the array-side checks ran, in both jobs.
        fc_build = self._newest(change, "-fc")
        self.assertArraySideChecked(fc_build)
        self.assertArraySideChecked(iscsi)
        # The force detach: the driver handed back the emptied host's zones.
        fc_results = {r["id"]: r["details"] for r in self._data_path_doc(fc_build)["results"]}
        force = fc_results["data_path.test_force_detach_leaves_nothing"]
        self.assertEqual("checked: the driver read each emptied host's zoning map before "
                         "removing the host", force.get("zones"), force)  # fmt: skip
        self.assertEqual("checked: no host, no mapping", force.get("array"), force)
        # The iSCSI job extends a volume online and force-detaches one.
        results = {r["id"]: r["details"] for r in self._data_path_doc(iscsi)["results"]}
        self.assertIn("test_online_extend_while_attached", found_iscsi["tests"], message)
        self.assertIn("test_force_detach_leaves_nothing", found_iscsi["tests"], message)
        extend = results["data_path.test_online_extend_while_attached"]
        self.assertEqual(2 * 1024**3, extend.get("brick_new_size"), extend)
        force = results["data_path.test_force_detach_leaves_nothing"]
        self.assertEqual("checked: no host, no mapping", force.get("array"), force)
        password = self.sandbox.array.password
        for build in self._builds(change):
            base = build["log_url"]
            html = requests.get(base + "controller/tempest-output/testr_results.html", timeout=10)
            self.assertEqual(200, html.status_code, base)
            self.assertIn("test_volumes_get", html.text)
            self.assertIn("data_path.test_attach_write_read_detach", html.text)
            conf = requests.get(base + "controller/cinder/cinder.conf.d/backends.conf", timeout=10)
            self.assertEqual(200, conf.status_code, base)
            self.assertIn("volume_driver = refflash_cinder", conf.text)
            self.assertRegex(conf.text, re.compile(r"^san_password = \*+", re.M))
            self.assertNotIn(password, conf.text)
            output = requests.get(base + "job-output.txt", timeout=10).text
            self.assertNotIn(password, output)
            # cinder.conf is published as upstream asks, without the node's own secrets
            # (database, message bus and service passwords DevStack-lite generated).
            conf = requests.get(base + "controller/cinder/cinder.conf", timeout=10)
            self.assertEqual(200, conf.status_code, base)
            self.assertIn("[database]", conf.text)
            # Only secrets are masked: the array's login name is not one.
            self.assertIn("[cinder_sys_admin]", conf.text)
            self.assertRegex(conf.text, re.compile(r"^connection = \*+$", re.M))
            for secret in self._node_secrets():
                self.assertNotIn(secret, conf.text)
            self.assertLaidOutForReviewers(build, "master")
            self.assertAttachExclusionsApplied(build)
        # Voting is off here; zuul-web's records of this run would earn the +1.
        self.assertEqual(1, vote_guard.decide(self._buildset(change)).value)

    def _newest(self, change, suffix):
        """The build of the job the comment reports: the newest (an earlier
        attempt may have been retried as an infrastructure failure)."""
        return max((b for b in self._builds(change) if b["job_name"].endswith(suffix)),
                   key=lambda b: b["start_time"])  # fmt: skip

    def assertArraySideChecked(self, build):
        """The build's data-path tests compared the node's blocks with the
        array's and found no host or mapping left on it."""
        results = {r["id"]: r["details"] for r in self._data_path_doc(build)["results"]}
        attach = results["data_path.test_attach_write_read_detach"]
        self.assertEqual("compared: the array's sha256 of the first 16 MiB is equal",
                         attach.get("array_side"), attach)  # fmt: skip
        self.assertEqual("checked: no host, no mapping",
                         results["data_path.test_concurrent_first_attaches_from_a_new_host"]
                         .get("array"))  # fmt: skip

    def _data_path_doc(self, build):
        """The data-path phase's published results: what ran on the node, and each test."""
        url = build["log_url"] + "controller/tempest-output/data-path.json"
        resp = requests.get(url, timeout=10)
        self.assertEqual(200, resp.status_code, url)
        return resp.json()

    def assertAttachExclusionsApplied(self, build):
        """The sandbox's controller (a container) cannot attach: the job found
        that out itself and excluded the tests that copy data through it."""
        base = build["log_url"] + "controller/tempest-output/"
        resp = requests.get(base + "node-attach.json", timeout=10)
        self.assertEqual(200, resp.status_code, resp.url)
        record = resp.json()
        self.assertIs(False, record["can_attach"], record)
        self.assertEqual("detection", record["decided_by"], record)
        self.assertIn("exclude-no-attach.txt", record["applied"], record)
        self.assertIs(False, record["settings"]["volume-feature-enabled"]["backup"], record)
        excluded = requests.get(base + "exclude.txt", timeout=10).text
        self.assertIn("test_volume_create_get_update_delete_from_image", excluded)
        summary = requests.get(base + "summary.json", timeout=10).json()
        self.assertEqual(record, summary["node_attach"])
        conf = requests.get(base + "tempest.conf", timeout=10).text
        self.assertRegex(conf, re.compile(r"^backup = False$", re.M))
        output = requests.get(build["log_url"] + "job-output.txt", timeout=10).text
        self.assertIn("this node cannot attach volumes (auto: ", output)

    def assertLaidOutForReviewers(self, build, branch):
        """What a Cinder reviewer opens, where DevStack jobs put it, browsable from zuul-web."""
        base = build["log_url"]
        for service in SCREEN_LOGS:
            log = requests.get(f"{base}controller/logs/screen-{service}.txt", timeout=10)
            self.assertEqual(200, log.status_code, f"{base} screen-{service}.txt")
            self.assertTrue(log.text, service)
        old_name = requests.get(base + "controller/logs/c-vol.log", timeout=10)
        self.assertEqual(404, old_name.status_code)
        text = requests.get(base + "zuul-info/inventory.yaml", timeout=10).text
        # The scrubber masks secret values as ***, which YAML would read as an alias.
        inventory = yaml.safe_load(re.sub(r": (\*+)$", r": '\1'", text, flags=re.M))
        self.assertEqual(branch, inventory["all"]["vars"]["zuul"]["branch"])
        facts = requests.get(base + "zuul-info/host-info.controller.yaml", timeout=10)
        self.assertIn("ansible_distribution:", facts.text)
        freeze = requests.get(base + "controller/pip-freeze/devstack-venv.txt", timeout=10)
        self.assertEqual(200, freeze.status_code, base)
        installed = set(freeze.text.split())
        for pinned in PINS[branch]:
            self.assertIn(pinned, installed, f"{branch}: {freeze.url}")
        (artifact,) = [a for a in build["artifacts"] if a["name"] == "Zuul Manifest"]
        self.assertEqual(base + "zuul-manifest.json", artifact["url"])
        manifest = json.loads(requests.get(artifact["url"], timeout=10).text)
        listed = listed_files(manifest)
        for rel in ("zuul-info/inventory.yaml", "zuul-info/host-info.controller.yaml",
                    "controller/logs/screen-c-vol.txt", "controller/testr_results.html",
                    "controller/pip-freeze/devstack-venv.txt", "job-output.txt"):  # fmt: skip
            self.assertIn(rel, listed)

    def test_stable_change_installs_its_branchs_constraints_despite_a_lost_node(self):
        # Two things a patch author must be able to count on, in one change to
        # keep the CI's budget (each change costs both jobs):
        # 1. Issue 15: it runs after master changes on the same warm node (or a
        #    node a master run left): DevStack-lite must re-create the Keystone
        #    and Glance databases master's releases migrated, which 2025.1's
        #    cannot use, and install 2025.1's upper-constraints.
        # 2. Issue 13 (d): the compute node's VM dies (SIGKILL) while the iSCSI
        #    job's data path attaches on it: infrastructure, never the change's
        #    FAILURE, never -1; the sandbox replaces the node as a lab cloud
        #    would and Zuul's retry passes on it.
        # A new module, not a docs change: every job runs for it.
        builds_before = set(self._executor_outputs())
        compute = self.sandbox.compute
        replacements = compute.replacements
        change, _, _ = self.sandbox.push_change(
            {"cinder/sandbox_stable.py": "# Sandbox: a harmless change on a stable branch.\n"},
            "Sandbox: harmless stable/2025.1 change", branch="stable/2025.1",
        )  # fmt: skip
        self._wait_for_executor_line(DATA_PATH_TASK, builds_before, timeout=2400)
        time.sleep(5)  # the tests run on the node now
        os.kill(compute.proc.pid, signal.SIGKILL)
        # The sandbox replaces its lost node: a fresh boot of the same image
        # (same host key) on the same port.
        deadline = time.monotonic() + 600
        while compute.replacements == replacements and time.monotonic() < deadline:
            time.sleep(2)
        self.assertEqual(replacements + 1, compute.replacements, self.lines[-5:])
        message = self.sandbox.wait_for_report(change, timeout=3600)["message"]
        # what the patch author read, and the sandbox's compute lines, in the results
        self.addDetail("ci-comment", content.text_content(message))
        self.addDetail(
            "compute-lines",
            content.text_content("\n".join(line for line in self.lines if "compute" in line)),
        )
        lines = job_lines(message)
        self.assertEqual({f"{CI}-tempest-iscsi", f"{CI}-tempest-fc"}, set(lines), message)
        # Zuul retried the build that lost its node, on the replacement, and
        # the retry's data path ran whole there.
        self.assertEqual({"SUCCESS"}, {line["result"] for line in lines.values()}, message)
        found = DATA_PATH_LINE.search(message)
        self.assertIsNotNone(found, message)
        self.assertEqual(found["passed"], found["total"], message)
        # The comment says why the build ran again (Zuul reports the warnings
        # of every attempt); no test is named as failed.
        self.assertRegex(message, rf"{CI}-tempest-iscsi: INFRASTRUCTURE FAILURE: lost node "
                                  r"compute during attempt \d of 3 \(unreachable\); not caused by "
                                  r"this change")  # fmt: skip
        self.assertNotRegex(message, r"\d+ of \d+ tests failed")
        attempts = [b for b in self._builds(change) if b["job_name"].endswith("-iscsi")]
        self.assertGreaterEqual(len(attempts), 2, [(b["result"], b.get("final")) for b in attempts])
        # No vote, and with voting on the guard gives +1: the retry passed.
        self.assertEqual({}, self.sandbox.ci_votes(change))
        self.assertEqual(1, vote_guard.decide(self._buildset(change)).value)
        # The replacement serves the tests after this one.
        self.assertTrue(compute.running())
        self.assertEqual(0, compute.ssh("true", check=False, timeout=60).returncode)
        # 2025.1's constraints in what each reported build installed.
        for build in self._builds(change):
            self.assertEqual("stable/2025.1", build["ref"]["branch"])
        for suffix in ("-iscsi", "-fc"):
            self.assertLaidOutForReviewers(self._newest(change, suffix), "stable/2025.1")

    def _node_secrets(self):
        with open(os.path.join(self.sandbox.node_dest, "secrets.txt")) as f:
            secrets = [line.strip() for line in f if len(line.strip()) >= 6]
        self.assertTrue(secrets)
        return secrets

    def _assert_data_path_fails(self, change, fc_result):
        """The change's report: the iSCSI job FAILURE naming the data-path tests
        (Tempest's API tests never attach here, so the data path alone fails
        it), the FC job ``fc_result`` (its data path attaches through os-brick's
        FC connector, over FCoE). Returns the iSCSI build, its data-path.json
        and the attach test's result."""
        message = self.sandbox.wait_for_report(change, timeout=3000)["message"]
        lines = job_lines(message)
        self.assertEqual("FAILURE", lines[f"{CI}-tempest-iscsi"]["result"], message)
        self.assertEqual(fc_result, lines[f"{CI}-tempest-fc"]["result"], message)
        self.assertRegex(message, rf"{CI}-tempest-iscsi: \d+ of \d+ tests failed: ")
        self.assertIn("data_path.test_attach_write_read_detach", message)
        self.assertIsNone(DATA_PATH_LINE.search(message), message)
        if fc_result == "FAILURE":
            self.assertRegex(message, rf"{CI}-tempest-fc: \d+ of \d+ tests failed: .*"
                                      r"data_path\.test_attach_write_read_detach")  # fmt: skip
            self.assertIsNone(FC_DATA_PATH_LINE.search(message), message)
        iscsi = self._newest(change, "-iscsi")
        doc = self._data_path_doc(iscsi)
        attach = {r["id"]: r for r in doc["results"]}["data_path.test_attach_write_read_detach"]
        self.assertEqual("fail", attach["status"], attach)
        return iscsi, doc, attach

    def test_os_brick_change_breaking_the_attach_fails_the_data_path(self):
        files = {
            path: self._cinder_file(path, "openstack/os-brick")
            + BROKEN_ATTACH.format(kind=kind, connector=connector)
            for path, kind, connector in (
                (ISCSI_CONNECTOR, "iSCSI", "ISCSIConnector"),
                (FC_CONNECTOR, "FC", "FibreChannelConnector"),
            )
        }
        change, _, _ = self.sandbox.push_change(files, "Sandbox: break the iSCSI and FC attach",
                                                project="openstack/os-brick")  # fmt: skip
        # Both jobs fail in the data path: each attached with the change's os-brick.
        _, doc, attach = self._assert_data_path_fails(change, "FAILURE")
        fc = self._data_path_doc(self._newest(change, "-fc"))
        fc_attach = {r["id"]: r for r in fc["results"]}["data_path.test_attach_write_read_detach"]
        self.assertEqual("fail", fc_attach["status"], fc_attach)
        self.assertIn("connect_volume broken on purpose", fc_attach["details"]["traceback"])
        self.assertIn(".dev", fc["node"]["os_brick"]["version"], fc["node"])
        # ... and they failed for the change's reason: the os-brick that ran on
        # the node was built from the change's tree (a pbr dev version, in the
        # venv the role built on the controller), not the pinned release or the
        # image's package, and raised the change's own exception.
        os_brick = doc["node"]["os_brick"]
        self.assertTrue(os_brick["file"].startswith(NODE_VENV), doc["node"])
        self.assertIn(".dev", os_brick["version"], doc["node"])
        self.assertIn("src/opendev.org/openstack/os-brick", doc["node"]["venv"]["os_brick_from"])
        self.assertIn("connect_volume broken on purpose", attach["details"]["traceback"], attach)
        # Named test failures: with voting on, the guard would vote -1.
        self.assertEqual(-1, vote_guard.decide(self._buildset(change)).value)

    def test_change_breaking_clone_and_initialize_connection_fails_naming_both(self):
        # One change breaks two driver paths (one change instead of two keeps
        # the CI's budget: each costs both jobs): cloning, which only
        # Tempest's API tests exercise here, and initialize_connection, which
        # only the data path's attaches reach.
        files = {FLOW: self._cinder_file(FLOW) + BROKEN_CLONE,
                 MANAGER: self._cinder_file(MANAGER) + BROKEN_CONNECTION}  # fmt: skip
        change, _, _ = self.sandbox.push_change(files, "Sandbox: break cloning and "
                                                       "initialize_connection")  # fmt: skip
        # Cinder starts; the data path's attaches fail in both jobs (FC's
        # attach asks the driver for the connection too) ...
        iscsi, doc, _ = self._assert_data_path_fails(change, "FAILURE")
        # ... and each job's line names Tempest's failed clone test beside them,
        # from the one subunit stream.
        message = self.sandbox.wait_for_report(change, timeout=60)["message"]
        for job in (f"{CI}-tempest-iscsi", f"{CI}-tempest-fc"):
            failed = re.search(rf"{job}: \d+ of \d+ tests failed: (.*)$", message, re.M)
            self.assertIsNotNone(failed, message)
            self.assertIn(CLONE_TEST, failed[1], message)
            self.assertIn("data_path.test_attach_write_read_detach", failed[1], message)
        self.assertEqual({}, self.sandbox.ci_votes(change))
        # The node's os-brick is the branch's pin: the failure is Cinder's, and
        # c-vol logged the change's own exception.
        (pin,) = [p.split("==")[1] for p in PINS["master"] if p.startswith("os-brick==")]
        self.assertEqual(pin, doc["node"]["os_brick"]["version"], doc["node"])
        cvol = requests.get(iscsi["log_url"] + "controller/logs/screen-c-vol.txt", timeout=10)
        self.assertIn("initialize_connection broken on purpose", cvol.text)
        # Named test failures: with voting on, the guard would vote -1.
        self.assertEqual(-1, vote_guard.decide(self._buildset(change)).value)

    def _executor_outputs(self):
        """The job outputs of the builds the executor runs now, by build dir."""
        pattern = os.path.join(self.sandbox.stack.config.job_dir, "*", "work", "logs",
                               "job-output.txt")  # fmt: skip
        return {path.split(os.sep)[-4]: path for path in glob.glob(pattern)}

    def _wait_for_executor_line(self, text, builds_before, timeout):
        """Wait until a build started after ``builds_before`` logs ``text`` in
        the executor's job output (read as it grows, as zuul-web streams it)."""
        deadline = time.monotonic() + timeout
        read = {}
        while time.monotonic() < deadline:
            for build, path in self._executor_outputs().items():
                if build in builds_before:
                    continue
                try:
                    with open(path, errors="replace") as f:
                        f.seek(max(0, read.get(build, 0) - len(text)))
                        chunk = f.read()
                        read[build] = f.tell()
                except OSError:  # the build ended and its dir went
                    continue
                if text in chunk:
                    return build
            self.sandbox.stack._check_alive()
            time.sleep(2)
        self.fail(f"no build logged {text!r} in {timeout}s; progress: {self.lines[-5:]}")
