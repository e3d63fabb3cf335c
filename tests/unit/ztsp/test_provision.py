"""provision() against a real reference array API on loopback: idempotent, clear errors."""

import tempfile
import threading

import testtools

from ci_tools.array.model import Array
from ci_tools.array.server import ArrayService, Audit, Auth, audit_path, make_server
from ci_tools.ztsp import provision

NODES = [
    {"name": "node1", "iqn": "iqn.2010-10.org.openstack:node1"},
    {"name": "node2", "iqn": "iqn.2010-10.org.openstack:node2"},
]


class ProvisionTest(testtools.TestCase):
    def setUp(self):
        super().setUp()
        td = tempfile.TemporaryDirectory()
        self.addCleanup(td.cleanup)
        self.array = Array(td.name, pools={"pool-a": 10})
        self.service = ArrayService(
            self.array, Auth({"admin": "s3cret-pw"}), Audit(audit_path(td.name))
        )
        server = make_server(self.service, 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        self.url = f"http://127.0.0.1:{server.server_address[1]}"

    def api(self, password="s3cret-pw"):
        api = provision.ArrayAPI(self.url)
        api.login("admin", password)
        return api

    def test_first_run_creates_then_nothing_changes(self):
        done = provision.provision(self.api(), NODES, "pool-a")
        self.assertEqual(self.array.serial, done["serial"])
        self.assertEqual(["ztsp-node1", "ztsp-node2"], done["hosts"])
        self.assertEqual(3, len(done["changes"]))
        group = self.api().call("GET", "/hostgroups")[0]
        self.assertEqual(
            ("ztsp-cinder", ["ztsp-node1", "ztsp-node2"]), (group["name"], group["hosts"])
        )
        again = provision.provision(self.api(), NODES, "pool-a")
        self.assertEqual([], again["changes"])
        self.assertEqual(2, len(self.api().call("GET", "/hosts")))

    def test_a_new_node_joins_the_group(self):
        provision.provision(self.api(), NODES[:1], "pool-a")
        done = provision.provision(self.api(), NODES, "pool-a")
        self.assertEqual(
            [
                "host ztsp-node2 created (iqn.2010-10.org.openstack:node2)",
                "host group ztsp-cinder now ztsp-node1, ztsp-node2",
            ],
            done["changes"],
        )

    def test_wrong_credentials(self):
        with self.assertRaises(provision.ArrayError) as ctx:
            self.api(password="wrong")
        self.assertIn("refused the credentials of 'admin'", str(ctx.exception))
        self.assertIn("auth.failed", str(ctx.exception))
        self.assertNotIn("wrong", str(ctx.exception).replace("refused", ""))

    def test_missing_pool(self):
        with self.assertRaises(provision.ArrayError) as ctx:
            provision.provision(self.api(), NODES, "pool-z")
        self.assertIn("pool 'pool-z' missing", str(ctx.exception))

    def test_array_error_is_named_and_the_next_run_finishes(self):
        self.api().call(
            "POST",
            "/admin/faults",
            json={"op": "hostgroup.create", "fail_next": 1, "status": 503, "code": "array.busy"},
        )
        with self.assertRaises(provision.ArrayError) as ctx:
            provision.provision(self.api(), NODES, "pool-a")
        self.assertIn("POST /hostgroups: HTTP 503 array.busy", str(ctx.exception))
        self.assertEqual([], self.api().call("GET", "/hostgroups"))
        # the next linkUp finishes the job
        self.assertEqual(1, len(provision.provision(self.api(), NODES, "pool-a")["changes"]))

    def test_unreachable_array(self):
        api = provision.ArrayAPI("http://127.0.0.1:9", timeout=2)
        with self.assertRaises(provision.ArrayError) as ctx:
            api.login("admin", "x")
        self.assertIn("did not answer POST /auth/login", str(ctx.exception))
