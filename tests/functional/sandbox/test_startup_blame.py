"""Who is blamed when Cinder does not start: the real job, with voting on.

Real Gerrit emulator, Zuul, static node, DevStack-lite (Keystone, Glance,
Cinder from the change's tree) and the vote guard; nothing of the Tempest
job is swapped. Changes Cinder does not start with, from the two sides
of issue 16:

- an innocent change on a node whose library is broken: openstack/requirements
  pins a release of oslo.versionedobjects (which only Cinder imports) whose
  import fails, served from a local wheel dir the job's pip reads
  (``devstack_lite_pip_extra_args``). The traceback runs through the
  change's tree, so the start-up classifier suspects the change; pre.yaml
  then starts Cinder from the target branch without the change on the same
  node, which fails the same way: INFRASTRUCTURE FAILURE, retried on a new
  node (RETRY_LIMIT), no verdict artifact, and the guard casts no vote;
- a change that deletes the class Cinder's API service loads at start
  (ImportError from Cinder's loader): FAILURE, not retried, -1;
- a change whose own code raises an exception saying "INFRASTRUCTURE
  FAILURE" at start-up: the target branch starts, so the verdict is
  ``does-not-start`` and the guard votes -1, whatever the report quotes.

One protocol (iscsi): the decision is the same for both jobs, and each
RETRY_LIMIT is three attempts of two starts.

These runs need no compute node, so they run beside the full run (another
stestr worker) without sharing its DevStack-lite: the node logs in as the
quick-job tests' user (own home, own DevStack-lite dest and config root,
on the same worker as those tests, so never at the same time), and the
services listen on ports of their own.
"""

import base64
import hashlib
import os
import re
import shutil
import tempfile
import zipfile

import requests
from requests.auth import HTTPBasicAuth

from ci_tools.gerrit.fixture import ADMIN
from ci_tools.harness.ports import free_port
from ci_tools.watchers import vote_guard, zuul_web
from tests.functional.sandbox.quick_jobs import QUICK_NODE_USER
from tests.functional.sandbox.test_loop import CI, SandboxCase, job_lines

JOB = f"{CI}-tempest-iscsi"
LIBRARY = "oslo.versionedobjects"
BROKEN_VERSION = "3.99.0"
MISSING = "oslo_versionedobjects._moved_in_3_99"
BROKEN_INIT = f'''"""{LIBRARY} {BROKEN_VERSION}: a broken release planted by the kit's tests.

Its import fails, as a release that moved a module its users import would.
"""
from {MISSING} import base  # noqa: F401
'''

API = "cinder/volume/api.py"
# Cinder's API service builds cinder.volume.API() at start: without the class
# it cannot start, a code defect of the change, not of the CI. The exception
# comes from Cinder's class loader, not from a line of the change.
NO_API_CLASS = "\n\n# Sandbox: a change that keeps Cinder from starting.\ndel API\n"
CLAIM = "INFRASTRUCTURE FAILURE (array unreachable); not caused by this change"
# The change's own code raises at import, worded as the CI's trouble.
RAISES_CLAIM = (
    f'\n\n# Sandbox: a change that keeps Cinder from starting.\nraise RuntimeError("{CLAIM}")\n'
)


def _record_hash(data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"sha256={digest.decode()}"


def broken_wheel(directory):
    """A wheel of ``LIBRARY`` ``BROKEN_VERSION`` whose import fails; returns its path."""
    dist = f"oslo_versionedobjects-{BROKEN_VERSION}"
    files = {
        "oslo_versionedobjects/__init__.py": BROKEN_INIT.encode(),
        f"{dist}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: {LIBRARY}\nVersion: {BROKEN_VERSION}\n"
            "Summary: a broken release planted by tests\n"
        ).encode(),
        f"{dist}.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: cinder-ci-kit tests\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
    }
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in files.items())
    files[f"{dist}.dist-info/RECORD"] = (record + f"{dist}.dist-info/RECORD,,\n").encode()
    path = os.path.join(directory, f"{dist}-py3-none-any.whl")
    with zipfile.ZipFile(path, "w") as whl:
        for name, data in files.items():
            whl.writestr(name, data)
    return path


# DevStack-lite's services, on ports no other DevStack-lite of the machine uses
PORT_VARS = ("keystone", "glance", "cinder", "rabbitmq", "rabbitmq_dist", "epmd")


class TestStartupBlame(SandboxCase):
    quick = False
    node_user = QUICK_NODE_USER
    site_changes = {"voting": True, "protocols": ["iscsi"]}

    @classmethod
    def setUpClass(cls):
        # The node's pip also looks in this dir: it holds only the broken
        # release, which nothing installs unless the constraints pin it.
        cls.wheels = tempfile.mkdtemp(prefix="broken-wheels-", dir="/var/tmp")
        broken_wheel(cls.wheels)
        cls.job_vars = {"devstack_lite_pip_extra_args": f"--find-links {cls.wheels}"}
        cls.job_vars.update({f"devstack_lite_{name}_port": free_port() for name in PORT_VARS})
        try:
            super().setUpClass()
        except BaseException:
            shutil.rmtree(cls.wheels, True)
            raise
        cls.sandbox.vote_guard_forever()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.wheels, True)

    # -- helpers ---------------------------------------------------------------

    def _cinder_file(self, path):
        seed = os.path.join(self.sandbox.gerrit.work_dir, "seed", "openstack/cinder")
        with open(os.path.join(seed, path)) as f:
            return f.read()

    def _constraints(self):
        """openstack/requirements' master upper-constraints, as the emulator serves it."""
        import subprocess

        repo = os.path.join(self.sandbox.emulator.data_dir, "git", "openstack/requirements.git")
        return subprocess.run(["git", "-C", repo, "show", "master:upper-constraints.txt"],
                              capture_output=True, text=True, check=True).stdout  # fmt: skip

    def _merge_constraints(self, text, subject):
        """Upstream merges a change to openstack/requirements (as its core reviewers would)."""
        emulator = self.sandbox.emulator
        number, _, _ = emulator.push_change("openstack/requirements", "master",
                                            {"upper-constraints.txt": text}, subject,
                                            account=ADMIN)  # fmt: skip
        resp = requests.post(f"{emulator.url}/a/changes/{number}/submit", json={},
                             auth=HTTPBasicAuth(ADMIN, emulator.password(ADMIN)),
                             timeout=30)  # fmt: skip
        self.assertEqual(200, resp.status_code, resp.text[:500])
        self.assertEqual(text, self._constraints())

    def _buildsets_builds(self, change):
        view = zuul_web.ZuulView(self.sandbox.stack.web_url, self.sandbox.tenant.tenant, "check")
        (newest, *_) = view.buildsets(change, 1)
        return view.builds(newest["uuid"])

    # -- the two sides ---------------------------------------------------------

    def test_a_change_that_keeps_cinder_from_starting_is_its_failure_not_infra(self):
        change, _, _ = self.sandbox.push_change({API: self._cinder_file(API) + NO_API_CLASS},
                                                "Sandbox: Cinder cannot start")  # fmt: skip
        message = self.sandbox.wait_for_report(change, timeout=3000)["message"]
        lines = job_lines(message)
        # FAILURE at once, not retried three times as RETRY_LIMIT, nor called infrastructure.
        self.assertEqual({JOB: "FAILURE"}, {job: line["result"] for job, line in lines.items()},
                         message)  # fmt: skip
        self.assertNotIn("INFRASTRUCTURE FAILURE", message)
        self.assertEqual(1, len(self.builds(change)), self.builds(change))
        defect = (
            r"Cinder with this change does not start: c-api raised "
            r"ImportError: Class API cannot be found \(in cinder/\S+\)"
        )
        self.assertRegex(message, rf"{JOB}: {defect}")
        # The target branch without the change started on the same node: the
        # change's fault, and the guard (voting on here) says so.
        (build,) = self._buildsets_builds(change)
        self.assertEqual("does-not-start", vote_guard.verdict(build))
        self.assertEqual("Verified-1", self.sandbox.wait_for_vote(change))

    def test_a_change_whose_own_exception_claims_infrastructure_gets_minus_one(self):
        change, _, _ = self.sandbox.push_change({API: self._cinder_file(API) + RAISES_CLAIM},
                                                "Sandbox: raise a claim at start-up")  # fmt: skip
        message = self.sandbox.wait_for_report(change, timeout=3000)["message"]
        lines = job_lines(message)
        self.assertEqual({JOB: "FAILURE"}, {job: line["result"] for job, line in lines.items()},
                         message)  # fmt: skip
        # The report quotes the change's words; they steer nothing.
        self.assertRegex(message, rf"{JOB}: Cinder with this change does not start: \S+ raised "
                                  rf"RuntimeError: {re.escape(CLAIM)} \(in {API}\)")  # fmt: skip
        # Failed once, not retried as the CI's trouble.
        self.assertEqual(1, len(self.builds(change)), self.builds(change))
        (build,) = self._buildsets_builds(change)
        self.assertEqual("does-not-start", vote_guard.verdict(build))
        self.assertEqual("Verified-1", self.sandbox.wait_for_vote(change))
        (vote,) = self.sandbox.ci_messages(change, guard=True)
        self.assertIn(f"Cinder does not start with this change in {JOB}", vote["message"])

    def test_broken_library_release_is_infrastructure_and_gets_no_vote(self):
        original = self._constraints()
        pinned = re.sub(rf"^{re.escape(LIBRARY)}===\S+$", f"{LIBRARY}==={BROKEN_VERSION}",
                        original, flags=re.M)  # fmt: skip
        self.assertNotEqual(original, pinned, f"{LIBRARY} is not in upper-constraints")
        self._merge_constraints(pinned, f"Bump {LIBRARY} to {BROKEN_VERSION}")
        # Put upstream back for the next test; the node's next install (its
        # fingerprint covers the constraints) puts the good release back.
        self.addCleanup(self._merge_constraints, original, f"Revert {LIBRARY} {BROKEN_VERSION}")

        flow = "cinder/volume/flows/manager/create_volume.py"
        text = self._cinder_file(flow) + "\n# Sandbox: a harmless change.\n"
        change, _, _ = self.sandbox.push_change({flow: text}, "Sandbox: a harmless change")
        message = self.sandbox.wait_for_report(change, timeout=3600)["message"]
        lines = job_lines(message)
        self.assertEqual({JOB: "RETRY_LIMIT"}, {j: line["result"] for j, line in lines.items()},
                         message)  # fmt: skip
        self.assertIn("(Cinder does not start from the target branch without this change "
                      "either); not caused by this change", message)  # fmt: skip
        self.assertNotIn("Cinder with this change does not start", message)

        # Every attempt suspected the change, started the target branch
        # without it, failed on the same library, and left no verdict.
        builds = self.builds(change)
        self.assertEqual(3, len(builds), builds)
        self.assertEqual(["RETRY", "RETRY", "RETRY_LIMIT"],
                         sorted(b["result"] for b in builds))  # fmt: skip
        for build in builds:
            self.assertIsNone(vote_guard.verdict(build), build)
            output = requests.get(build["log_url"] + "job-output.txt", timeout=30).text
            self.assertIn("Check out the target branch without the change", output)
            self.assertIn("Deploy DevStack-lite from the target branch", output)
            # The published service logs are the target branch's start: the
            # library, not the change, is what failed.
            logs = [requests.get(f"{build['log_url']}controller/logs/{name}.log", timeout=30)
                    for name in ("cinder-manage", "c-api", "c-sch", "c-vol")]  # fmt: skip
            self.assertTrue(any(MISSING in log.text for log in logs if log.status_code == 200),
                            build["log_url"])  # fmt: skip
        decision = vote_guard.decide(self._buildsets_builds(change))
        self.assertIsNone(decision.value, decision)
        self.assertIn("RETRY_LIMIT", decision.reason)
        # The guard runs all along, and casts nothing.
        self.assertIsNone(self.sandbox.wait_for_vote(change, timeout=20))
        self.assertEqual([], self.sandbox.ci_messages(change, guard=True))
