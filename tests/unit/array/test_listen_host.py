"""Where the array's REST API may listen: loopback or a documentation range only."""

import contextlib
import io
import os
import tempfile

import testtools

from ci_tools import cli
from ci_tools.array.server import check_listen_host


class ListenHostTest(testtools.TestCase):
    def test_loopback_and_documentation_ranges_are_accepted(self):
        for host in ("127.0.0.1", "localhost", "::1", "192.0.2.11", "198.51.100.7"):
            check_listen_host(host)  # no error

    def test_other_addresses_are_refused_with_the_reason(self):
        for host in ("0.0.0.0", "10.1.2.3", "8.8.8.8", "192.0.3.1"):
            with self.assertRaises(ValueError) as ctx:
                check_listen_host(host)
            self.assertIn("documentation range", str(ctx.exception))
        self.assertRaises(ValueError, check_listen_host, "array.example.com")

    def test_serve_refuses_a_routable_host_before_touching_the_data_dir(self):
        with tempfile.TemporaryDirectory() as td:
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                rc = cli.main(["array", "serve", "--data-dir", td + "/data", "--port", "8780",
                               "--host", "10.0.0.1", "--iscsi-ports", "none"])  # fmt: skip
            self.assertEqual(2, rc)
            self.assertIn("--host 10.0.0.1", err.getvalue())
            self.assertFalse(os.path.exists(td + "/data"))
