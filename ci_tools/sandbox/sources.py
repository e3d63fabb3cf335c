"""Source trees the sandbox's Gerrit serves as openstack/cinder and os-brick.

Upstream's repositories cannot be cloned here (only PyPI is reachable), so
each project is seeded from its released sdist: the same tree a git
checkout of that tag holds, minus the git history. The sdists are cached
under CI_KIT_ROOT so a warm sandbox never downloads again.
"""

import glob
import os
import shutil
import subprocess
import sys
import tarfile

from ci_tools.errors import ServiceError
from ci_tools.harness.zuul_daemons import kit_root

# Released versions the kit is measured with (see roles/devstack-lite).
PROJECTS = {
    "openstack/cinder": "cinder==29.*",
    "openstack/os-brick": "os-brick",
}


def cache_dir():
    return os.path.join(kit_root(), "sources")


def _sdist(requirement, dest):
    name = requirement.split("=")[0].split("<")[0].split(">")[0].replace("-", "_")
    found = sorted(glob.glob(os.path.join(dest, f"{name}-*.tar.gz")))
    if found:
        return found[-1]
    os.makedirs(dest, exist_ok=True)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
         "-d", dest, requirement],
        capture_output=True, text=True,
    )  # fmt: skip
    found = sorted(glob.glob(os.path.join(dest, f"{name}-*.tar.gz")))
    if proc.returncode or not found:
        raise ServiceError(f"cannot download the {requirement} sdist: {proc.stderr.strip()[-400:]}")
    return found[-1]


def source_tree(project):
    """Return (path, version) of an unpacked tree for ``project``, cached."""
    requirement = PROJECTS[project]
    root = cache_dir()
    archive = _sdist(requirement, os.path.join(root, "sdists"))
    base = os.path.basename(archive)[: -len(".tar.gz")]
    version = base.rsplit("-", 1)[1]
    tree = os.path.join(root, "trees", base)
    if not os.path.isdir(tree):
        tmp = tree + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        with tarfile.open(archive) as tar:
            _safe_extract(tar, tmp)
        os.rename(os.path.join(tmp, base), tree)
        shutil.rmtree(tmp)
    return tree, version


def _safe_extract(tar, dest):
    # Debian's Python 3.11 may predate extractall(filter=...): check by hand
    # that no member escapes dest or is a link or device.
    for member in tar.getmembers():
        target = os.path.realpath(os.path.join(dest, member.name))
        if not target.startswith(os.path.realpath(dest) + os.sep):
            raise ServiceError(f"refusing sdist member outside its tree: {member.name}")
        if not (member.isfile() or member.isdir()):
            raise ServiceError(f"refusing sdist member that is not a file: {member.name}")
    tar.extractall(dest)  # noqa: S202 - members checked above


def git_repo(project, dest, branches=()):
    """Make ``dest`` a non-bare git repo of ``project``'s tree on master and
    ``branches``, ready to push into the emulator."""
    tree, version = source_tree(project)
    if os.path.isdir(os.path.join(dest, ".git")):
        return dest
    shutil.copytree(tree, dest, ignore=shutil.ignore_patterns("*.egg-info", "PKG-INFO"))

    def git(*args):
        subprocess.run(["git", *args], cwd=dest, check=True, capture_output=True)

    git("init", "-q", "-b", "master")
    git("add", "-A")
    git("-c", "user.name=Sandbox", "-c", "user.email=sandbox@example.invalid",
        "commit", "-q", "-m", f"Import {project} {version} from its release")  # fmt: skip
    git("tag", version)
    for branch in branches:
        git("branch", branch)
    return dest
