"""A real Zuul runs a job on the loopback static node through this repo's base job.

Proves the parts every CI run depends on, on the real executor (bubblewrap,
Zuul's Ansible): the launcher hands out the static node, base's pre-run
pushes the repos onto it, the job runs, post-run collects and scrubs logs
and publishes them, and the log URL Zuul records opens. The published tree
is what upstream's base job leaves: zuul-info/ (the inventory Zuul wrote,
each node's facts) and zuul-manifest.json, which zuul-web's build page
browses through the build's Zuul Manifest artifact.
"""

import copy
import json
import os
import shutil
import subprocess
import tempfile
import time

import requests
import testtools
import yaml

from ci_tools.configcheck.sandbox_tenant import SandboxTenant
from ci_tools.harness.logserver import LogServer
from ci_tools.harness.ports import free_port
from ci_tools.harness.stack import ZuulStack
from ci_tools.harness.static_node import StaticNode
from ci_tools.harness.zuul_daemons import zuul_venv
from ci_tools.zuulconf.site import load_site
from tests.functional.sandbox.quick_jobs import QUICK_NODE_USER

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))

SMOKE_CONFIG = """\
# Test-only: a pipeline fed by pushes to the local Cinder repo, and a job on base.
- pipeline:
    name: smoke
    manager: independent
    trigger:
      cinder-repos:
        - event: ref-updated
          ref: ^refs/heads/master$

- job:
    name: sandbox-smoke
    parent: base
    run: playbooks/sandbox-smoke/run.yaml

- project:
    name: openstack/cinder
    smoke:
      jobs:
        - sandbox-smoke
"""

SMOKE_PLAYBOOK = """\
- hosts: all
  tasks:
    - name: The change under test is on the node
      ansible.builtin.command: git -C {{ zuul.project.src_dir }} log -1 --format=%s
      register: head
      changed_when: false

    - name: Say what was tested
      ansible.builtin.debug:
        msg: "tested: {{ head.stdout }} san_password=hunter2-must-be-scrubbed"
"""


class TestBaseJobOnStaticNode(testtools.TestCase):
    def setUp(self):
        super().setUp()
        if not os.path.exists(os.path.join(zuul_venv(), "bin", "zuul-scheduler")):
            self.fail("Zuul venv missing: run tools/test-setup.sh")
        self.work = tempfile.mkdtemp(prefix="basejob-", dir="/var/tmp")
        os.chmod(self.work, 0o711)
        if not os.environ.get("CI_KIT_KEEP_WORK"):
            self.addCleanup(shutil.rmtree, self.work, True)

    def test_job_runs_on_static_node_and_publishes_logs(self):
        log_root = os.path.join(self.work, "published-logs")
        os.makedirs(log_root)
        logserver = LogServer(log_root).start()
        self.addCleanup(logserver.stop)

        site = copy.deepcopy(load_site(REPO))
        site["sandbox_node"]["port"] = free_port()
        # its own node user, so this runs beside the full run (quick_jobs.py)
        site["sandbox_node"]["username"] = QUICK_NODE_USER
        site["log_root"] = log_root
        site["periodic_time"] = None  # no canary by the clock mid-test
        site["log_url"] = logserver.url
        extra = {
            "zuul.d/zz-smoke.yaml": SMOKE_CONFIG,
            "playbooks/sandbox-smoke/run.yaml": SMOKE_PLAYBOOK,
        }
        tenant = SandboxTenant(REPO, self.work, site=site, extra_files=extra, poll_delay=1)
        tenant.__enter__()
        self.addCleanup(tenant.__exit__, None, None, None)

        stack = ZuulStack(
            os.path.join(self.work, "stack"),
            tenant.tenant_file,
            tenant.connections,
            daemon_files=tenant.daemon_files,
            zuul_options={"executor": {"trusted_rw_paths": log_root}},
        )
        self.addCleanup(stack.stop)
        stack.start()
        node = StaticNode(
            self.work,
            [stack.config.ssh_key + ".pub"],
            port=site["sandbox_node"]["port"],
            user=site["sandbox_node"]["username"],
        )
        self.addCleanup(node.stop)
        node.start()
        stack.wait_for_tenant(tenant.tenant)
        self.assertEqual([], stack.config_errors(tenant.tenant))

        cinder = os.path.join(tenant.repos, "openstack/cinder")
        with open(os.path.join(cinder, "README.rst"), "w") as f:
            f.write("smoke\n")
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid",
             "commit", "-qam", "Change under smoke test", "--allow-empty"],
            cwd=cinder, check=True,
        )  # fmt: skip
        subprocess.run(["git", "add", "README.rst"], cwd=cinder, check=True)
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid",
             "commit", "-qm", "Change under smoke test"],
            cwd=cinder, check=True,
        )  # fmt: skip

        build = self._wait_for_build(stack, tenant.tenant, "sandbox-smoke", timeout=240)
        self.assertEqual("SUCCESS", build["result"], build)

        log_url = build["log_url"]
        self.assertTrue(log_url.startswith(logserver.url), log_url)
        output = requests.get(log_url + "job-output.txt", timeout=10)
        self.assertEqual(200, output.status_code, log_url)
        self.assertIn("tested: Change under smoke test", output.text)
        # the secret the job printed never reaches the published log
        self.assertNotIn("hunter2", output.text)
        # the job's and the node's header, as upstream's emit-job-header prints them
        self.assertIn("Job: sandbox-smoke", output.text)
        self.assertIn("Inventory Hostname: controller", output.text)
        self.assertPublishedLikeUpstream(stack, tenant.tenant, build, log_url)

    def assertPublishedLikeUpstream(self, stack, tenant, build, log_url):
        """zuul-info/ and zuul-manifest.json, as a reviewer opens them from the build page."""
        inventory = requests.get(log_url + "zuul-info/inventory.yaml", timeout=10)
        self.assertEqual(200, inventory.status_code, log_url)
        inventory = yaml.safe_load(inventory.text)
        self.assertEqual(["controller"], list(inventory["all"]["hosts"]))
        self.assertEqual("sandbox-smoke", inventory["all"]["vars"]["zuul"]["job"])
        facts = requests.get(log_url + "zuul-info/host-info.controller.yaml", timeout=10)
        self.assertEqual(200, facts.status_code, log_url)
        facts = yaml.safe_load(facts.text)
        for fact in ("ansible_distribution", "ansible_kernel", "ansible_processor_vcpus",
                     "ansible_memtotal_mb", "ansible_all_ipv4_addresses"):  # fmt: skip
            self.assertTrue(facts.get(fact), fact)
        node = requests.get(log_url + "zuul-info/zuul-info.controller.txt", timeout=10)
        self.assertIn("$ ip address show", node.text)
        self.assertIn("127.0.0.1", node.text)

        # zuul-web finds the manifest through the build's artifact, as upstream's
        (artifact,) = [a for a in build["artifacts"] if a["name"] == "Zuul Manifest"]
        self.assertEqual(log_url + "zuul-manifest.json", artifact["url"])
        self.assertEqual({"type": "zuul_manifest"}, artifact["metadata"])
        # and fetches it from the browser, across origins
        manifest = requests.get(artifact["url"], headers={"Origin": stack.web_url}, timeout=10)
        self.assertEqual(200, manifest.status_code, artifact["url"])
        self.assertEqual("*", manifest.headers.get("Access-Control-Allow-Origin"))
        manifest = json.loads(manifest.text)
        self.assertEqual(["tree", "index_links"], list(manifest))
        self.assertIs(False, manifest["index_links"])
        listed = {}

        def walk(entries, prefix):
            for entry in entries:
                if entry["mimetype"] == "application/directory":
                    self.assertEqual(["name", "mimetype", "encoding", "children"], list(entry))
                    walk(entry["children"], prefix + entry["name"] + "/")
                else:
                    self.assertEqual(
                        ["name", "mimetype", "encoding", "last_modified", "size"], list(entry)
                    )
                    listed[prefix + entry["name"]] = entry

        walk(manifest["tree"], "")
        for rel in (
            "job-output.txt",
            "zuul-info/inventory.yaml",
            "zuul-info/host-info.controller.yaml",
            "zuul-info/zuul-info.controller.txt",
        ):
            self.assertIn(rel, listed)
        # every file it lists opens at its place under the log URL, at its size
        for rel in ("zuul-info/inventory.yaml", "zuul-info/host-info.controller.yaml"):
            got = requests.get(log_url + rel, timeout=10)
            self.assertEqual(listed[rel]["size"], len(got.content), rel)
        self.assertEqual("text/plain", listed["job-output.txt"]["mimetype"])

    def _wait_for_build(self, stack, tenant, job, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            builds = stack.api(f"tenant/{tenant}/builds?job_name={job}&complete=true")
            final = [b for b in builds if b.get("final")]
            if final:
                return final[0]
            stack._check_alive()
            time.sleep(2)
        self.fail(
            f"no finished {job} build after {timeout}s; scheduler log tail:\n"
            + stack.services["scheduler"].process.tail(40)
            + "\nexecutor log tail:\n"
            + stack.services["executor"].process.tail(60)
        )
