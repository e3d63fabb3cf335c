"""Source trees the sandbox's Gerrit serves as openstack/cinder and os-brick.

Upstream's repositories cannot be cloned here (only PyPI is reachable), so
each project is seeded from its released sdist: the same tree a git
checkout of that tag holds, minus the git history. The sdists are cached
under CI_KIT_ROOT so a warm sandbox never downloads again.

openstack/requirements has no useful sdist: it is seeded from the
upper-constraints snapshots in sandbox-data/openstack-requirements/<series>/
(or $CI_KIT_REQUIREMENTS_DIR), one branch per series, so jobs read the
constraints of the branch under test from the repo Zuul prepared.
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
    # Branchless: every stable branch tests with the same master.
    "openstack/tempest": "tempest==47.*",
    "openstack/cinder-tempest-plugin": "cinder-tempest-plugin",
}
# Stable branches hold their own series' release, so a stable change is
# tested with code that fits that branch's upper-constraints.
SERIES_RELEASES = {
    "openstack/cinder": {
        "stable/2026.1": "cinder==28.*",
        "stable/2025.2": "cinder==27.*",
        "stable/2025.1": "cinder==26.*",
    },
    "openstack/os-brick": {
        "stable/2026.1": "os-brick==7.0.*",
        "stable/2025.2": "os-brick==6.13.*",
        "stable/2025.1": "os-brick==6.11.*",
    },
}
REQUIREMENTS = "openstack/requirements"
BRANCHLESS = ("openstack/tempest", "openstack/cinder-tempest-plugin")
REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def requirements_dir():
    """Where the upper-constraints snapshots are: $CI_KIT_REQUIREMENTS_DIR or the repo's."""
    return os.environ.get("CI_KIT_REQUIREMENTS_DIR") or os.path.join(
        REPO_ROOT, "sandbox-data", "openstack-requirements"
    )


def requirements_repo(dest, branches):
    """``dest``: a git repo of openstack/requirements with ``upper-constraints.txt``
    on master and each ``stable/<series>`` in ``branches``, from the snapshots."""
    if os.path.isdir(os.path.join(dest, ".git")):
        return dest
    snapshots = requirements_dir()

    def snapshot(branch):
        series = branch.split("/", 1)[1] if branch.startswith("stable/") else branch
        path = os.path.join(snapshots, series, "upper-constraints.txt")
        if not os.path.isfile(path):
            raise ServiceError(
                f"no upper-constraints snapshot for {branch} at {path}: add it (see "
                "sandbox-data/README.rst) or set CI_KIT_REQUIREMENTS_DIR"
            )
        with open(path) as f:
            text = f.read()
        commit = os.path.join(snapshots, series, "COMMIT")
        origin = open(commit).read().strip() if os.path.isfile(commit) else "unknown"  # noqa: SIM115
        return text, origin

    os.makedirs(dest)

    def git(*args):
        subprocess.run(["git", *args], cwd=dest, check=True, capture_output=True)

    git("init", "-q", "-b", "master")
    ident = ["-c", "user.name=Sandbox", "-c", "user.email=sandbox@example.invalid"]
    for branch in ["master", *[b for b in branches if b != "master"]]:
        if branch != "master":
            git("checkout", "-q", "-b", branch, "master")
        text, origin = snapshot(branch)
        with open(os.path.join(dest, "upper-constraints.txt"), "w") as f:
            f.write(text)
        git("add", "-A")
        git(*ident, "commit", "-q", "--allow-empty", "-m",
            f"upper-constraints.txt of {branch} (openstack/requirements {origin})")  # fmt: skip
    git("checkout", "-q", "master")
    return dest


def cache_dir():
    return os.path.join(kit_root(), "sources")


def _sdist(requirement, dest):
    name = requirement.split("=")[0].split("<")[0].split(">")[0].replace("-", "_")
    # "cinder==26.*" -> cinder-26.*.tar.gz: several releases share the cache.
    prefix = requirement.split("==", 1)[1].rstrip("*") if "==" in requirement else ""
    pattern = os.path.join(dest, f"{name}-{prefix}*.tar.gz")
    found = sorted(glob.glob(pattern))
    if found:
        return found[-1]
    os.makedirs(dest, exist_ok=True)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
         "-d", dest, requirement],
        capture_output=True, text=True,
    )  # fmt: skip
    found = sorted(glob.glob(pattern))
    if proc.returncode or not found:
        raise ServiceError(f"cannot download the {requirement} sdist: {proc.stderr.strip()[-400:]}")
    return found[-1]


def source_tree(project, requirement=None):
    """Return (path, version) of an unpacked tree for ``project``, cached."""
    requirement = requirement or PROJECTS[project]
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
    if project in BRANCHLESS:
        return dest
    for branch in branches:
        release = SERIES_RELEASES.get(project, {}).get(branch)
        if not release:
            git("branch", branch)
            continue
        series_tree, series_version = source_tree(project, release)
        git("checkout", "-q", "--orphan", branch)
        git("rm", "-rq", "--cached", ".")
        for entry in os.listdir(dest):
            if entry != ".git":
                path = os.path.join(dest, entry)
                if os.path.isdir(path):
                    shutil.rmtree(path)
                else:
                    os.unlink(path)
        shutil.copytree(series_tree, dest, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("*.egg-info", "PKG-INFO"))  # fmt: skip
        git("add", "-A")
        message = f"Import {project} {series_version} from its release"
        git("-c", "user.name=Sandbox", "-c", "user.email=sandbox@example.invalid",
            "commit", "-q", "-m", message)  # fmt: skip
        git("tag", series_version)
    git("checkout", "-q", "master")
    return dest


def seed_repo(project, dest, branches=()):
    """A git repo for ``project`` at ``dest``, however that project is seeded."""
    if project == REQUIREMENTS:
        return requirements_repo(dest, ["master", *branches])
    return git_repo(project, dest, branches)
