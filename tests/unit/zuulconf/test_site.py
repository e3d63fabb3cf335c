"""site.yaml loading: defaults, errors that name the key, the connections zuul.d needs."""

import os

import fixtures
import testtools
import yaml

from ci_tools.errors import ConfigError
from ci_tools.zuulconf import site as sitemod

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


class TestSite(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.root = self.useFixture(fixtures.TempDir()).path
        with open(os.path.join(REPO_ROOT, "site.yaml")) as f:
            self.data = yaml.safe_load(f)

    def load(self):
        with open(os.path.join(self.root, "site.yaml"), "w") as f:
            yaml.safe_dump(self.data, f)
        return sitemod.load_site(self.root)

    def test_committed_site_is_valid_and_voting_starts_off(self):
        site = sitemod.load_site(REPO_ROOT)
        self.assertFalse(site["voting"])
        self.assertEqual(f"{site['company']} {site['product']} CI", site["display_name"])

    def test_defaults_filled_in(self):
        del self.data["vote_label"]
        del self.data["use_secrets"]
        site = self.load()
        self.assertEqual("Verified", site["vote_label"])
        self.assertFalse(site["use_secrets"])

    def test_errors_name_nested_key(self):
        self.data["connections"]["gerrit"] = "Review Server"
        self.data["stable_branches"] = ["2025.1"]
        err = self.assertRaises(ConfigError, self.load)
        self.assertIn("connections.gerrit", str(err))
        self.assertIn("stable_branches.0", str(err))

    def test_unknown_key_is_an_error(self):
        self.data["votng"] = True
        err = self.assertRaises(ConfigError, self.load)
        self.assertIn("votng", str(err))

    def test_missing_file(self):
        err = self.assertRaises(ConfigError, sitemod.load_site, self.root)
        self.assertIn("site.yaml", str(err))

    def test_launcher_connections_match_zuul_d_providers(self):
        site = sitemod.load_site(REPO_ROOT)
        conns = sitemod.launcher_connections(site)
        with open(os.path.join(REPO_ROOT, "zuul.d", "launcher.yaml")) as f:
            sections = [s["section"] for s in yaml.safe_load(f) if "section" in s]
        used = {s["connection"] for s in sections if "connection" in s}
        self.assertEqual(used, set(conns))
        self.assertEqual("openstack", conns[site["connections"]["cloud"]]["driver"])
        self.assertEqual("static", conns[site["connections"]["static"]]["driver"])

    def test_sandbox_clouds_yaml_names_the_cloud_on_loopback(self):
        site = sitemod.load_site(REPO_ROOT)
        clouds = yaml.safe_load(sitemod.sandbox_clouds_yaml(site))["clouds"]
        self.assertEqual([site["connections"]["cloud"]], list(clouds))
        (cloud,) = clouds.values()
        self.assertTrue(cloud["auth"]["auth_url"].startswith("http://127.0.0.1:"))
        self.assertEqual(site["cloud"]["region"], cloud["region_name"])
