"""DevStack-lite comes up through the real role and answers as OpenStack does.

ansible-playbook (Zuul's Ansible) runs test-playbooks/devstack-lite/deploy.yaml
on localhost: MariaDB and RabbitMQ from Debian, Keystone, Glance and Cinder
(api, scheduler, backup) from PyPI under supervisord, every config below the
deployment dir. Then a user's checks: a token from Keystone, the volume API
with it, the services cinder reports up, the test image in Glance. A second
run on the same (warm) node must skip pip. The deployment dir is kept between
runs (a warm node); its services are stopped when the class ends.
"""

import os
import re
import shutil
import tempfile
import time

import requests
import testtools

from ci_tools.harness.devstack import DevStackLite


class TestDevStackLite(testtools.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.work = tempfile.mkdtemp(prefix="devstack-", dir="/var/tmp")
        cls.stack = DevStackLite(cls.work)
        started = time.monotonic()
        cls.deploy = cls.stack.play("test-playbooks/devstack-lite/deploy.yaml", log_name="deploy")
        cls.deploy_seconds = time.monotonic() - started

    @classmethod
    def tearDownClass(cls):
        cls.stack.shutdown()
        shutil.rmtree(cls.work, True)
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        out = self.deploy.stdout[-4000:] + self.deploy.stderr[-2000:]
        self.assertEqual(0, self.deploy.returncode, out)

    def token(self):
        stack = self.stack
        resp = requests.post(
            f"http://127.0.0.1:{stack.ports['keystone']}/v3/auth/tokens",
            json={
                "auth": {
                    "identity": {
                        "methods": ["password"],
                        "password": {
                            "user": {
                                "name": "admin",
                                "domain": {"id": "default"},
                                "password": stack.password(),
                            }
                        },
                    },
                    "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
                }
            },
            timeout=30,
        )
        self.assertEqual(201, resp.status_code, resp.text[:500])
        return resp.headers["X-Subject-Token"], resp.json()["token"]

    def test_volume_api_answers_with_a_keystone_token(self):
        token, body = self.token()
        catalog = {entry["type"]: entry for entry in body["catalog"]}
        self.assertIn("block-storage", catalog)
        self.assertIn("image", catalog)
        project = body["project"]["id"]
        resp = requests.get(
            f"http://127.0.0.1:{self.stack.ports['cinder']}/v3/{project}/volumes",
            headers={"X-Auth-Token": token},
            timeout=30,
        )
        self.assertEqual(200, resp.status_code, resp.text[:500])
        self.assertEqual([], resp.json()["volumes"])

    def test_scheduler_and_backup_report_up_and_no_lvm(self):
        services = self.stack.openstack("volume", "service", "list")
        up = {s["Binary"] for s in services if s["State"] == "up"}
        self.assertIn("cinder-scheduler", up)
        self.assertIn("cinder-backup", up)
        # c-vol waits for configure-cinder-backend: never started on LVM
        self.assertNotIn("cinder-volume", up)
        with open(os.path.join(self.stack.etc, "cinder", "cinder.conf")) as f:
            self.assertNotIn("lvm", f.read().lower())

    def test_test_image_is_active_in_glance(self):
        image = self.stack.openstack("image", "show", self.stack.state()["image_id"])
        self.assertEqual("active", image["status"])

    def test_warm_rerun_skips_pip_and_keeps_the_catalog(self):
        started = time.monotonic()
        again = self.stack.play("test-playbooks/devstack-lite/deploy.yaml", log_name="redeploy")
        seconds = time.monotonic() - started
        self.assertEqual(0, again.returncode, again.stdout[-4000:])
        install = re.search(
            r"TASK \[devstack-lite : Install cinder from the tree under test.*?\]\s*\*+\n(\w+)",
            again.stdout,
        )
        self.assertIsNotNone(install, again.stdout[-2000:])
        self.assertEqual("skipping", install.group(1))
        catalog = re.search(
            r"TASK \[devstack-lite : Create the service users, catalog.*?\]\s*\*+\n(\w+)",
            again.stdout,
        )
        self.assertEqual("skipping", catalog.group(1))
        # the field notes' target for a warm node is a minute
        self.assertLess(seconds, 120, f"warm redeploy took {seconds:.0f}s")
