"""The gold copy: every ZTSP backend as cinder.conf sections, one file for every node.

Cinder reads it from its ``--config-dir`` (``cinder.conf.d/ztsp.conf``). The
same inputs always give the same bytes (sorted keys, no timestamps), which is
what makes delivery idempotent: an unchanged gold copy is neither written nor
followed by a restart. A backend whose array link is down keeps its section
but leaves ``enabled_backends``: cinder-volume stops serving it and nothing is
deleted, on the node or on the array. The file holds the array passwords; it
is written mode 0600 and never logged (:func:`redacted` is what logs see).
"""

import re

SECRET_KEYS = ("san_password", "password", "chap_password")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class GoldCopyError(Exception):
    pass


def backend_name(prefix, serial):
    """A stable backend (and volume type) name from the array's serial."""
    name = f"{prefix}-{serial}".lower()
    if not _NAME.match(name):
        raise GoldCopyError(f"cannot name a backend after serial {serial!r}")
    return name


def section_options(driver, template, array_ip, pool, credentials):
    """The options of one backend: the template's, pointed at the discovered array."""
    options = dict(template)
    options.update(
        san_ip=array_ip,
        refflash_pool=pool,
        san_login=credentials["username"],
        san_password=credentials["password"],
    )
    return {"volume_driver": driver, **options}


def _value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if "\n" in text:
        raise GoldCopyError("a backend option holds a newline")
    return text


def render(backends):
    """``backends``: ``[{"name", "enabled", "options", "array"}]`` -> cinder.conf text."""
    names = [b["name"] for b in backends]
    if len(set(names)) != len(names):
        raise GoldCopyError(f"duplicate backend names: {names}")
    ordered = sorted(backends, key=lambda b: b["name"])
    enabled = [b["name"] for b in ordered if b["enabled"]]
    lines = [
        "# Gold copy written by ci-tools ztsp controller: edits on a node are overwritten.",
        "[DEFAULT]",
        f"enabled_backends = {','.join(enabled)}",
        "",
    ]
    for b in ordered:
        state = "link up, enabled" if b["enabled"] else "link down, disabled; volumes kept"
        lines.append(f"# array {b['array']}: {state}")
        lines.append(f"[{b['name']}]")
        options = {"volume_backend_name": b["name"], **b["options"]}
        for key in sorted(options):
            lines.append(f"{key} = {_value(options[key])}")
        lines.append("")
    return "\n".join(lines)


def redacted(text):
    """The gold copy with every secret value replaced, for logs."""
    keys = "|".join(SECRET_KEYS)
    pattern = re.compile(rf"^(\s*(?:{keys})\s*=).*$", re.M)
    return pattern.sub(r"\1 ***", text)
