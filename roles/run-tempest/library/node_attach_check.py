#!/usr/bin/python3
"""Ansible module: can this node (where cinder-volume and cinder-backup run) attach a volume?

Cinder copies data through its own node: image to volume, volume to image,
host-assisted migration and cinder-backup each attach the volume there with
os-brick, through the node's kernel initiator. Where that initiator is missing
(the sandbox's controller, a container that loads no kernel modules), the
Tempest tests that copy data cannot pass, and run-tempest excludes them
(``tempest-config/<protocol>/exclude-no-attach.txt``, ``tempest-no-attach.yaml``);
where it works (a vendor's lab node), they run.

``setting`` is ``run_tempest_node_can_attach``: ``true`` or ``false`` decide;
``auto`` looks at the node for the job's protocol:

* ``iscsi``: the ``iscsi_tcp`` transport in the kernel (``/sys/module/iscsi_tcp``;
  if it is not loaded, ``modprobe iscsi_tcp`` is tried once, as open-iscsi's
  own service would) and ``iscsiadm`` on the PATH (os-brick runs it);
* ``fc``: an FC host in ``/sys/class/fc_host`` whose ``port_state`` is
  ``Online`` (an HBA, or software FCoE, with its link up).

The result says which way it went and why, for the job's logs.
"""

import os
import shutil
import subprocess

DOCUMENTATION = r"""
module: node_attach_check
short_description: Decide whether this node's kernel initiator can attach volumes
options:
  protocol: {description: The job's protocol (iscsi or fc), required: true, type: str}
  setting:
    description: run_tempest_node_can_attach, auto, true or false
    type: raw
    default: auto
  root: {description: Where /sys is looked up (tests), type: path, default: /}
  path: {description: PATH searched for iscsiadm; default the node's PATH plus /usr/sbin and /sbin, type: str}
  modprobe:
    description: Command run to load iscsi_tcp when it is not loaded; empty to never load
    type: str
    default: modprobe
"""

RETURN = r"""
can_attach: {description: Whether the exclusions for nodes that cannot attach are dropped, type: bool}
decided_by: {description: "'setting' (true/false given) or 'detection' (auto)", type: str}
reason: {description: One line for the job's log, type: str}
checks: {description: What detection found, check by check, type: dict}
"""

PROTOCOLS = ("iscsi", "fc")
TRUE = ("true", "yes", "on", "1")
FALSE = ("false", "no", "off", "0")


class SettingError(ValueError):
    """run_tempest_node_can_attach or the protocol cannot be used."""


def parse_setting(value):
    """'auto', True or False from what Ansible hands over (bools, strings)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text == "auto":
        return "auto"
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise SettingError(f"run_tempest_node_can_attach is {value!r}: use auto, true or false")


def _sys(root, *parts):
    return os.path.join(root, "sys", *parts)


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def check_iscsi(root="/", path=None, modprobe="modprobe"):
    """(ok, reason, checks) for the kernel iSCSI initiator."""
    checks = {}
    module_dir = _sys(root, "module", "iscsi_tcp")
    loaded = os.path.isdir(module_dir)
    checks["iscsi_tcp"] = "loaded" if loaded else "not loaded"
    if not loaded and modprobe:
        command = shutil.which(modprobe, path=path) if not os.path.isabs(modprobe) else modprobe
        if command is None:
            checks["iscsi_tcp"] = f"not loaded, and no {modprobe} to load it"
        else:
            proc = subprocess.run(
                [command, "iscsi_tcp"], capture_output=True, text=True, timeout=60, check=False
            )
            loaded = os.path.isdir(module_dir)
            if loaded:
                checks["iscsi_tcp"] = "loaded by modprobe"
            else:
                said = (proc.stderr or proc.stdout).strip().splitlines()
                checks["iscsi_tcp"] = (
                    f"not loadable: modprobe exited {proc.returncode}"
                    + (f": {said[-1]}" if said else "")
                )
    iscsiadm = shutil.which("iscsiadm", path=path)
    checks["iscsiadm"] = iscsiadm or "not found"
    missing = []
    if not loaded:
        missing.append(f"iscsi_tcp {checks['iscsi_tcp']}")
    if not iscsiadm:
        missing.append("no iscsiadm on the PATH")
    if missing:
        return False, "no kernel iSCSI initiator: " + "; ".join(missing), checks
    return True, f"kernel iSCSI initiator: iscsi_tcp {checks['iscsi_tcp']}, {iscsiadm}", checks


def check_fc(root="/"):
    """(ok, reason, checks) for an FC host with its link up."""
    base = _sys(root, "class", "fc_host")
    try:
        hosts = sorted(os.listdir(base))
    except OSError:
        hosts = []
    checks = {h: _read(os.path.join(base, h, "port_state")) or "unknown" for h in hosts}
    online = [h for h, state in checks.items() if state == "Online"]
    if online:
        return True, "FC host online: " + ", ".join(online), checks
    if not hosts:
        return False, "no FC host in /sys/class/fc_host (no HBA, no FCoE port)", checks
    states = ", ".join(f"{h} {s}" for h, s in checks.items())
    return False, f"no FC host online ({states})", checks


def detect(protocol, root="/", path=None, modprobe="modprobe"):
    if protocol == "iscsi":
        return check_iscsi(root, path, modprobe)
    if protocol == "fc":
        return check_fc(root)
    raise SettingError(
        f"cannot detect an attach for protocol {protocol!r} (known: {', '.join(PROTOCOLS)}):"
        " set run_tempest_node_can_attach to true or false"
    )


def decide(protocol, setting, root="/", path=None, modprobe="modprobe"):
    """What run-tempest applies: the module's result, without Ansible."""
    wanted = parse_setting(setting)
    if wanted == "auto":
        ok, reason, checks = detect(protocol, root, path, modprobe)
        return {
            "can_attach": ok,
            "decided_by": "detection",
            "reason": f"auto: {reason}",
            "checks": checks,
        }
    # Given: no module is loaded, but what is there is recorded beside it.
    try:
        _, found, checks = detect(protocol, root, path, modprobe="")
    except SettingError:
        found, checks = "not detected for this protocol", {}
    return {
        "can_attach": wanted,
        "decided_by": "setting",
        "reason": f"run_tempest_node_can_attach: {str(wanted).lower()} (found: {found})",
        "checks": checks,
    }


ARGUMENT_SPEC = dict(
    protocol=dict(type="str", required=True),
    setting=dict(type="raw", default="auto"),
    root=dict(type="path", default="/"),
    path=dict(type="str", default=None),
    modprobe=dict(type="str", default="modprobe"),
)


def main():
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    path = p["path"] or os.pathsep.join(
        [os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"]
    )
    modprobe = "" if module.check_mode else p["modprobe"]
    try:
        result = decide(p["protocol"], p["setting"], p["root"], path, modprobe)
    except SettingError as e:
        module.fail_json(msg=str(e))
    module.exit_json(changed=result["checks"].get("iscsi_tcp") == "loaded by modprobe", **result)


if __name__ == "__main__":
    main()
