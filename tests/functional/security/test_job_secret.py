"""A real Zuul hands the job's own secret to the log scrubber, as zuul.d/jobs.yaml does.

The job attaches a Zuul secret with ``pass-to-parent: true`` and names it in
``scrub_log_secrets_secret_vars`` (what ``use_secrets: true`` renders for
the Tempest jobs). Its run playbook writes the password into the node's
logs plainly and encoded, with nothing around it that names it a password:
only the secret's value, handed by Zuul to base's post-logs, can mask it.
The published logs (through the log server) must not hold it in any form.
"""

import base64
import copy
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.parse

import requests
import testtools

from ci_tools.configcheck.sandbox_tenant import SandboxTenant
from ci_tools.harness.logserver import LogServer
from ci_tools.harness.ports import free_port
from ci_tools.harness.stack import ZuulStack
from ci_tools.harness.static_node import StaticNode
from ci_tools.harness.zuul_daemons import zuul_venv
from ci_tools.zuulconf.site import load_site
from tests.functional.sandbox.quick_jobs import QUICK_NODE_USER

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))

CONFIG = """\
# Test-only: a pipeline fed by pushes to the local Cinder repo, and a job on
# base that carries a secret the way the Tempest jobs do.
- pipeline:
    name: smoke
    manager: independent
    trigger:
      cinder-repos:
        - event: ref-updated
          ref: ^refs/heads/master$

- secret:
    name: security-array-credentials
    data:
      san_login: ciuser
      san_password: "{password}"

- job:
    name: security-job-secret
    parent: base
    run: playbooks/security-job-secret/run.yaml
    secrets:
      - name: refflash_ci_array
        secret: security-array-credentials
        pass-to-parent: true
    vars:
      scrub_log_secrets_secret_vars:
        - refflash_ci_array

- project:
    name: openstack/cinder
    smoke:
      jobs:
        - security-job-secret
"""

PLAYBOOK = """\
- hosts: all
  tasks:
    - name: Create the output dir
      ansible.builtin.file:
        path: "{{ ansible_user_dir }}/tempest-output"
        state: directory
        mode: "0755"

    - name: Leave the array password in the logs, as a careless driver would
      no_log: true
      ansible.builtin.copy:
        dest: "{{ ansible_user_dir }}/tempest-output/driver.log"
        mode: "0644"
        content: |
          INFO refflash logged in as {{ refflash_ci_array.san_login }} with {{ pw }}
          DEBUG refflash body {{ {'blob': pw} | to_json }}
          DEBUG refflash session {{ pw | b64encode }}
          DEBUG refflash query p={{ pw | urlencode }}
          DEBUG refflash wrapped {{ pw[:5] }}
          {{ pw[5:] }} end
          INFO cinder.volume.manager Volume vol-1 created successfully.
      vars:
        pw: "{{ refflash_ci_array.san_password }}"
"""


class TestJobSecretReachesScrubber(testtools.TestCase):
    def setUp(self):
        super().setUp()
        if not os.path.exists(os.path.join(zuul_venv(), "bin", "zuul-scheduler")):
            self.fail("Zuul venv missing: run tools/test-setup.sh")
        self.work = tempfile.mkdtemp(prefix="jobsecret-", dir="/var/tmp")
        os.chmod(self.work, 0o711)
        if not os.environ.get("CI_KIT_KEEP_WORK"):
            self.addCleanup(shutil.rmtree, self.work, True)
        # Characters that JSON, base64 and URL encoding all change.
        self.password = f"Sx{secrets.token_hex(6)}/+&{secrets.token_hex(3)}"

    def test_job_secret_masked_in_published_logs(self):
        log_root = os.path.join(self.work, "published-logs")
        os.makedirs(log_root)
        logserver = LogServer(log_root).start()
        self.addCleanup(logserver.stop)
        site = copy.deepcopy(load_site(REPO))
        site["sandbox_node"]["port"] = free_port()
        # Its own node user, as test_base_job: the full run's jobs use zuul's
        # home on this node at the same time (its ~/zuul-output, its logs).
        site["sandbox_node"]["username"] = QUICK_NODE_USER
        site["log_root"] = log_root
        site["periodic_time"] = None  # no canary by the clock mid-test
        site["log_url"] = logserver.url
        extra = {
            "zuul.d/zz-security.yaml": CONFIG.format(password=self.password),
            "playbooks/security-job-secret/run.yaml": PLAYBOOK,
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
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid",
             "commit", "-q", "--allow-empty", "-m", "Trigger the secret job"],
            cwd=cinder, check=True,
        )  # fmt: skip
        build = self._wait_for_build(stack, tenant.tenant, "security-job-secret", timeout=300)
        self.assertEqual("SUCCESS", build["result"], build)

        log_url = build["log_url"]
        index = self._published(log_root)
        driver_logs = [p for p in index if p.endswith("tempest-output/driver.log")]
        self.assertEqual(1, len(driver_logs), sorted(index))
        driver_log = index[driver_logs[0]].decode()
        self.assertIn("Volume vol-1 created successfully.", driver_log)
        # every string of the secret is masked, the login too
        self.assertIn("logged in as *** with ***", driver_log)
        pw = self.password
        forms = {
            "plain": pw,
            "JSON": json.dumps(pw)[1:-1],
            "base64": base64.b64encode(pw.encode()).decode(),
            "URL-encoded": urllib.parse.quote(pw),
            "split": f"{pw[:5]}\n{pw[5:]}",
        }
        for name, form in forms.items():
            for path, data in index.items():
                self.assertNotIn(form.encode(), data, f"{name} form in {path}")
        output = requests.get(log_url + "job-output.txt", timeout=10)
        self.assertEqual(200, output.status_code, log_url)
        self.assertNotIn(pw, output.text)

    def _published(self, root):
        found = {}
        for dirpath, _dirs, files in os.walk(root):
            for name in files:
                path = os.path.join(dirpath, name)
                with open(path, "rb") as f:
                    found[os.path.relpath(path, root)] = f.read()
        return found

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
            f"no finished {job} build after {timeout}s; executor log tail:\n"
            + stack.services["executor"].process.tail(80)
        )
