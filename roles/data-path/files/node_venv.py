#!/usr/bin/env python3
"""Build the compute node's os-brick venv on the controller, as a tarball.

  node_venv.py DIR [--constraints FILE] [--os-brick-src TREE] [--pip-args ARGS] PACKAGE...

The data-path tests on the compute node need os-brick (the change's tree
when the change is to os-brick, else the branch's upper-constraints pin),
the Cinder client and their oslo stack at the branch's upper-constraints,
as an upstream multinode job installs them on its compute node. The
controller already has pip's cache and index warm from DevStack-lite, and
the compute node may be a TCG guest where every CPU second counts twelve, so
the venv is built here (``DIR/venv``) and handed over packed
(``DIR/venv.tar.gz``, without pip, bytecode included): the node only
unpacks it. Both nodes run the same image, so the same Python.

A venv whose inputs did not change (Python, packages, constraints, the
tree's requirements) is reused; only the os-brick tree is reinstalled, as
its code may have changed. ``DIR/venv/data-path-venv.json`` says how it was
built; the last line printed is the same as JSON for the caller.
"""

import argparse
import hashlib
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time


def fingerprint(python, packages, constraints, tree, pip_args):
    """What decides the venv's dependencies; the tree's code does not."""
    digest = hashlib.sha256()
    digest.update(json.dumps([python, packages, tree or "", pip_args]).encode())
    for path in (constraints, tree and os.path.join(tree, "requirements.txt")):
        if path and os.path.exists(path):
            with open(path, "rb") as f:
                digest.update(f.read())
    return digest.hexdigest()


def pip_argv(venv, constraints, pip_args, packages, tree):
    argv = [os.path.join(venv, "bin", "pip"), "install", "--quiet"]
    if constraints and os.path.exists(constraints):
        argv += ["-c", constraints]
    argv += shlex.split(pip_args) + list(packages)
    # os-brick from the tree under test (its pin was dropped from the
    # constraints, as DevStack's edit-constraints does), else the pinned release
    argv.append(tree if tree else "os-brick")
    return argv


def tree_env(tree):
    """pbr reads the tree's version from git, and the tree is the node user's
    while pip runs as root: trust that one repo (git's safe.directory, from
    the environment, as protected config)."""
    env = dict(os.environ)
    if tree:
        count = int(env.get("GIT_CONFIG_COUNT", "0"))
        env.update({"GIT_CONFIG_COUNT": str(count + 1),
                    f"GIT_CONFIG_KEY_{count}": "safe.directory",
                    f"GIT_CONFIG_VALUE_{count}": tree})  # fmt: skip
    return env


def pack(venv, tarball):
    """``venv`` as a gzip tarball without pip (the node installs nothing)."""
    tmp = tarball + ".tmp"
    subprocess.run(
        ["tar", "-C", venv, "-I", "gzip -1", "-cf", tmp,
         "--exclude=./lib/python*/site-packages/pip", "--exclude=./lib/python*/site-packages/pip-*",
         "--exclude=./bin/pip*", "."],
        check=True,
    )  # fmt: skip
    os.chmod(tmp, 0o644)
    os.replace(tmp, tarball)


def build(work, packages, constraints="", tree="", pip_args=""):
    start = time.monotonic()
    venv = os.path.join(work, "venv")
    tarball = os.path.join(work, "venv.tar.gz")
    stamp = os.path.join(work, "venv.stamp")
    python = "%d.%d" % sys.version_info[:2]
    key = fingerprint(python, sorted(packages), constraints, tree, pip_args)
    os.makedirs(work, mode=0o755, exist_ok=True)
    try:
        with open(stamp) as f:
            reuse = f.read().strip() == key and os.path.exists(os.path.join(venv, "bin", "python"))
    except OSError:
        reuse = False
    if reuse and not tree and os.path.exists(tarball):
        return {"rebuilt": False, "reinstalled": False, "python": python, "tarball": tarball,
                "seconds": round(time.monotonic() - start, 1)}  # fmt: skip
    if not reuse:
        shutil.rmtree(venv, ignore_errors=True)
        if os.path.exists(stamp):
            os.unlink(stamp)
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run(pip_argv(venv, constraints, pip_args, packages, tree), check=True,
                       env=tree_env(tree))  # fmt: skip
        with open(stamp, "w") as f:
            f.write(key + "\n")
    elif tree:
        # Same dependencies; the tree's code is this change's.
        subprocess.run([os.path.join(venv, "bin", "pip"), "install", "--quiet", "--no-deps",
                        "--force-reinstall", tree], check=True, env=tree_env(tree))  # fmt: skip
    record = {
        "python": platform.python_version(),
        "os_brick_from": tree or "the release upper-constraints pin",
        "constraints": constraints if constraints and os.path.exists(constraints) else None,
        "packages": sorted(packages),
        "built_on": platform.node(),
    }
    with open(os.path.join(venv, "data-path-venv.json"), "w") as f:
        json.dump(record, f, indent=2)
    pack(venv, tarball)
    return {"rebuilt": not reuse, "reinstalled": bool(reuse and tree), "python": python,
            "tarball": tarball, "seconds": round(time.monotonic() - start, 1)}  # fmt: skip


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("dir")
    parser.add_argument("--constraints", default="")
    parser.add_argument("--os-brick-src", default="")
    parser.add_argument("--pip-args", default="")
    parser.add_argument("packages", nargs="*")
    args = parser.parse_intermixed_args(argv)
    tree = args.os_brick_src.strip()
    if tree and not os.path.exists(os.path.join(tree, "setup.cfg")):
        print(f"--os-brick-src {tree}: not an os-brick source tree (no setup.cfg)", file=sys.stderr)
        return 2
    result = build(os.path.abspath(args.dir), args.packages, args.constraints.strip(), tree,
                   args.pip_args)  # fmt: skip
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
