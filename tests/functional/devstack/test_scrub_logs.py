"""Known secrets planted in a node's logs never reach the published logs.

Runs the base job's real post playbook (collect-job-logs) and the scrub role
with Zuul's Ansible on localhost, on a node laid out as DevStack-lite and
configure-cinder-backend leave it: the array password, a CHAP secret, the
service password and Keystone tokens in cinder.conf, the backend section,
service logs, the Tempest console, a gzipped log and the array's audit log.
Then a secret the scrubber cannot rewrite (inside a binary subunit stream)
must fail the post-logs playbook as an infrastructure failure, before
anything is published.
"""

import base64
import gzip
import os
import secrets
import shutil
import tempfile

import testtools

from ci_tools.harness.playbook import run_playbook


def token():
    """Shaped like a Keystone Fernet token (version byte 0x80, base64url)."""
    return base64.urlsafe_b64encode(b"\x80\x00\x00\x00\x00" + secrets.token_bytes(150)).decode()


class TestScrubLogs(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.work = tempfile.mkdtemp(prefix="scrub-", dir="/var/tmp")
        self.addCleanup(shutil.rmtree, self.work, True)
        self.node = os.path.join(self.work, "node")
        self.dest = os.path.join(self.node, "stack")
        self.etc = os.path.join(self.node, "etc")
        self.home = os.path.join(self.node, "home")
        self.log_root = os.path.join(self.work, "executor", "logs")
        self.work_root = os.path.join(self.work, "executor", "work")
        for path in (self.log_root, self.work_root):
            os.makedirs(path)
        self.secret = {
            "array_password": "arr-" + secrets.token_hex(12),
            "chap_secret": "chap" + secrets.token_hex(6),
            "service_password": secrets.token_hex(16),
            "token": token(),
            "other_token": token(),
            # CHAP secrets the driver generated: no list knows them
            "generated_chap": "gen" + secrets.token_hex(7),
            "provider_chap": "prv" + secrets.token_hex(7),
        }
        self.plant()

    def write(self, path, text, mode=0o644):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        data = text.encode() if isinstance(text, str) else text
        with open(path, "wb") as f:
            f.write(gzip.compress(data) if path.endswith(".gz") else data)
        os.chmod(path, mode)

    def plant(self):
        s = self.secret
        # devstack-lite's and configure-cinder-backend's lists of what they hold
        self.write(
            os.path.join(self.dest, "secrets.txt"),
            f"{s['service_password']}\n{s['array_password']}\n{s['chap_secret']}\n",
            0o600,
        )
        self.write(
            os.path.join(self.etc, "cinder", "cinder.conf"),
            "[DEFAULT]\ndebug = True\n"
            f"transport_url = rabbit://stack:{s['service_password']}@127.0.0.1:5672/\n"
            "[database]\n"
            f"connection = mysql+pymysql://stack:{s['service_password']}@localhost/cinder\n"
            f"[keystone_authtoken]\nusername = cinder\npassword = {s['service_password']}\n",
        )
        self.write(
            os.path.join(self.etc, "cinder", "cinder.conf.d", "backends.conf"),
            "[refflash-1]\nvolume_driver = refflash.driver.RefFlashISCSIDriver\n"
            f"san_ip = 127.0.0.1\nsan_login = ciuser\nsan_password = {s['array_password']}\n"
            f"chap_password={s['chap_secret']}\n",
            0o600,
        )
        self.write(
            os.path.join(self.etc, "keystone", "keystone.conf"),
            "[database]\nconnection = mysql+pymysql://stack:"
            f"{s['service_password']}@localhost/keystone\n",
        )
        self.write(os.path.join(self.etc, "keystone", "fernet-keys", "0"), secrets.token_hex(16))
        logs = os.path.join(self.dest, "logs")
        self.write(
            os.path.join(logs, "c-vol.log"),
            "DEBUG cinder.volume.manager initialize_connection\n"
            "connection_info {'driver_volume_type': 'iscsi', 'data': {'target_iqn': "
            "'iqn.2026-01.org.example:vol-1', 'auth_method': 'CHAP', 'auth_username': 'u1', "
            f"'auth_password': '{s['generated_chap']}'}}}}\n"
            f"provider_auth=CHAP u1 {s['provider_chap']}\n"
            f"DEBUG refflash login user=ciuser password={s['array_password']} ok\n"
            "INFO cinder.volume.manager Volume vol-1 created successfully.\n",
        )
        self.write(
            os.path.join(logs, "c-api.log"),
            f"DEBUG keystoneauth REQ: curl -g -i -H 'X-Auth-Token: {s['token']}' "
            "http://127.0.0.1:8776/v3/volumes\n"
            f'RESP BODY: {{"token": {{"id": "{s["other_token"]}"}}}}\n'
            "INFO cinder.api.openstack.wsgi GET /v3/volumes returned with HTTP 200\n",
        )
        self.write(os.path.join(logs, "mysql.log"), "mariadbd: ready for connections.\n")
        self.write(
            os.path.join(logs, "keystone.log.gz"),
            f"keystone bootstrap --bootstrap-password {s['service_password']}\n",
        )
        self.write(
            os.path.join(self.home, "tempest-output", "tempest-console.txt"),
            "{0} tempest.api.volume.test_volumes_get [2.1s] ... ok\n"
            f"admin_password = {s['service_password']}\n"
            f"Request headers: {{'X-Auth-Token': '{s['token']}'}}\n"
            "Totals: Passed: 1\n",
        )
        # Links a change plants in its logs: to the executor's list of
        # secrets (relative, as the collected tree sits on the executor) and
        # to a dir outside the tree. Neither may be followed on any copy.
        os.symlink(
            os.path.join(self.work_root, "scrub-secrets", "localhost-0.txt"),
            os.path.join(logs, "c-api.log.1"),
        )
        os.symlink("../../../executor/work/scrub-secrets", os.path.join(logs, "c-sch"))
        self.audit = os.path.join(self.node, "array", "audit.log")
        self.write(
            self.audit,
            f'{{"op": "login", "user": "ciuser", "password": "{s["array_password"]}"}}\n'
            '{"op": "create_volume", "name": "ci-vol-1"}\n',
        )

    def extra_vars(self):
        return {
            "zuul": {
                "executor": {"log_root": self.log_root, "work_root": self.work_root},
                "build": "0123456789abcdef0123456789abcdef",
            },
            "ansible_user_dir": self.home,
            "devstack_lite_dest": self.dest,
            "devstack_lite_etc": self.etc,
            "collect_job_logs_staging": os.path.join(self.home, "zuul-output", "logs"),
            "collect_job_logs_extra_paths": [self.audit],
            "publish_logs_root": os.path.join(self.work, "published"),
            "publish_logs_url": "http://127.0.0.1/logs",
        }

    def published_files(self):
        """Every file under the log root, with .gz files read decompressed."""
        found = {}
        for dirpath, _dirs, files in os.walk(self.log_root):
            for name in files:
                path = os.path.join(dirpath, name)
                with open(path, "rb") as f:
                    data = f.read()
                if name.endswith(".gz"):
                    data = gzip.decompress(data)
                found[os.path.relpath(path, self.log_root)] = data
        return found

    def collect(self):
        proc = run_playbook("playbooks/base/post.yaml", self.work, self.extra_vars())
        self.assertEqual(0, proc.returncode, proc.stdout[-3000:] + proc.stderr[-2000:])
        return proc

    def test_no_planted_secret_survives(self):
        collect = self.collect()
        proc = run_playbook(
            "test-playbooks/devstack-lite/scrub-logs.yaml", self.work, self.extra_vars()
        )
        self.assertEqual(0, proc.returncode, proc.stdout[-3000:] + proc.stderr[-2000:])
        files = self.published_files()
        host = "localhost/"
        # what upstream asks to see is published, scrubbed rather than dropped
        for rel in (
            "cinder/cinder.conf",
            "cinder/cinder.conf.d/backends.conf",
            "keystone.conf",
            "logs/screen-c-vol.txt",
            "logs/screen-c-api.txt",
            "logs/screen-keystone.txt.gz",
            "logs/mysql.log",
            "tempest-output/tempest-console.txt",
            "audit.log",
        ):
            self.assertIn(host + rel, files)
        # the OpenStack services' logs carry DevStack's names, and only those
        for rel in ("logs/c-vol.log", "logs/c-api.log", "logs/keystone.log.gz"):
            self.assertNotIn(host + rel, files)
        # planted links are not collected, whatever they point to
        self.assertNotIn(host + "logs/c-api.log.1", files)
        self.assertFalse(any("c-sch" in rel for rel in files), sorted(files))
        for dirpath, dirs, names in os.walk(self.log_root):
            for name in dirs + names:
                self.assertFalse(os.path.islink(os.path.join(dirpath, name)), name)
        # the Fernet keys are never collected
        self.assertFalse(any("fernet-keys" in rel for rel in files), sorted(files))
        for name, value in self.secret.items():
            for rel, data in files.items():
                self.assertNotIn(value.encode(), data, f"{name} survived in {rel}")
            # nor in anything Ansible printed (Zuul's job-output)
            self.assertNotIn(value, collect.stdout + proc.stdout + proc.stderr, name)
        backends = files[host + "cinder/cinder.conf.d/backends.conf"].decode()
        self.assertIn("san_password = ***", backends)
        self.assertIn("san_ip = 127.0.0.1", backends)
        cvol = files[host + "logs/screen-c-vol.txt"].decode()
        self.assertIn("'auth_password': '***'", cvol)
        self.assertIn("Volume vol-1 created successfully.", cvol)
        self.assertIn("X-Auth-Token: ***", files[host + "logs/screen-c-api.txt"].decode())
        self.assertIn(
            "tempest.api.volume.test_volumes_get [2.1s] ... ok",
            files[host + "tempest-output/tempest-console.txt"].decode(),
        )
        # the node's secret lists stay out of the published logs
        self.assertEqual(1, len(os.listdir(os.path.join(self.work_root, "scrub-secrets"))))

    def test_secret_that_slips_through_fails_post_run_before_publishing(self):
        # A subunit stream is binary: scrubbing cannot rewrite it safely.
        subunit = os.path.join(self.home, "tempest-output", "tempest.subunit")
        self.write(
            subunit,
            b"\xb3\x29\x01\x00\x00\x00" + f"san_password={self.secret['array_password']}".encode(),
        )
        self.collect()
        proc = run_playbook("playbooks/base/post-logs.yaml", self.work, self.extra_vars())
        out = proc.stdout + proc.stderr
        self.assertNotEqual(0, proc.returncode, out[-3000:])
        self.assertIn("INFRASTRUCTURE FAILURE (log scrub)", out)
        self.assertIn("tempest-output/tempest.subunit", out)
        self.assertNotIn(self.secret["array_password"], out)
        # publish-logs never ran
        self.assertFalse(os.path.exists(os.path.join(self.work, "published")))
