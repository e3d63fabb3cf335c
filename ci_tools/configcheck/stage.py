"""Snapshot the working tree into git repos Zuul can load over its git driver.

Zuul reads config from git branches, not from a directory, so the check
commits the current working tree (tracked and untracked, minus ignored
files) into a throwaway repo: uncommitted edits are what gets checked.
"""

import os
import shutil
import subprocess

from ci_tools.errors import UsageError

# Everything a job reads from this repo on the executor: config, playbooks,
# roles, the test selection and the driver package.
CONFIG_PATHS = (
    "zuul.d", "zuul.yaml", ".zuul.yaml", ".zuul.d", "playbooks", "roles", "tempest-config",
    "drivers",
)  # fmt: skip

GIT_ENV = {
    "GIT_AUTHOR_NAME": "ci-tools",
    "GIT_AUTHOR_EMAIL": "ci-tools@sandbox.invalid",
    "GIT_COMMITTER_NAME": "ci-tools",
    "GIT_COMMITTER_EMAIL": "ci-tools@sandbox.invalid",
}


def git(*args, cwd):
    env = dict(os.environ, **GIT_ENV)
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env
    ).stdout


def working_tree_files(repo_root, paths=CONFIG_PATHS):
    """Files under ``paths`` as they are now, whether committed or not."""
    if os.path.isdir(os.path.join(repo_root, ".git")):
        out = git("ls-files", "-co", "--exclude-standard", "--", *paths, cwd=repo_root)
        files = [f for f in out.splitlines() if os.path.isfile(os.path.join(repo_root, f))]
    else:
        files = []
        for top in paths:
            base = os.path.join(repo_root, top)
            if os.path.isfile(base):
                files.append(top)
            for dirpath, _, names in os.walk(base):
                for name in names:
                    files.append(os.path.relpath(os.path.join(dirpath, name), repo_root))
    if not any(f.startswith(("zuul.d/", ".zuul.d/")) or f in ("zuul.yaml", ".zuul.yaml")
               for f in files):  # fmt: skip
        raise UsageError(f"{repo_root} has no zuul.d/ or zuul.yaml: is it the config repo?")
    return sorted(files)


def stage_repo(source_root, files, dest, branch="master", extra_files=None):
    """A non-bare repo at ``dest`` with ``files`` from ``source_root`` committed on ``branch``."""
    if os.path.exists(dest):
        shutil.rmtree(dest)
    os.makedirs(dest)
    git("init", "-q", "-b", branch, cwd=dest)
    for rel in files:
        target = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(os.path.join(source_root, rel), target)
    for rel, text in (extra_files or {}).items():
        target = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w") as f:
            f.write(text)
    git("add", "-A", cwd=dest)
    git("commit", "-q", "--allow-empty", "-m", "config check snapshot", cwd=dest)
    return dest
