#!/usr/bin/env python3
"""Write upper-constraints without the projects installed from source trees.

openstack/requirements pins every library (``os-brick===6.11.1``); a pin on a
project pip installs from the tree under test would refuse that tree, so,
as DevStack's ``edit-constraints`` does, those projects' lines are dropped
and every other line is kept. The project name comes from each tree's
setup.cfg (``[metadata] name``), else from the directory name.

Usage: edit_constraints.py SRC DEST [TREE ...]
"""

import configparser
import os
import re
import sys


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def project_name(tree):
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(os.path.join(tree, "setup.cfg"))
    name = cfg.get("metadata", "name", fallback="") or os.path.basename(tree.rstrip("/"))
    return canonical(name)


def edit(lines, drop):
    """``lines`` without the constraints of the projects named in ``drop``."""
    kept = []
    for line in lines:
        found = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
        if found and canonical(found.group(1)) in drop:
            continue
        kept.append(line)
    return kept


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    src, dest, trees = argv[0], argv[1], argv[2:]
    try:
        with open(src) as f:
            lines = f.readlines()
    except OSError as exc:
        print(f"cannot read upper-constraints {src}: {exc.strerror}", file=sys.stderr)
        return 1
    drop = {project_name(t) for t in trees}
    kept = edit(lines, drop)
    with open(dest + ".tmp", "w") as f:
        f.writelines(kept)
    os.replace(dest + ".tmp", dest)
    print(f"{dest}: {len(kept)} constraints from {src}, without {', '.join(sorted(drop)) or '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
