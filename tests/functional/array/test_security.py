"""The reference array refuses what it should: a real ``ci-tools array serve`` process.

Failed logins throttle the client address, not the account; the storage role
cannot unlock or read CHAP secrets; sizes out of bounds are 400 and leave no
file; the CHAP secret never appears on a tgtadm command line (every tgtadm
call the array makes is recorded by a wrapper on PATH) while initiators
still log in with it over real iSCSI.
"""

import json
import os
import stat
import tempfile

import requests
import testtools

from ci_tools.array.fixture import ArrayFixture, SourceAddressAdapter
from tests.functional.array import iscsi

OPS_PASSWORD = "ops-password-1"
INIT = "iqn.2004-10.org.example:sec1"
CHAP = {"username": "sec1-chap", "secret": "sec1-secret-42"}


class ArraySecurityTest(testtools.TestCase):
    @classmethod
    def setUpClass(cls):
        missing = iscsi.missing_tools()
        if missing:
            raise AssertionError(f"missing {missing}: run tools/test-setup.sh (bindep [test])")
        cls._tmp = tempfile.TemporaryDirectory()
        bindir = os.path.join(cls._tmp.name, "bin")
        os.makedirs(bindir)
        cls.argv_log = os.path.join(cls._tmp.name, "tgtadm-argv.log")
        wrapper = os.path.join(bindir, "tgtadm")
        real = "/usr/sbin/tgtadm"
        with open(wrapper, "w") as f:
            f.write(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {cls.argv_log}\nexec {real} "$@"\n')
        os.chmod(wrapper, stat.S_IRWXU)
        cls.array = ArrayFixture(
            os.path.join(cls._tmp.name, "array"),
            users={"ops": ("storage", OPS_PASSWORD)},
            extra_args=["--lockout-after", "3", "--lockout-s", "60"],
        )
        path = os.environ["PATH"]
        os.environ["PATH"] = f"{bindir}:{path}"  # the array's tgtadm calls go through the log
        try:
            cls.array.start()
        finally:
            os.environ["PATH"] = path

    @classmethod
    def tearDownClass(cls):
        cls.array.stop()
        cls._tmp.cleanup()

    def setUp(self):
        super().setUp()
        self.base = self.array.url + "/api/v1"
        self.admin = self.array.session()

    def login(self, password, source="127.0.0.1", username="admin"):
        s = requests.Session()
        self.addCleanup(s.close)
        s.mount("http://", SourceAddressAdapter(source))
        return s.post(self.base + "/auth/login", json={"username": username, "password": password},
                      timeout=10)  # fmt: skip

    def test_failed_logins_throttle_the_address_not_the_account(self):
        self.addCleanup(self.admin.post, self.base + "/admin/unlock", json={})
        attacker = "127.0.0.3"
        for _ in range(3):
            self.assertEqual(401, self.login("guess", attacker).status_code)
        r = self.login(self.array.password, attacker)  # even the right password: throttled
        self.assertEqual((429, "auth.throttled"), (r.status_code, r.json()["error"]["code"]))
        # everyone else, and sessions already open, carry on
        self.assertEqual(200, self.login(self.array.password, "127.0.0.1").status_code)
        self.assertEqual(200, self.admin.get(self.base + "/volumes").status_code)
        ops = self.array.session("ops")
        r = ops.post(self.base + "/admin/unlock", json={"address": attacker})
        self.assertEqual((403, "auth.forbidden"), (r.status_code, r.json()["error"]["code"]))
        self.assertEqual(429, self.login(self.array.password, attacker).status_code)
        r = self.admin.post(self.base + "/admin/unlock", json={"address": attacker})
        self.assertEqual(200, r.status_code)
        self.assertEqual(200, self.login(self.array.password, attacker).status_code)
        audit = self.admin.get(self.base + "/audit", params={"op": "auth.login"}).json()
        self.assertIn(attacker, {e["remote"] for e in audit})

    def test_only_admin_reads_chap_secrets(self):
        name = "sec-role-h"
        self.admin.post(self.base + "/hosts", json={"name": name, "iqns": [INIT + "r"],
                                                    "chap": CHAP})  # fmt: skip
        self.addCleanup(self.admin.delete, f"{self.base}/hosts/{name}")
        ops = self.array.session("ops")
        r = ops.get(f"{self.base}/hosts/{name}", params={"secrets": "true"})
        self.assertEqual((403, "auth.forbidden"), (r.status_code, r.json()["error"]["code"]))
        self.assertEqual("***", ops.get(f"{self.base}/hosts/{name}/connection").json()
                         ["iscsi"]["chap"]["secret"])  # fmt: skip
        self.assertNotIn(CHAP["secret"], ops.get(f"{self.base}/hosts").text)
        for path in ("/admin/faults", "/admin/controllers/ct0"):
            r = ops.post(self.base + path, json={"state": "offline"})
            self.assertEqual(403, r.status_code, path)
        got = self.admin.get(f"{self.base}/hosts/{name}", params={"secrets": "true"}).json()
        self.assertEqual(CHAP, got["chap"])

    def test_sizes_out_of_bounds_are_refused_and_leave_nothing(self):
        vol_dir = os.path.join(self.array.data_dir, "volumes")
        before = sorted(os.listdir(vol_dir))
        pool = self.admin.get(self.base + "/pools/pool-a").json()
        for raw in ("1e9", "Infinity", "NaN", "-1", "1e400"):
            r = self.admin.post(self.base + "/volumes",
                                data=f'{{"name": "sec-big", "size_gb": {raw}}}',
                                headers={"Content-Type": "application/json"})  # fmt: skip
            self.assertEqual(400, r.status_code, (raw, r.text))
            self.assertEqual("volume.invalid_size", r.json()["error"]["code"], raw)
        self.assertEqual(before, sorted(os.listdir(vol_dir)))
        self.assertEqual(404, self.admin.get(self.base + "/volumes/sec-big").status_code)
        after = self.admin.get(self.base + "/pools/pool-a").json()
        self.assertEqual(pool["provisioned_bytes"], after["provisioned_bytes"])
        self.admin.post(self.base + "/volumes", json={"name": "sec-small", "size_gb": 1})
        self.addCleanup(self.admin.delete, self.base + "/volumes/sec-small")
        r = self.admin.patch(self.base + "/volumes/sec-small", json={"size_gb": 1e9})
        self.assertEqual(400, r.status_code)

    def test_chap_secret_stays_off_tgtadm_argv_and_still_works(self):
        name, vol = "sec-chap-h", "sec-chap-v"
        self.admin.post(self.base + "/volumes", json={"name": vol, "size_gb": 1})
        self.admin.post(self.base + "/hosts", json={"name": name, "iqns": [INIT], "chap": CHAP})
        r = self.admin.post(self.base + "/mappings", json={"volume": vol, "host": name})
        self.assertEqual(200, r.status_code, r.text)
        self.addCleanup(self.admin.delete, f"{self.base}/volumes/{vol}")
        self.addCleanup(self.admin.delete, f"{self.base}/hosts/{name}")
        self.addCleanup(self.admin.delete, f"{self.base}/mappings",
                        params={"volume": vol, "host": name})  # fmt: skip
        conn = self.admin.get(f"{self.base}/hosts/{name}/connection").json()["iscsi"]
        rc, out = iscsi.discover(conn["portals"][0], INIT, CHAP)
        self.assertIn("Lun:1", out)  # tgtd has the account: CHAP login with the secret works
        wrong = {"username": CHAP["username"], "secret": "not-the-secret"}
        ok, out = iscsi.qemu_io(
            conn["portals"][0], conn["target_iqn"], 1, INIT, wrong, "read 0 512"
        )
        self.assertFalse(ok, out)
        with open(self.argv_log) as f:
            calls = f.read()
        self.assertIn("--mode account --tid", calls)  # the wrapper saw the account bind
        self.assertIn(CHAP["username"], calls)
        self.assertNotIn(CHAP["secret"], calls)
        self.assertNotIn(CHAP["secret"], json.dumps(self.admin.get(self.base + "/audit").json()))
