"""The data path in zuul.d: two-node iSCSI and FC nodesets and the sandbox's compute node."""

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

    def test_on_every_protocol_job_gets_the_one_compute_node(self):
        self.site["sandbox_node"]["compute_port"] = 40022
        out = self.render(data_path=True, protocols=["iscsi", "fc"])
        nodesets = by_name(out["zuul.d/jobs.yaml"], "nodeset")
        for protocol in ("iscsi", "fc"):
            nodes = nodesets[f"{self.ci}-bookworm-{protocol}"]["nodes"]
            self.assertEqual(
                [
                    ("controller", f"{self.ci}-bookworm-{protocol}"),
                    ("compute", f"{self.ci}-bookworm-compute"),
                ],
                [(n["name"], n["label"]) for n in nodes],
                protocol,
            )
        launcher = out["zuul.d/launcher.yaml"]
        self.assertIn(f"{self.ci}-bookworm-compute", by_name(launcher, "label"))
        static = by_name(launcher, "provider")[self.site["connections"]["static"]]
        # one compute node for both jobs: the static provider lends it to one at a time
        compute = [n for n in static["nodes"] if n["label"] == f"{self.ci}-bookworm-compute"]
        self.assertEqual([40022], [n["connection-port"] for n in compute])

    def test_the_fc_job_says_what_fc_means(self):
        on = self.render(data_path=True, protocols=["iscsi", "fc"])["zuul.d/jobs.yaml"]
        self.assertIn("FCoE VN2VN", on)
        self.assertIn("no HBA, no FC switch", on)
        self.assertNotIn("emulated", on)
        off = self.render(data_path=False, protocols=["iscsi", "fc"])["zuul.d/jobs.yaml"]
        self.assertIn("no FC data moves", off)
