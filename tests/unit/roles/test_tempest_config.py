"""tempest-config/: what run-tempest reads per protocol is there and says why it skips."""

import os
import re

import testtools
import yaml

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
CONFIG = os.path.join(REPO_ROOT, "tempest-config")
PROTOCOLS = {"iscsi": "iSCSI", "fc": "FC"}


class TestTempestConfig(testtools.TestCase):
    def test_each_protocol_names_its_storage_protocol(self):
        for proto, name in PROTOCOLS.items():
            with open(os.path.join(CONFIG, proto, "tempest.yaml")) as f:
                settings = yaml.safe_load(f)
            self.assertEqual(name, settings["volume"]["storage_protocol"], proto)
            for section, options in settings.items():
                self.assertIsInstance(options, dict, f"{proto}: [{section}]")

    def test_every_exclusion_has_a_reason(self):
        for proto in PROTOCOLS:
            with open(os.path.join(CONFIG, proto, "exclude.txt")) as f:
                for number, line in enumerate(f, 1):
                    line = line.strip()
                    if not line or line.startswith("#"):
                        continue
                    regex, _, reason = line.partition("#")
                    self.assertTrue(reason.strip(), f"{proto}/exclude.txt:{number} has no reason")
                    re.compile(regex.strip())

    def test_disabled_manage_features_are_excluded_too(self):
        for proto in PROTOCOLS:
            with open(os.path.join(CONFIG, proto, "tempest.yaml")) as f:
                features = yaml.safe_load(f)["volume-feature-enabled"]
            with open(os.path.join(CONFIG, proto, "exclude.txt")) as f:
                excluded = f.read()
            if not features.get("manage_volume", True):
                self.assertIn("test_volume_manage", excluded, proto)
