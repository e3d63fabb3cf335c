"""The compute node's os-brick venv, as the data-path role gives it to the node.

The role builds the venv on the controller with
``roles/data-path/files/node_venv.py`` (os-brick, the Cinder client and
their oslo stack at the branch's upper-constraints), packs it, and unpacks
it on the node as ``/opt/data-path-venv``; the tests then run with that
venv's Python, not the image's (whose Debian os-brick is 6.1). Here this
machine is the controller: :func:`build` runs the same script with the
system Python (the one the node image has) and the upper-constraints
snapshot of a series from ``sandbox-data/openstack-requirements``, and
caches the venv under ``$CI_KIT_ROOT/data-path-venv/<series>`` (the
script rebuilds it only when its inputs change). :func:`install` checks
the node's Python is the builder's, as the role does, and unpacks the venv
on the node.
"""

import fcntl
import json
import os
import subprocess
import time

import yaml

from ci_tools.harness.playbook import REPO
from ci_tools.harness.zuul_daemons import kit_root
from ci_tools.sandbox.sources import requirements_dir

ROLE = os.path.join(REPO, "roles", "data-path")
NODE_VENV_SCRIPT = os.path.join(ROLE, "files", "node_venv.py")
# The controller's Python: the node image's (Debian's), never a tox or pyenv one.
BUILDER_PYTHON = "/usr/bin/python3"


def role_default(name):
    with open(os.path.join(ROLE, "defaults", "main.yaml")) as f:
        return yaml.safe_load(f)[name]


# Where the role puts it on the node, and what it installs beside os-brick.
NODE_VENV = role_default("data_path_venv")
PACKAGES = role_default("data_path_venv_packages")


def constraints(series="master"):
    return os.path.join(requirements_dir(), series, "upper-constraints.txt")


def pin(package, series="master"):
    """``package``'s version in the series' upper-constraints (``name===version``)."""
    with open(constraints(series)) as f:
        for line in f:
            name, sep, version = line.partition("===")
            if sep and name.strip().lower() == package.lower():
                return version.split(";")[0].strip()
    raise LookupError(f"{package} not pinned in {constraints(series)}")


def cache_dir(series="master"):
    return os.path.join(kit_root(), "data-path-venv", series)


def build(series="master", work=None):
    """The packed venv for ``series``: node_venv.py's result (``tarball``,
    ``python``, ``rebuilt``, ``seconds``), built first when missing or stale."""
    work = work or cache_dir(series)
    os.makedirs(work, exist_ok=True)
    with open(os.path.join(work, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time; the rest wait and reuse it
        proc = subprocess.run(
            [BUILDER_PYTHON, NODE_VENV_SCRIPT, work, "--constraints", constraints(series)]
            + list(PACKAGES),
            capture_output=True, text=True, timeout=1200,
        )  # fmt: skip
    if proc.returncode:
        raise AssertionError(f"node_venv.py exited {proc.returncode}:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def install(node, built, workspace="/tmp"):
    """Unpack ``built`` (from :func:`build`) on ``node`` at :data:`NODE_VENV`;
    seconds taken. A venv runs only on the Python it was built with."""
    start = time.monotonic()
    have = node.ssh("python3 -c 'import sys; print(\"%d.%d\" % sys.version_info[:2])'")
    have = have.stdout.strip()
    if have != built["python"]:
        raise AssertionError(
            f"this machine built the venv with Python {built['python']}, the node has {have}: "
            "both need the same Debian release"
        )
    packed = f"{workspace}/venv.tar.gz"
    node.copy_to(built["tarball"], packed)
    node.ssh(
        f"set -e; rm -rf {NODE_VENV}; mkdir -p {NODE_VENV}; "
        f"tar -xzf {packed} -C {NODE_VENV}; rm -f {packed}",
        sudo=True, timeout=600,
    )  # fmt: skip
    return time.monotonic() - start
