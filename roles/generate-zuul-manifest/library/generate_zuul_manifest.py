#!/usr/bin/python3
"""Ansible module: write zuul-manifest.json, the index zuul-web's build page browses.

zuul-web's "Logs" tab does not list directories on the log server: it reads
the build's ``Zuul Manifest`` artifact, a JSON file at the top of the
published tree, in the format zuul-jobs' generate-zuul-manifest role writes::

    {"tree": [ENTRY, ...], "index_links": false}

Each directory is ``{"name", "mimetype": "application/directory",
"encoding": null, "children": [ENTRY, ...]}``; each file is ``{"name",
"mimetype", "encoding", "last_modified", "size"}`` (mimetype and encoding as
Python's ``mimetypes.guess_type`` names them, ``text/plain`` when it knows
none; ``last_modified`` is the mtime in whole seconds). In each directory
the subdirectories come first, then the files, each sorted by name. The
manifest does not list itself.

Only regular files and directories are listed: a link, socket or FIFO is
never followed nor named (publish-logs refuses to publish them anyway).
"""

import json
import mimetypes
import os
import stat

DOCUMENTATION = r"""
module: generate_zuul_manifest
short_description: Write zuul-web's index of a build's log tree (zuul-manifest.json)
options:
  root: {description: The log tree to index, required: true, type: path}
  output: {description: Where the manifest is written, required: true, type: path}
  index_links:
    description: Whether zuul-web links a directory to its index.html
    type: bool
    default: false
"""

DIRECTORY = "application/directory"

if not mimetypes.inited:
    mimetypes.init()


def file_entry(name, st):
    mimetype, encoding = mimetypes.guess_type(name)
    return {
        "name": name,
        "mimetype": mimetype or "text/plain",
        "encoding": encoding,
        "last_modified": int(st.st_mtime),
        "size": st.st_size,
    }


def walk(path, skip=None):
    """The manifest's entries for the directory ``path``; ``skip``: a path left out."""
    dirs, files = [], []
    for name in os.listdir(path):
        full = os.path.join(path, name)
        if full == skip:
            continue
        st = os.lstat(full)
        if stat.S_ISDIR(st.st_mode):
            dirs.append(name)
        elif stat.S_ISREG(st.st_mode):
            files.append((name, st))
    entries = [
        {
            "name": name,
            "mimetype": DIRECTORY,
            "encoding": None,
            "children": walk(os.path.join(path, name), skip),
        }
        for name in sorted(dirs)
    ]
    entries += [file_entry(name, st) for name, st in sorted(files)]
    return entries


def manifest(root, output=None, index_links=False):
    """The manifest of ``root`` as a dict (``output`` itself is not listed)."""
    skip = os.path.abspath(output) if output else None
    return {"tree": walk(os.path.abspath(root), skip), "index_links": index_links}


def write(root, output, index_links=False):
    data = manifest(root, output, index_links)
    with open(output + ".tmp", "w") as f:
        f.write(json.dumps(data))
    os.chmod(output + ".tmp", 0o644)
    os.replace(output + ".tmp", output)
    return data


def count(entries):
    return sum(count(e["children"]) if "children" in e else 1 for e in entries)


def main():
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(
        argument_spec=dict(
            root=dict(type="path", required=True),
            output=dict(type="path", required=True),
            index_links=dict(type="bool", default=False),
        ),
        supports_check_mode=False,
    )
    p = module.params
    if not os.path.isdir(p["root"]):
        module.fail_json(msg=f"INFRASTRUCTURE FAILURE (log manifest): no log dir {p['root']}")
    data = write(p["root"], p["output"], p["index_links"])
    module.exit_json(changed=True, files=count(data["tree"]), output=p["output"])


if __name__ == "__main__":
    main()
