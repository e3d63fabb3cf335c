"""The sandbox loop as a patch author and a CI maintainer see it.

Real Gerrit emulator, real Zuul, real static node over SSH, real log server;
only the Tempest job's pre/run/cleanup playbooks are quick stand-ins
(quick_jobs.py). Each test uses its own change, so one sandbox serves them all.
"""

import os
import re
import shutil
import tempfile
import time

import requests
import testtools

from ci_tools.harness.zuul_daemons import zuul_venv
from ci_tools.sandbox import reaper
from ci_tools.sandbox.loop import Progress, Sandbox
from ci_tools.zuulconf import summary
from tests.functional.sandbox import quick_jobs

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
CI = "refflash-ci"
JOB_LINE = re.compile(
    r"^- (?P<job>\S+) (?P<url>https?://\S+) : (?P<result>[A-Z_]+) in (?P<took>(\d+[hms] ?)+)"
    r"(?P<rest>.*)$",
    re.M,
)


def job_lines(message):
    return {m["job"]: m.groupdict() for m in JOB_LINE.finditer(message)}


class SandboxCase(testtools.TestCase):
    """One sandbox per class; tests add changes to it."""

    nodeless = False
    quick = True  # swap the Tempest job's playbooks for quick_jobs'
    compute_node = False  # the QEMU compute node, the FC data-plane VM and the data path
    node_user = None  # the static node's login; None: zuul, or zuul-quick for quick jobs
    job_vars = {}
    site_changes = {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not os.path.exists(os.path.join(zuul_venv(), "bin", "zuul-scheduler")):
            raise RuntimeError("Zuul venv missing: run tools/test-setup.sh")
        cls.work = tempfile.mkdtemp(prefix="sandbox-", dir="/var/tmp")
        from ci_tools.zuulconf.site import load_site

        site = load_site(REPO)
        site.update(cls.site_changes)
        if cls.quick or cls.nodeless:
            site["sandbox_node"]["username"] = quick_jobs.QUICK_NODE_USER
        if cls.node_user:
            site["sandbox_node"]["username"] = cls.node_user
        if cls.nodeless:
            extra = quick_jobs.nodeless_files(CI, site["protocols"])
        elif cls.quick:
            extra = quick_jobs.quick_files()
        else:
            extra = {}
        cls.lines = []
        cls.sandbox = Sandbox(REPO, cls.work, site=site, extra_files=extra, job_vars=cls.job_vars,
                              progress=Progress(cls.lines.append),
                              compute_node=cls.compute_node)  # fmt: skip
        try:
            cls.sandbox.up()
        except BaseException:
            cls.sandbox.down()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.sandbox.down()
            # Nothing the jobs deployed on the node outlives the sandbox.
            left = reaper.processes_with(cls.sandbox.node_dest)
            if left:
                raise AssertionError(f"processes left on the node after down: {left}")
        finally:
            if not os.environ.get("CI_KIT_KEEP_WORK"):
                shutil.rmtree(cls.work, ignore_errors=True)
            else:  # kept to read afterwards: with the phase lines and their figures
                with open(os.path.join(cls.work, "progress.txt"), "w") as f:
                    f.write("\n".join(cls.lines) + "\n")
            super().tearDownClass()

    def push(self, message, path="cinder/volume/api.py", text=None):
        body = text or f"# {message} {time.time()}\n"
        number, ps, _ = self.sandbox.push_change({path: body}, message)
        return number, ps

    def report(self, change, count=1, timeout=300):
        message = self.sandbox.wait_for_report(change, count=count, timeout=timeout)
        capture = os.environ.get("CI_KIT_CAPTURE_REPORTS")
        if capture:  # refresh tests/fixtures/reports/ from a real run
            import json

            name = f"{self.id().rsplit('.', 1)[-1]}-change{change}-{count}.json"
            with open(os.path.join(capture, name), "w") as f:
                json.dump({"author": {"name": message["author"]["name"]},
                           "message": message["message"]}, f, indent=2)  # fmt: skip
                f.write("\n")
        return message["message"]

    def assertShowsInCISummary(self, change, status, jobs):
        """Gerrit's CI summary tab (zuul-results-summary) lists the newest report."""
        (message,) = self.sandbox.ci_messages(change)[-1:]
        self.assertRegex(message["author"]["name"], summary.AUTHOR_RE)
        self.assertEqual((status, "check"), summary.status(message["message"]), message)
        rows = summary.job_rows(message["message"])
        self.assertEqual(sorted(jobs), sorted(r["job"] for r in rows), message)

    def builds(self, change, **filters):
        query = "&".join([f"change={change}", *(f"{k}={v}" for k, v in filters.items())])
        return self.sandbox.stack.api(f"tenant/{self.sandbox.tenant.tenant}/builds?{query}")


class TestSandboxLoop(SandboxCase):
    # Voting on, as a vendor's proven CI runs: Zuul comments, the vote guard votes.
    site_changes = {"voting": True}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox.vote_guard_forever()

    def test_new_patchset_gets_one_comment_whose_links_open(self):
        change, _ = self.push("Sandbox: a good change")
        message = self.report(change)
        lines = job_lines(message)
        self.assertEqual({f"{CI}-tempest-iscsi", f"{CI}-tempest-fc"}, set(lines), message)
        for line in lines.values():
            self.assertEqual("SUCCESS", line["result"], message)
            self.assertEqual(200, requests.get(line["url"], timeout=10).status_code, line["url"])
        self.assertIn("https://wiki.openstack.org/wiki/ThirdPartySystems/", message)
        self.assertIn('"recheck" or "run-refflash-ci"', message)
        # Every build's logs are published and open from the build page's log URL.
        for build in self.builds(change):
            self.assertTrue(build["log_url"], build)
            out = requests.get(build["log_url"] + "job-output.txt", timeout=10)
            self.assertEqual(200, out.status_code, build["log_url"])
        self.assertShowsInCISummary(
            change, "succeeded", [f"{CI}-tempest-iscsi", f"{CI}-tempest-fc"]
        )
        # Voting on: Zuul's own report carries the +1, so the run leaves one message.
        self.assertEqual("Verified+1", self.sandbox.wait_for_vote(change))
        time.sleep(5)
        self.assertEqual(1, len(self.sandbox.ci_messages(change)))
        self.assertEqual([], self.sandbox.ci_messages(change, guard=True))

    def test_broken_change_fails_naming_the_tests(self):
        change, _ = self.push("Sandbox: break it\n\nSANDBOX-BREAK")
        message = self.report(change)
        lines = job_lines(message)
        self.assertEqual({"FAILURE"}, {line["result"] for line in lines.values()}, message)
        self.assertIn("Build failed", message)
        self.assertIn("2 of 3 tests failed", message)
        self.assertIn(quick_jobs.FAILED_GET.split(".", 4)[-1], message)
        # Failing tests named: the driver broke, and the CI says so with its vote.
        self.assertEqual("Verified-1", self.sandbox.wait_for_vote(change))
        (vote,) = self.sandbox.ci_messages(change, guard=True)
        self.assertIn(f"test failures in {CI}-tempest-iscsi", vote["message"])
        self.assertShowsInCISummary(change, "failed", [f"{CI}-tempest-iscsi", f"{CI}-tempest-fc"])

    def test_change_whose_exception_claims_infrastructure_still_gets_minus_one(self):
        # Issue 16: the guard reads the trusted verdict in zuul-web's build
        # records, never the report text the change's exception lands in.
        change, _ = self.push("Sandbox: Cinder cannot start\n\nSANDBOX-NOSTART")
        message = self.report(change)
        self.assertIn("INFRASTRUCTURE FAILURE (array unreachable); not caused by this change",
                      message)  # fmt: skip
        self.assertEqual({"FAILURE"}, {line["result"] for line in job_lines(message).values()})
        self.assertEqual("Verified-1", self.sandbox.wait_for_vote(change))
        (vote,) = self.sandbox.ci_messages(change, guard=True)
        self.assertIn("Cinder does not start with this change", vote["message"])
        for build in self.builds(change):
            (verdict,) = [a for a in build["artifacts"] if a["name"] == "tempest-verdict"]
            self.assertEqual("does-not-start", verdict["metadata"]["verdict"])


class TestSandboxEvents(SandboxCase):
    """Triggers and faults on the event path, with node-less quick jobs so many runs fit."""

    nodeless = True
    site_changes = {"protocols": ["iscsi"], "voting": True}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox.vote_guard_forever()

    def test_recheck_and_run_ci_rerun_other_comments_do_not(self):
        change, _ = self.push("Sandbox: recheck me")
        self.report(change, 1)
        self.sandbox.comment(change, "Looks fine to me, but please recheck the docs")
        self.sandbox.comment(change, "run-other-ci")
        self.sandbox.comment(change, "recheck")
        self.report(change, 2)
        self.sandbox.comment(change, f"run-{CI}")
        self.report(change, 3)
        time.sleep(10)
        self.assertEqual(3, len(self.sandbox.ci_messages(change)))

    def test_every_patch_gets_a_report(self):
        # Cinder: "CIs must report on every patch, whether the code change is
        # in their own driver code or not".
        other, _ = self.push("Sandbox: another vendor's driver",
                             path="cinder/volume/drivers/lvm.py")  # fmt: skip
        docs, _ = self.push("Sandbox: docs only", path="doc/source/index.rst")
        self.assertIn(f"- {CI}-tempest-iscsi ", self.report(other))
        self.assertShowsInCISummary(other, "succeeded", [f"{CI}-tempest-iscsi"])
        message = self.report(docs)
        self.assertIn("touches only", message)
        self.assertEqual([], self.builds(docs))
        self.assertShowsInCISummary(docs, "succeeded", [])
        # Voting on, and no job ran: no +1 for what was not tested.
        self.assertIsNone(self.sandbox.wait_for_vote(docs, timeout=5))

    def test_new_patchset_dequeues_the_running_one(self):
        change, _ = self.push("Sandbox: slow first\n\nSANDBOX-SLOW")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            status = self.sandbox.stack.api(f"tenant/{self.sandbox.tenant.tenant}/status")
            if f"{change},1" in str(status) and "start_time" in str(status):
                break
            time.sleep(1)
        self.sandbox.emulator.new_patchset(
            change, {"cinder/volume/api.py": "# second\n"}, "Sandbox: second patchset",
            account="upstream-dev",
        )  # fmt: skip
        message = self.report(change)
        self.assertTrue(message.startswith("Patch Set 2:"), message)
        time.sleep(5)
        self.assertEqual(1, len(self.sandbox.ci_messages(change)))
        old = self.builds(change, patchset=1)
        self.assertTrue(all(b["result"] in ("CANCELED", "ABORTED", None) for b in old), old)

    def test_stream_drops_lose_no_patchset(self):
        rec = self.sandbox.reconcile_forever(interval=3, grace=20)
        changes = []
        for i in range(30):
            if i in (8, 16, 24):
                self.sandbox.emulator.faults.drop_streams()
            changes.append(self.push(f"Sandbox: event {i}")[0])
            time.sleep(0.3)
        for change in changes:
            self.report(change, 1, timeout=300)
        time.sleep(15)  # a doubled run would report by now
        counts = {c: len(self.sandbox.ci_messages(c)) for c in changes}
        self.assertEqual({1}, set(counts.values()), counts)
        # The drops did lose events, and the reconciler made up for them.
        self.assertGreater(len(rec.enqueued), 0)
        self.assertEqual(len(rec.enqueued), len({t.ref for t in rec.enqueued}))

    def test_scheduler_restart_mid_run_reports_once(self):
        change, _ = self.push("Sandbox: survive a restart\n\nSANDBOX-SLOW")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if any(b.get("start_time") for b in self.builds(change)) or "start_time" in str(
                self.sandbox.stack.api(f"tenant/{self.sandbox.tenant.tenant}/status")
            ):
                break
            time.sleep(1)
        scheduler = self.sandbox.stack.services["scheduler"]
        scheduler.stop()
        scheduler.start()
        scheduler.wait_healthy()
        message = self.report(change, 1, timeout=300)
        self.assertIn("SUCCESS", message)
        time.sleep(10)
        self.assertEqual(1, len(self.sandbox.ci_messages(change)))

    def test_array_unreachable_is_an_infra_failure_without_vote(self):
        self.sandbox.array.stop()
        change, _ = self.push("Sandbox: array away")
        try:
            message = self.report(change, 1, timeout=300)
        finally:
            self.sandbox.array.start()
        self.assertIn("RETRY_LIMIT", message)
        self.assertIn("INFRASTRUCTURE FAILURE (array unreachable); not caused by this change",
                      message)  # fmt: skip
        # Voting is on, and still no vote: the lab failed, not the change.
        self.assertIsNone(self.sandbox.wait_for_vote(change, timeout=15))
        self.assertEqual([], self.sandbox.ci_messages(change, guard=True))
        # The guard was watching all along: the recheck on a working array passes and votes.
        self.sandbox.comment(change, "recheck")
        self.assertIn("SUCCESS", self.report(change, 2, timeout=300))
        self.assertEqual("Verified+1", self.sandbox.wait_for_vote(change))
