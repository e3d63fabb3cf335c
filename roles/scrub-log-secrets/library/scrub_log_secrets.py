#!/usr/bin/python3
"""Ansible module: mask credentials in a directory of logs, then prove none are left.

Runs on the executor over the collected logs, before anything is published.
Two passes:

1. scrub: in every text file (and inside ``.gz`` files) replace every known
   secret value (the job's secrets and the ``secrets.txt`` lists the node
   roles wrote), the values of secret options (``san_password = x``,
   ``'auth_password': 'x'``, ``X-Auth-Token: x``), credentials in URLs
   (``rabbit://user:x@host``), CHAP triples and Keystone Fernet tokens;
2. scan: read every file again, byte for byte (binary files such as subunit
   streams are scanned, never rewritten), for any known value or token.

A hit in the scan fails the module with ``INFRASTRUCTURE FAILURE (log
scrub)`` and the file names, never the secret: the post-run stops before
publishing, and the build reports POST_FAILURE, not a failure of the change.
"""

import gzip
import os
import re
import stat

DOCUMENTATION = r"""
module: scrub_log_secrets
short_description: Mask credentials in collected logs and fail if any survive
options:
  path: {description: Directory scrubbed recursively, required: true, type: path}
  values: {description: Literal secret values, type: list, elements: str, default: []}
  value_files:
    description: Files listing one secret value per line (missing files are skipped)
    type: list
    elements: path
    default: []
  keys: {description: Option names whose values are masked, type: list, elements: str, default: []}
  mask: {description: Replacement text, type: str, default: "***"}
"""

# Anything that looks like a Keystone Fernet token (a base64url Fernet blob).
FERNET = re.compile(rb"gAAAAA[A-Za-z0-9_-]{40,}={0,2}")
# user:password@ in URLs (transport_url, database connection, clouds).
URL_CREDENTIALS = re.compile(rb"(://[^:/@\s'\"]+:)([^@\s'\"]+)(@)")
# Cinder's provider_auth: "CHAP <user> <secret>".
CHAP = re.compile(rb"(CHAP\s+\S+\s+)([^\s'\",}]+)")
# key=value / key: value / 'key': 'value' anywhere in a line, for keys that
# name a secret whatever their prefix (auth_password, X-Auth-Token, ...).
INLINE_SECRET_KEY = rb"[\w-]*(?:password|passwd|secret|token|private_key)"
BINARY_SUFFIXES = (".subunit", ".png", ".jpg", ".xz", ".bz2", ".zip", ".sqlite", ".db")


def read_values(values, value_files):
    """All known secret values, longest first so no partial match wins."""
    found = {v for v in values if v}
    for path in value_files:
        try:
            with open(path) as f:
                found.update(line.strip() for line in f if line.strip())
        except FileNotFoundError:
            continue
    return sorted(found, key=len, reverse=True)


def build_patterns(keys, mask):
    m = mask.encode()
    key_alt = b"|".join(re.escape(k.encode()) for k in keys) if keys else None
    patterns = [
        (FERNET, m),
        (URL_CREDENTIALS, rb"\g<1>" + m + rb"\g<3>"),
        (CHAP, rb"\g<1>" + m),
        (
            re.compile(
                rb"(?i)(\b" + INLINE_SECRET_KEY + rb"(?:\\*['\"])?\s*[=:]\s*(?:\\*['\"])?)"
                rb"([^\s'\"\\,}&;)\]]+)"
            ),
            rb"\g<1>" + m,
        ),
    ]
    if key_alt:
        # config files: "key = value" on its own line, whole value masked
        patterns.append(
            (re.compile(rb"(?im)^(\s*(?:" + key_alt + rb")\s*[=:]\s*)\S.*$"), rb"\g<1>" + m)
        )
    return patterns


def scrub_bytes(data, values, patterns, mask):
    """Return (new data, number of replacements)."""
    count = 0
    m = mask.encode()
    for value in values:
        raw = value.encode()
        n = data.count(raw)
        if n:
            data = data.replace(raw, m)
            count += n
    for pattern, repl in patterns:
        data, n = pattern.subn(repl, data)
        count += n
    return data, count


def leaks_in(data, values):
    """Names of what leaked (kind only, never the value)."""
    kinds = []
    if any(v.encode() in data for v in values):
        kinds.append("known secret value")
    if FERNET.search(data):
        kinds.append("token")
    return kinds


def is_binary(path, head):
    return path.endswith(BINARY_SUFFIXES) or b"\0" in head


def drop_not_regular(root):
    """Remove links, sockets, FIFOs and devices under root; return their relative paths.

    A link planted on the node (``c-api.log.1 -> ../../../scrub-secrets/x``)
    would be resolved on the executor by whatever copies the logs next: only
    regular files and dirs are ever published. os.walk does not follow links
    to dirs; they show up in its dir list and are dropped like the others.
    """
    dropped = []
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
                os.unlink(path)
                dropped.append(os.path.relpath(path, root))
    return sorted(dropped)


def not_regular(root):
    found = []
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
                found.append(os.path.relpath(path, root))
    return found


def walk(root):
    for dirpath, _dirs, files in os.walk(root):
        for name in sorted(files):
            path = os.path.join(dirpath, name)
            if stat.S_ISREG(os.lstat(path).st_mode):
                yield path


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".gz"):
        try:
            return gzip.decompress(data), True
        except (OSError, EOFError):
            return data, False
    return data, False


def scrub_tree(root, values, keys, mask):
    """Scrub every file under root in place, then scan; return (scrubbed, leaks, dropped)."""
    patterns = build_patterns(keys, mask)
    dropped = drop_not_regular(root)
    scrubbed = {}
    for path in walk(root):
        data, gzipped = read(path)
        if is_binary(path[:-3] if gzipped else path, data[:8192]):
            continue
        new, count = scrub_bytes(data, values, patterns, mask)
        if count:
            mode = os.stat(path).st_mode
            with open(path, "wb") as f:
                f.write(gzip.compress(new) if gzipped else new)
            os.chmod(path, mode)
            scrubbed[os.path.relpath(path, root)] = count
    leaks = {}
    for path in walk(root):
        data, _ = read(path)
        kinds = leaks_in(data, values)
        if kinds:
            leaks[os.path.relpath(path, root)] = kinds
    for rel in not_regular(root):
        leaks[rel] = ["not a regular file"]
    return scrubbed, leaks, dropped


# values are secrets: Ansible masks no_log parameters in everything it prints.
ARGUMENT_SPEC = dict(
    path=dict(type="path", required=True),
    values=dict(type="list", elements="str", default=[], no_log=True),
    value_files=dict(type="list", elements="path", default=[]),
    keys=dict(type="list", elements="str", default=[], no_log=False),
    mask=dict(type="str", default="***"),
)


def main():
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=False)
    p = module.params
    if not os.path.isdir(p["path"]):
        module.fail_json(msg=f"INFRASTRUCTURE FAILURE (log scrub): no log dir {p['path']}")
    values = read_values(p["values"], p["value_files"])
    scrubbed, leaks, dropped = scrub_tree(p["path"], values, p["keys"], p["mask"])
    result = dict(
        changed=bool(scrubbed or dropped),
        scrubbed=scrubbed,
        dropped=dropped,
        known_values=len(values),
        leaks=leaks,
    )
    if leaks:
        module.fail_json(
            msg="INFRASTRUCTURE FAILURE (log scrub): secrets left after scrubbing in "
            + ", ".join(sorted(leaks))
            + "; the logs are not published",
            **result,
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
