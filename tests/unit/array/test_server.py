"""The REST API in-process: sessions, lockout, JSON error codes, faults, audit."""

import hashlib
import tempfile
import threading
import time

import requests
import testtools

from ci_tools.array.fixture import SourceAddressAdapter
from ci_tools.array.model import Array
from ci_tools.array.server import ArrayService, Audit, Auth, audit_path, make_server


class ArrayAPITest(testtools.TestCase):
    def setUp(self):
        super().setUp()
        td = tempfile.TemporaryDirectory()
        self.addCleanup(td.cleanup)
        array = Array(td.name, pools={"pool-a": 10})
        self.array = array
        self.auth = Auth({"admin": "s3cret-pw"}, session_ttl=60, lockout_after=3, lockout_s=30)
        self.service = ArrayService(array, self.auth, Audit(audit_path(td.name)))
        self.server = make_server(self.service, 0)
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        self.addCleanup(self.server.server_close)
        self.addCleanup(self.server.shutdown)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}/api/v1"
        self.http = requests.Session()
        self.addCleanup(self.http.close)

    def login(self, password="s3cret-pw", username="admin"):
        return self.http.post(
            self.base + "/auth/login", json={"username": username, "password": password}
        )

    def authed(self):
        s = requests.Session()
        self.addCleanup(s.close)
        s.headers["X-Auth-Token"] = self.login().json()["token"]
        return s

    def test_calls_need_a_session(self):
        r = self.http.get(self.base + "/volumes")
        self.assertEqual(401, r.status_code)
        self.assertEqual("auth.required", r.json()["error"]["code"])

    def test_wrong_passwords_throttle_that_address_only(self):
        for _ in range(3):
            r = self.login("wrong")
            self.assertEqual(401, r.status_code)
            self.assertEqual("auth.failed", r.json()["error"]["code"])
        r = self.login()  # right password, but this address is throttled now
        self.assertEqual(429, r.status_code)
        self.assertEqual("auth.throttled", r.json()["error"]["code"])
        # the account itself is not locked: another address logs in
        other = requests.Session()
        self.addCleanup(other.close)
        other.mount("http://", SourceAddressAdapter("127.0.0.2"))
        r = other.post(self.base + "/auth/login",
                       json={"username": "admin", "password": "s3cret-pw"})  # fmt: skip
        self.assertEqual(200, r.status_code, r.text)
        self.auth.unlock("127.0.0.1")
        self.assertEqual(200, self.login().status_code)

    def test_storage_role_cannot_unlock_or_read_chap_secrets(self):
        self.auth.users["ops"] = {"password": "ops-pw-12345", "role": "storage"}
        admin = self.authed()
        host = {"name": "h1", "iqns": ["iqn.2004-10.org.x:h1"],
                "chap": {"username": "h1", "secret": "s" * 14}}  # fmt: skip
        admin.post(self.base + "/hosts", json=host)
        ops = requests.Session()
        self.addCleanup(ops.close)
        ops.headers["X-Auth-Token"] = self.login("ops-pw-12345", "ops").json()["token"]
        for method, path in (("POST", "/admin/unlock"), ("POST", "/admin/faults"),
                             ("GET", "/hosts/h1?secrets=true")):  # fmt: skip
            r = ops.request(method, self.base + path, json={})
            self.assertEqual((403, "auth.forbidden"), (r.status_code, r.json()["error"]["code"]))
        self.assertEqual(
            "***", ops.get(self.base + "/hosts/h1/connection").json()["iscsi"]["chap"]["secret"]
        )
        self.assertEqual(200, ops.get(self.base + "/hosts/h1").status_code)
        self.assertEqual(
            "s" * 14, admin.get(self.base + "/hosts/h1?secrets=true").json()["chap"]["secret"]
        )
        self.assertEqual(
            "s" * 14,
            admin.get(self.base + "/hosts/h1/connection").json()["iscsi"]["chap"]["secret"],
        )

    def test_session_expires(self):
        s = self.authed()
        self.assertEqual(200, s.get(self.base + "/pools").status_code)
        token = s.headers["X-Auth-Token"]
        user, _ = self.auth.sessions[token]
        self.auth.sessions[token] = (user, time.time() - 1)
        r = s.get(self.base + "/pools")
        self.assertEqual(401, r.status_code)
        self.assertEqual("auth.expired", r.json()["error"]["code"])

    def test_errors_are_json_with_codes(self):
        s = self.authed()
        r = s.get(self.base + "/volumes/nope")
        self.assertEqual((404, "volume.not_found"), (r.status_code, r.json()["error"]["code"]))
        r = s.post(self.base + "/volumes", data="{", headers={"Content-Type": "application/json"})
        self.assertEqual((400, "request.invalid"), (r.status_code, r.json()["error"]["code"]))
        r = s.get(self.base + "/nothing/here")
        self.assertEqual((404, "api.not_found"), (r.status_code, r.json()["error"]["code"]))

    def test_fail_next_n_then_recover_and_audit(self):
        s = self.authed()
        r = s.post(self.base + "/admin/faults",
                   json={"op": "volume.create", "fail_next": 2, "status": 503,
                         "code": "array.busy"})  # fmt: skip
        self.assertEqual(200, r.status_code)
        codes = []
        for i in range(3):
            r = s.post(self.base + "/volumes", json={"name": f"v{i}", "size_gb": 1})
            codes.append((r.status_code, r.json().get("error", {}).get("code")))
        self.assertEqual([(503, "array.busy"), (503, "array.busy"), (200, None)], codes)
        self.assertEqual(["v2"], [v["name"] for v in s.get(self.base + "/volumes").json()])
        audit = s.get(self.base + "/audit", params={"op": "volume.create"}).json()
        self.assertEqual(
            [("admin", "v0", 503), ("admin", "v1", 503), ("admin", "v2", 200)],
            [(e["user"], e["object"], e["status"]) for e in audit],
        )
        logins = s.get(self.base + "/audit", params={"op": "auth."}).json()
        self.assertNotIn("s3cret-pw", str(logins))

    def test_latency_and_unreachable(self):
        s = self.authed()
        s.post(self.base + "/admin/faults", json={"op": "pool.list", "latency_ms": 300})
        start = time.monotonic()
        s.get(self.base + "/pools")
        self.assertGreaterEqual(time.monotonic() - start, 0.3)
        s.post(self.base + "/admin/faults", json={"unreachable_s": 30})
        self.assertRaises(requests.ConnectionError, s.get, self.base + "/pools", timeout=5)
        # the admin plane still answers, so the array can be healed
        self.assertEqual(200, s.delete(self.base + "/admin/faults").status_code)
        self.assertEqual(200, s.get(self.base + "/pools").status_code)

    def test_fc_is_emulated_with_fabric_logins_and_zoning_map(self):
        s = self.authed()
        wwpns = ["10:00:00:90:fa:0b:1c:2d", "10000090fa0b1c2e"]
        s.post(self.base + "/hosts", json={"name": "fc1", "wwpns": wwpns})
        fabric = s.get(self.base + "/fc/fabric").json()
        self.assertTrue(fabric["emulated"])
        self.assertEqual(4, len(fabric["ports"]))  # two per controller
        self.assertEqual([], fabric["logins"])
        r = s.post(self.base + "/admin/fabric/logins", json={"wwpn": "10000090fa0b1c2d"})
        self.assertEqual(200, r.status_code)
        conn = s.get(self.base + "/hosts/fc1/connection").json()["fc"]
        self.assertEqual({"10000090fa0b1c2d": True, "10000090fa0b1c2e": False},
                         conn["fabric_logins"])  # fmt: skip
        all_ports = [p["wwpn"] for p in fabric["ports"]]
        self.assertEqual(all_ports, conn["initiator_target_map"]["10000090fa0b1c2e"])
        s.post(self.base + "/admin/controllers/ct0", json={"state": "offline"})
        conn = s.get(self.base + "/hosts/fc1/connection").json()["fc"]
        ct1 = [p["wwpn"] for p in fabric["ports"] if p["controller"] == "ct1"]
        self.assertEqual(ct1, conn["target_wwns"])
        self.assertEqual(ct1, conn["initiator_target_map"]["10000090fa0b1c2d"])

    def _blocks(self, name):
        """The backing file of volume ``name``: what tgtd reads and writes."""
        vol = next(v for v in self.array.state["volumes"].values() if v["name"] == name)
        return self.array.volume_path(vol)

    def test_checksum_is_the_sha256_of_the_volume_s_blocks(self):
        s = self.authed()
        s.post(self.base + "/volumes", json={"name": "volume-1", "size_gb": 4 / 1024})
        pattern = bytes(range(256)) * 4096  # 1 MiB, as an initiator writes it
        with open(self._blocks("volume-1"), "r+b") as f:
            f.seek(1024 * 1024)
            f.write(pattern)
        r = s.get(self.base + "/admin/volumes/volume-1/checksum",
                  params={"offset": 1024 * 1024, "length": len(pattern)})  # fmt: skip
        self.assertEqual(200, r.status_code, r.text)
        self.assertEqual(
            {"volume": "volume-1", "offset": 1024 * 1024, "length": len(pattern),
             "algorithm": "sha256", "sha256": hashlib.sha256(pattern).hexdigest()},
            r.json(),
        )  # fmt: skip
        # a range over a hole and the written MiB: zeros, then the pattern
        r = s.get(self.base + "/admin/volumes/volume-1/checksum",
                  params={"length": 2 * 1024 * 1024})  # fmt: skip
        self.assertEqual(hashlib.sha256(bytes(1024 * 1024) + pattern).hexdigest(),
                         r.json()["sha256"])  # fmt: skip
        # the last byte of the volume is in range; one past it is not
        last = s.get(self.base + "/admin/volumes/volume-1/checksum",
                     params={"offset": 4 * 1024 * 1024 - 1, "length": 1})  # fmt: skip
        self.assertEqual(hashlib.sha256(b"\0").hexdigest(), last.json()["sha256"])
        audit = s.get(self.base + "/audit", params={"op": "admin.volume_checksum"}).json()
        self.assertEqual([("admin", "volume-1", 200)] * 3,
                         [(e["user"], e["object"], e["status"]) for e in audit])  # fmt: skip

    def test_checksum_refuses_what_it_cannot_answer_with_a_code(self):
        s = self.authed()
        s.post(self.base + "/volumes", json={"name": "volume-1", "size_gb": 1 / 1024})
        url = self.base + "/admin/volumes/volume-1/checksum"
        cases = [
            ({}, 400, "request.invalid", "length is required"),
            ({"length": "lots"}, 400, "request.invalid", "expected an integer"),
            ({"length": 512, "offset": -512}, 400, "request.invalid", "offset must be"),
            ({"length": 0}, 400, "checksum.invalid_length", "from 1 to 268435456"),
            ({"length": 256 * 1024 * 1024 + 1}, 400, "checksum.invalid_length", "from 1 to"),
            ({"length": 512, "offset": 1024 * 1024}, 400, "checksum.out_of_range",
             "past the end of volume 'volume-1' (1048576 bytes)"),
        ]  # fmt: skip
        for params, status, code, message in cases:
            r = s.get(url, params=params)
            error = r.json()["error"]
            self.assertEqual((status, code), (r.status_code, error["code"]), params)
            self.assertIn(message, error["message"], params)
        r = s.get(self.base + "/admin/volumes/nope/checksum", params={"length": 512})
        self.assertEqual((404, "volume.not_found"), (r.status_code, r.json()["error"]["code"]))

    def test_checksum_is_for_the_admin_role_only(self):
        self.auth.users["ops"] = {"password": "ops-pw-12345", "role": "storage"}
        admin = self.authed()
        admin.post(self.base + "/volumes", json={"name": "volume-1", "size_gb": 1 / 1024})
        ops = requests.Session()
        self.addCleanup(ops.close)
        ops.headers["X-Auth-Token"] = self.login("ops-pw-12345", "ops").json()["token"]
        r = ops.get(self.base + "/admin/volumes/volume-1/checksum", params={"length": 512})
        self.assertEqual((403, "auth.forbidden"), (r.status_code, r.json()["error"]["code"]))
        r = self.http.get(self.base + "/admin/volumes/volume-1/checksum", params={"length": 512})
        self.assertEqual(401, r.status_code)
