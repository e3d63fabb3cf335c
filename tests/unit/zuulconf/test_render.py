"""Rendering zuul.d/ from site.yaml: the committed files match, settings land where promised."""

import os
import re
import shutil

import fixtures
import testtools
import yaml

from ci_tools.errors import ConfigError
from ci_tools.zuulconf import render
from ci_tools.zuulconf.site import load_site

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def stanzas(text, kind):
    return [s[kind] for s in yaml.safe_load(text) if kind in s]


def by_name(text, kind):
    return {s["name"]: s for s in stanzas(text, kind)}


class TestCommittedConfig(testtools.TestCase):
    def test_committed_zuul_d_equals_rendering(self):
        problems = render.drift(REPO_ROOT)
        self.assertEqual(
            {}, problems, "run `ci-tools config render`:\n" + "".join(problems.values())
        )

    def test_every_template_is_rendered_with_a_header(self):
        rendered = render.render(REPO_ROOT)
        templates = os.listdir(os.path.join(REPO_ROOT, render.TEMPLATE_DIR))
        self.assertEqual(
            sorted(f"zuul.d/{t[:-3]}" for t in templates if t.endswith(".j2")), sorted(rendered)
        )
        for path, text in rendered.items():
            self.assertTrue(text.startswith(f"# {path}\n"), path)
            self.assertIn("Generated from site.yaml by `ci-tools config render`", text)


class TestRenderSettings(testtools.TestCase):
    """Render a copy of the repo with changed site settings."""

    def setUp(self):
        super().setUp()
        self.root = self.useFixture(fixtures.TempDir()).path
        shutil.copytree(os.path.join(REPO_ROOT, "templates"), os.path.join(self.root, "templates"))
        with open(os.path.join(REPO_ROOT, "site.yaml")) as f:
            self.site = yaml.safe_load(f)

    def render(self, **changes):
        self.site.update(changes)
        with open(os.path.join(self.root, "site.yaml"), "w") as f:
            yaml.safe_dump(self.site, f)
        return render.render(self.root)

    def check_pipeline(self, rendered):
        return by_name(rendered["zuul.d/pipelines.yaml"], "pipeline")["check"]

    def test_zuul_votes_only_plus_one_and_only_when_voting_is_on(self):
        # One message per successful run: Zuul's own report carries the +1.
        # A failure is never Zuul's vote (it would -1 on RETRY_LIMIT); the
        # vote guard adds -1 from the build records.
        for voting in (False, True):
            check = self.check_pipeline(self.render(voting=voting, vote_label="Verified"))
            want = {"gerrit": {"Verified": 1}} if voting else {"gerrit": {}}
            self.assertEqual(want, check["success"], voting)
            for action in ("failure", "merge-conflict", "config-error", "no-jobs"):
                self.assertEqual({"gerrit": {}}, check[action], (voting, action))
            self.assertNotIn("disable-after-consecutive-failures", check)

    def test_check_triggers_on_tested_branches_only_and_on_restore(self):
        check = self.check_pipeline(self.render(stable_branches=["stable/2025.1"]))
        events = {t["event"]: t for t in check["trigger"]["gerrit"]}
        self.assertEqual({"patchset-created", "change-restored", "comment-added"}, set(events))
        for trigger in events.values():
            self.assertTrue(re.match(trigger["branch"], "stable/2025.1"))
            self.assertTrue(re.match(trigger["branch"], "master"))
            self.assertFalse(re.match(trigger["branch"], "stable/2024.1"))

    def test_footer_names_wiki_and_contact(self):
        rendered = self.render(
            wiki_url="https://wiki.example.org/ThirdPartySystems/Acme", contact_email="ci@acme.test"
        )
        for name in ("check", "experimental"):
            footer = by_name(rendered["zuul.d/pipelines.yaml"], "pipeline")[name]["footer-message"]
            self.assertIn("https://wiki.example.org/ThirdPartySystems/Acme", footer)
            self.assertIn("ci@acme.test", footer)

    def test_ci_name_and_protocols_name_the_jobs(self):
        rendered = self.render(ci_name="acme-ci", protocols=["iscsi"])
        jobs = by_name(rendered["zuul.d/jobs.yaml"], "job")
        self.assertEqual(
            {"base", "base-test", "acme-ci-tempest-base", "acme-ci-tempest-iscsi"}, set(jobs)
        )
        self.assertIsNone(jobs["base"]["parent"])
        self.assertTrue(jobs["acme-ci-tempest-base"]["abstract"])
        self.assertEqual("acme-ci-tempest-base", jobs["acme-ci-tempest-iscsi"]["parent"])
        check = self.check_pipeline(rendered)
        (comment,) = [t for t in check["trigger"]["gerrit"] if t["event"] == "comment-added"]
        run_regex = comment["comment"][1]
        self.assertTrue(re.search(run_regex, "Patch Set 1:\n\nrun-acme-ci"))

    def test_periodic_covers_master_and_stable_branches(self):
        rendered = self.render(stable_branches=["stable/2024.2"])
        template = by_name(rendered["zuul.d/projects.yaml"], "project-template")["refflash-ci-jobs"]
        for job in template["periodic"]["jobs"]:
            (variant,) = job.values()
            regex = variant["branches"]
            self.assertTrue(re.match(regex, "master"))
            self.assertTrue(re.match(regex, "stable/2024.2"))
            self.assertFalse(re.match(regex, "stable/2024x2"))
            self.assertFalse(re.match(regex, "stable/2023.1"))

    def test_check_outranks_the_canary_which_fires_only_when_timed(self):
        pipelines = by_name(self.render()["zuul.d/pipelines.yaml"], "pipeline")
        # Zuul hands nodes out by precedence first: a patch never waits for the
        # canary's queued builds.
        self.assertEqual("normal", pipelines["check"]["precedence"])
        self.assertEqual("low", pipelines["periodic"]["precedence"])
        self.assertEqual({"timer": [{"time": "0 4 * * *"}]}, pipelines["periodic"]["trigger"])
        untimed = by_name(self.render(periodic_time=None)["zuul.d/pipelines.yaml"], "pipeline")
        self.assertEqual({}, untimed["periodic"]["trigger"])

    def test_secrets_attach_only_when_enabled(self):
        job = by_name(self.render(use_secrets=False)["zuul.d/jobs.yaml"], "job")
        self.assertNotIn("secrets", job["refflash-ci-tempest-base"])
        job = by_name(self.render(use_secrets=True)["zuul.d/jobs.yaml"], "job")
        self.assertEqual(
            [
                {
                    "name": "refflash_ci_array",
                    "secret": "refflash-ci-array-credentials",
                    "pass-to-parent": True,
                }
            ],
            job["refflash-ci-tempest-base"]["secrets"],
        )
        # base's post-logs masks the secret's values
        self.assertEqual(
            ["refflash_ci_array"],
            job["refflash-ci-tempest-base"]["vars"]["scrub_log_secrets_secret_vars"],
        )

    def test_write_fixes_drift(self):
        rendered = self.render()
        self.assertEqual(sorted(rendered), sorted(render.drift(self.root)))
        self.assertEqual(sorted(rendered), render.write(self.root))
        self.assertEqual({}, render.drift(self.root))
        self.assertEqual([], render.write(self.root))

    def test_bad_setting_names_key_and_file(self):
        self.site["ci_name"] = "Refflash CI"
        with open(os.path.join(self.root, "site.yaml"), "w") as f:
            yaml.safe_dump(self.site, f)
        err = self.assertRaises(ConfigError, render.render, self.root)
        self.assertIn("site.yaml", str(err))
        self.assertIn("ci_name", str(err))


class TestIrrelevantFiles(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.patterns = render.irrelevant_files(load_site(REPO_ROOT) | {"driver_dir": "refflash"})

    def irrelevant(self, path):
        # Zuul's file matchers use match(), anchored at the start.
        return any(re.match(p, path) for p in self.patterns)

    def test_every_driver_and_core_cinder_are_relevant(self):
        # Cinder's compliance rules: report on every patch, whether the change
        # is in the CI's own driver or not; san/san.py is shared by drivers.
        for path in (
            "cinder/volume/drivers/lvm.py",
            "cinder/volume/drivers/netapp/dataontap/block_base.py",
            "cinder/volume/drivers/san/san.py",
            "cinder/volume/drivers/refflash/iscsi.py",
            "cinder/volume/drivers/refflash.py",
            "cinder/volume/manager.py",
            "os_brick/initiator/connectors/iscsi.py",
            "os_brick/initiator/connectors/fibre_channel.py",
        ):
            self.assertFalse(self.irrelevant(path), path)

    def test_docs_and_release_notes_are_irrelevant(self):
        for path in ("doc/source/index.rst", "releasenotes/notes/x.yaml", "README.rst"):
            self.assertTrue(self.irrelevant(path), path)

    def test_patterns_avoid_syntax_re2_lacks(self):
        # Zuul compiles with RE2: lookarounds and backreferences are config warnings.
        for pattern in self.patterns:
            self.assertNotRegex(pattern, r"\(\?[=!<]|\\[1-9]")
