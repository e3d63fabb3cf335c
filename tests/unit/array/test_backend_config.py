"""tempest-config/<protocol>/backend.yaml: what configure-cinder-backend reads, no secrets."""

import ast
import os

import testtools
import yaml

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SECRET_WORDS = ("password", "secret", "san_login", "private_key")


class BackendConfigTest(testtools.TestCase):
    def load(self, protocol):
        with open(os.path.join(TOP, "tempest-config", protocol, "backend.yaml")) as f:
            return yaml.safe_load(f)

    def driver_classes(self, module):
        path = os.path.join(TOP, "drivers", "refflash", "refflash_cinder", module + ".py")
        with open(path) as f:
            tree = ast.parse(f.read())
        return {n.name for n in tree.body if isinstance(n, ast.ClassDef)}

    def test_each_protocol_names_its_refflash_driver(self):
        for protocol, cls in (("iscsi", "RefFlashISCSIDriver"), ("fc", "RefFlashFCDriver")):
            conf = self.load(protocol)
            self.assertEqual(f"refflash_cinder.{protocol}.{cls}", conf["driver"])
            self.assertIn(cls, self.driver_classes(protocol))
            self.assertNotIn("lvm", conf["driver"].lower())
            names = [b["name"] for b in conf["backends"]]
            self.assertEqual(2, len(set(names)), "multi_backend needs two distinct backends")
            for backend in conf["backends"]:
                self.assertIsInstance(backend.get("options", {}), dict)

    def test_no_credentials_in_the_repo(self):
        for protocol in ("iscsi", "fc"):
            conf = self.load(protocol)
            keys = set(conf["options"])
            for backend in conf["backends"]:
                keys |= set(backend.get("options", {}))
            leaked = [k for k in keys if any(w in k for w in SECRET_WORDS)]
            self.assertEqual([], leaked, f"{protocol}: credentials belong in the job secret")
