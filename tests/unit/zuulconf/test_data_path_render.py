"""The data path in zuul.d: a two-node iSCSI nodeset and the sandbox's compute node."""

import os
import shutil

import fixtures
import testtools
import yaml

from ci_tools.zuulconf import render

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def by_name(text, kind):
    return {s[kind]["name"]: s[kind] for s in yaml.safe_load(text) if kind in s}


class TestDataPathRender(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.root = self.useFixture(fixtures.TempDir()).path
        shutil.copytree(os.path.join(REPO_ROOT, "templates"), os.path.join(self.root, "templates"))
        with open(os.path.join(REPO_ROOT, "site.yaml")) as f:
            self.site = yaml.safe_load(f)
        self.ci = self.site["ci_name"]

    def render(self, **changes):
        self.site.update(changes)
        with open(os.path.join(self.root, "site.yaml"), "w") as f:
            yaml.safe_dump(self.site, f)
        return render.render(self.root)

    def test_off_by_default_the_jobs_keep_one_node(self):
        out = self.render()
        nodesets = by_name(out["zuul.d/jobs.yaml"], "nodeset")
        iscsi = nodesets[f"{self.ci}-bookworm-iscsi"]["nodes"]
        self.assertEqual(["controller"], [n["name"] for n in iscsi])
        self.assertNotIn(
            f"{self.ci}-bookworm-compute", by_name(out["zuul.d/launcher.yaml"], "label")
        )

    def test_on_the_iscsi_job_gets_a_compute_node_the_fc_job_not(self):
        self.site["sandbox_node"]["compute_port"] = 40022
        out = self.render(data_path=True, protocols=["iscsi", "fc"])
        nodesets = by_name(out["zuul.d/jobs.yaml"], "nodeset")
        iscsi = nodesets[f"{self.ci}-bookworm-iscsi"]["nodes"]
        self.assertEqual(
            [
                ("controller", f"{self.ci}-bookworm-iscsi"),
                ("compute", f"{self.ci}-bookworm-compute"),
            ],
            [(n["name"], n["label"]) for n in iscsi],
        )
        self.assertEqual(
            ["controller"], [n["name"] for n in nodesets[f"{self.ci}-bookworm-fc"]["nodes"]]
        )
        launcher = out["zuul.d/launcher.yaml"]
        self.assertIn(f"{self.ci}-bookworm-compute", by_name(launcher, "label"))
        static = by_name(launcher, "provider")[self.site["connections"]["static"]]
        compute = [n for n in static["nodes"] if n["label"] == f"{self.ci}-bookworm-compute"]
        self.assertEqual([40022], [n["connection-port"] for n in compute])
