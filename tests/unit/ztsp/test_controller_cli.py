"""ci-tools ztsp controller: a bad config or an address it cannot bind is a clear error."""

import contextlib
import io
import os
import socket
import tempfile

import testtools
import yaml

from ci_tools import cli

CONFIG = {
    "listen": {"address": None, "port": 16200},  # an address this host does not have
    "switches": [{"name": "sw", "address": "203.0.113.1", "community": "c0mmunity"}],
    "secrets": {"backend": "file", "path": "secrets.json"},
    "state_dir": "state",
    "backend": {"driver": "refflash_cinder.iscsi.RefFlashISCSIDriver", "options": {}},
    "nodes": [],
}


class ControllerCLITest(testtools.TestCase):
    def setUp(self):
        super().setUp()
        td = tempfile.TemporaryDirectory()
        self.addCleanup(td.cleanup)
        self.dir = td.name

    def run_cli(self, config):
        path = os.path.join(self.dir, "ztsp.yaml")
        with open(path, "w") as f:
            f.write(config if isinstance(config, str) else yaml.safe_dump(config))
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            rc = cli.main(["ztsp", "controller", "--config", path])
        return rc, err.getvalue()

    def test_missing_key_names_it_and_the_file(self):
        config = dict(CONFIG, switches=[{"name": "sw", "address": "203.0.113.1"}])
        rc, err = self.run_cli(config)
        self.assertEqual(3, rc)
        self.assertIn("ztsp.yaml: missing key switches[0].community", err)

    def test_not_yaml(self):
        rc, err = self.run_cli("listen: [")
        self.assertEqual(3, rc)
        self.assertIn("not YAML", err)

    def test_address_not_on_this_host(self):
        address = not_local()
        config = dict(
            CONFIG,
            state_dir=os.path.join(self.dir, "state"),
            listen={"address": address, "port": 16200},
        )
        rc, err = self.run_cli(config)
        self.assertEqual(4, rc)
        self.assertIn(f"cannot receive traps on {address}:16200", err)
        self.assertIn("ip netns exec", err)


def not_local():
    """A documentation-range address this host does not have (binding it fails)."""
    for address in ("203.0.113.254", "198.51.100.254", "192.0.2.254"):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind((address, 0))
            except OSError:
                return address
    raise AssertionError("every candidate address is local to this host")
