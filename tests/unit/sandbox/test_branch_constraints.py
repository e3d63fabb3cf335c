"""A stable branch's change installs its own branch's upper-constraints.

The chain, link by link: the sandbox seeds openstack/requirements with one
branch per series from sandbox-data/openstack-requirements/<series>/ (a
vendor's CI has upstream's repo); Zuul prepares that repo on the change's
branch (a required project); devstack-lite reads upper-constraints.txt from
the tree Zuul prepared, drops the trees under test from it and installs
everything with ``-c`` that file. The pip freeze in the build's logs
(pip-freeze/devstack-venv.txt) shows the result; the full job's test
(tests/functional/sandbox/test_full_run.py) checks it on a real run.
"""

import os
import subprocess
import sys

import fixtures
import jinja2
import testtools
import yaml

from ci_tools.sandbox import sources
from ci_tools.zuulconf.site import load_site

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SNAPSHOTS = os.path.join(REPO_ROOT, "sandbox-data", "openstack-requirements")
ROLE = os.path.join(REPO_ROOT, "roles", "devstack-lite")
EDIT = os.path.join(ROLE, "files", "edit_constraints.py")


def snapshot(series):
    with open(os.path.join(SNAPSHOTS, series, "upper-constraints.txt")) as f:
        return f.read()


def pin(text, project):
    """``os-brick===6.11.1`` -> ``6.11.1`` (the line without an environment marker)."""
    for line in text.splitlines():
        name, _, rest = line.partition("===")
        if name.lower() == project and ";" not in rest:
            return rest
    raise AssertionError(f"{project} not pinned")


def role_default(name, **variables):
    """A devstack-lite default, rendered as Ansible would with ``variables``."""
    with open(os.path.join(ROLE, "defaults", "main.yaml")) as f:
        defaults = yaml.safe_load(f)
    return jinja2.Environment().from_string(defaults[name]).render(**variables).strip()


class TestBranchConstraints(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.branches = ["master", *load_site(REPO_ROOT)["stable_branches"]]
        self.assertIn("stable/2025.1", self.branches)
        self.repo = sources.requirements_repo(os.path.join(self.tmp, "requirements"),
                                              self.branches)  # fmt: skip

    def git(self, *args, cwd=None):
        return subprocess.run(["git", *args], cwd=cwd or self.repo, check=True,
                              capture_output=True, text=True).stdout  # fmt: skip

    def prepared(self, branch):
        """The requirements tree as Zuul's merger prepares it for a change on ``branch``."""
        src = os.path.join(self.tmp, "src", branch.replace("/", "-"), "requirements")
        self.git("clone", "-q", "--branch", branch, self.repo, src, cwd=self.tmp)
        return src

    def test_each_tested_branch_of_the_seeded_repo_holds_its_series_snapshot(self):
        for branch in self.branches:
            series = branch.split("/", 1)[-1]
            shown = self.git("show", f"{branch}:upper-constraints.txt")
            self.assertEqual(snapshot(series), shown, branch)
            with open(os.path.join(SNAPSHOTS, series, "COMMIT")) as f:
                origin = f.read().split()[0]
            self.assertIn(origin, self.git("log", "-1", "--format=%s", branch))
        self.assertEqual("6.11.1", pin(self.git("show", "stable/2025.1:upper-constraints.txt"),
                                       "os-brick"))  # fmt: skip
        self.assertNotEqual(pin(snapshot("master"), "os-brick"), "6.11.1")

    def test_devstack_lite_installs_with_the_prepared_branchs_file(self):
        src = self.prepared("stable/2025.1")
        zuul = {
            "branch": "stable/2025.1",
            "projects": {"opendev.org/openstack/requirements": {"src_dir": os.path.relpath(
                src, self.tmp)}},
        }  # fmt: skip
        chosen = role_default("devstack_lite_upper_constraints", zuul=zuul,
                              ansible_user_dir=self.tmp)  # fmt: skip
        self.assertEqual(os.path.join(src, "upper-constraints.txt"), chosen)
        self.assertEqual("stable/2025.1", role_default("devstack_lite_branch", zuul=zuul))
        # what pip gets with -c: the branch's pins, minus the trees under test
        cinder = os.path.join(self.tmp, "cinder")
        os.makedirs(cinder)
        with open(os.path.join(cinder, "setup.cfg"), "w") as f:
            f.write("[metadata]\nname = cinder\n")
        dest = os.path.join(self.tmp, "upper-constraints.txt")
        subprocess.run([sys.executable, EDIT, chosen, dest, cinder], check=True,
                       capture_output=True)  # fmt: skip
        with open(dest) as f:
            installed_with = f.read()
        for project in ("os-brick", "oslo.config", "python-openstackclient", "keystonemiddleware"):
            self.assertEqual(pin(snapshot("2025.1"), project), pin(installed_with, project))
        self.assertEqual("9.7.2", pin(installed_with, "oslo.config"))

    def test_the_branchs_released_services_fit_its_constraints(self):
        with open(os.path.join(ROLE, "defaults", "main.yaml")) as f:
            series_packages = yaml.safe_load(f)["devstack_lite_series_packages"]
        for branch in self.branches:
            self.assertIn(branch, series_packages)
            brick = sources.SERIES_RELEASES["openstack/os-brick"].get(branch)
            if brick:  # the stable branch's own os-brick release, as its constraints pin it
                series = branch.split("/", 1)[1]
                self.assertTrue(pin(snapshot(series), "os-brick").startswith(
                    brick.split("==")[1].rstrip("*")), (branch, brick))  # fmt: skip
        self.assertEqual(["keystone==27.*", "glance==30.*"], series_packages["stable/2025.1"])
