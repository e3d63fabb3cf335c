"""tempest-config/: what run-tempest reads per protocol is there and says why it skips."""

import os
import re

import testtools
import yaml

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
CONFIG = os.path.join(REPO_ROOT, "tempest-config")
PROTOCOLS = {"iscsi": "iSCSI", "fc": "FC"}
# exclude.txt applies everywhere; exclude-no-attach.txt (with tempest-no-attach.yaml)
# only where the node running cinder-volume cannot attach (run-tempest decides).
LISTS = ("exclude.txt", "exclude-no-attach.txt")


def exclusions(proto, name):
    """(line number, regex, reason) of each exclusion in a list."""
    found = []
    with open(os.path.join(CONFIG, proto, name)) as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            regex, _, reason = line.partition("#")
            found.append((number, regex.strip(), reason.strip()))
    return found


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
            for name in LISTS:
                for number, regex, reason in exclusions(proto, name):
                    self.assertTrue(reason, f"{proto}/{name}:{number} has no reason")
                    re.compile(regex)

    def test_no_test_is_in_both_lists(self):
        for proto in PROTOCOLS:
            always, no_attach = ({regex for _, regex, _ in exclusions(proto, n)} for n in LISTS)
            self.assertTrue(no_attach, proto)
            self.assertEqual(set(), always & no_attach, proto)

    def test_the_no_attach_lists_say_where_they_apply(self):
        for proto in PROTOCOLS:
            with open(os.path.join(CONFIG, proto, "exclude-no-attach.txt")) as f:
                header = f.read()
            # one "- <where>: ..." entry per kind of site
            self.assertIn("# - the sandbox: applies.", header, proto)
            self.assertIn("# - a vendor's lab", header, proto)

    def test_backup_and_image_copies_are_off_only_where_the_node_cannot_attach(self):
        for proto in PROTOCOLS:
            with open(os.path.join(CONFIG, proto, "tempest.yaml")) as f:
                features = yaml.safe_load(f)["volume-feature-enabled"]
            with open(os.path.join(CONFIG, proto, "tempest-no-attach.yaml")) as f:
                no_attach = yaml.safe_load(f)
            self.assertEqual(["volume-feature-enabled"], list(no_attach), proto)
            for key in ("backup", "volume_image_dep_tests"):
                self.assertIs(True, features[key], f"{proto}/tempest.yaml {key}")
                self.assertIs(False, no_attach["volume-feature-enabled"][key], proto)

    def test_disabled_manage_features_are_excluded_too(self):
        for proto in PROTOCOLS:
            with open(os.path.join(CONFIG, proto, "tempest.yaml")) as f:
                features = yaml.safe_load(f)["volume-feature-enabled"]
            with open(os.path.join(CONFIG, proto, "exclude.txt")) as f:
                excluded = f.read()
            if not features.get("manage_volume", True):
                self.assertIn("test_volume_manage", excluded, proto)
