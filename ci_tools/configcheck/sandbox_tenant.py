"""The tenant ``ci-tools config check`` loads: this repo plus the Cinder projects.

Production shape, offline parts: the working tree becomes the config project
and openstack/cinder and openstack/os-brick are empty repos with the
maintained branches, all over Zuul's git driver from local paths. The Gerrit
connection named in site.yaml exists, so Zuul validates every pipeline's
Gerrit triggers and reporters against its real driver schema, but it points
at a closed loopback port: config loading never needs it. The launcher's
provider connections exist too, so Zuul resolves them without any cloud.
(Pass ``gerrit=`` a started emulator to serve the Cinder projects from it.)
"""

import os
import subprocess

import yaml

from ci_tools.configcheck import stage
from ci_tools.zuulconf.render import render
from ci_tools.zuulconf.site import launcher_connections, load_site, sandbox_clouds_yaml

CONFIG_PROJECT = "ci-config"
CINDER_PROJECTS = ("openstack/cinder", "openstack/os-brick")
# What the Tempest jobs list in required-projects besides Cinder: constraints
# per branch, and Tempest and its Cinder plugin so Depends-On on them works.
REQUIRED_PROJECTS = (
    "openstack/requirements",
    "openstack/tempest",
    "openstack/cinder-tempest-plugin",
)
ALL_PROJECTS = CINDER_PROJECTS + REQUIRED_PROJECTS


class SandboxTenant:
    def __init__(self, repo_root, work_dir, site=None, gerrit=None, extra_files=None,
                 poll_delay=None):  # fmt: skip
        """``site`` overrides site.yaml (zuul.d is then rendered from it);
        ``extra_files`` ({path: text}) are added to the config project;
        ``poll_delay`` makes Zuul poll the Cinder repos for ref updates."""
        self.repo_root = repo_root
        self.work_dir = work_dir
        self.extra_files = dict(extra_files or {})
        self.poll_delay = poll_delay
        if site is not None:
            self.extra_files = {**render(repo_root, site), **self.extra_files}
        self.site = site or load_site(repo_root)
        self.tenant = self.site["tenant"]
        self.repos = os.path.join(work_dir, "git")
        self.tenant_file = os.path.join(work_dir, "main.yaml")
        self.gerrit = gerrit
        self.connections = {}
        self.daemon_files = {}

    @property
    def branches(self):
        return ["master", *self.site.get("stable_branches", [])]

    def tenant_layout(self):
        return [
            {
                "tenant": {
                    "name": self.tenant,
                    "source": {
                        "local": {"config-projects": [CONFIG_PROJECT]},
                        self._cinder_source(): {
                            # Only our config project defines jobs; the Cinder repos'
                            # own .zuul.yaml is upstream's business.
                            "untrusted-projects": [{p: {"include": []}} for p in ALL_PROJECTS]
                        },
                    },
                }
            }
        ]

    def _cinder_source(self):
        return self.site["connections"]["gerrit"] if self.gerrit is not None else "cinder-repos"

    def _stage_cinder_repos(self):
        for project in ALL_PROJECTS:
            path = os.path.join(self.repos, project)
            stage.stage_repo(self.repo_root, [], path)
            for branch in self.branches[1:]:
                stage.git("branch", branch, cwd=path)

    def _closed_gerrit(self):
        key = os.path.join(self.work_dir, "gerrit-key")
        if not os.path.exists(key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
        return {
            "driver": "gerrit",
            "server": "127.0.0.1",
            "port": "9",  # discard: nothing listens; config loading never dials it
            "baseurl": "http://127.0.0.1:9",
            "user": "config-check",
            "sshkey": key,
        }

    def __enter__(self):
        os.makedirs(self.work_dir, exist_ok=True)
        files = stage.working_tree_files(self.repo_root)
        stage.stage_repo(
            self.repo_root,
            files,
            os.path.join(self.repos, CONFIG_PROJECT),
            extra_files=self.extra_files,
        )
        with open(self.tenant_file, "w") as f:
            yaml.safe_dump(self.tenant_layout(), f, sort_keys=False)
        self.connections = {"local": {"driver": "git", "baseurl": f"file://{self.repos}"}}
        self.connections.update(launcher_connections(self.site))
        # Zuul must find the lab cloud by name to accept its provider. Zuul 14.3
        # passes client_config_file to openstacksdk as a string (broken), so the
        # file goes where openstacksdk looks by default: the daemons' cwd. The
        # check starts no launcher, so this loopback-only cloud is never dialled.
        self.daemon_files["clouds.yaml"] = sandbox_clouds_yaml(self.site)
        gerrit_name = self.site["connections"]["gerrit"]
        if self.gerrit is not None:
            self.gerrit.start(ALL_PROJECTS, self.branches)
            self.connections[gerrit_name] = self.gerrit.zuul_connection()
        else:
            self._stage_cinder_repos()
            self.connections["cinder-repos"] = {
                "driver": "git",
                "baseurl": f"file://{self.repos}",
            }
            if self.poll_delay:
                self.connections["cinder-repos"]["poll_delay"] = self.poll_delay
            self.connections[gerrit_name] = self._closed_gerrit()
        return self

    def __exit__(self, *exc):
        if self.gerrit is not None:
            self.gerrit.stop()
