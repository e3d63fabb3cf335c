"""Fibre Channel, emulated: target ports, fabric logins and the zoning map.

This machine has no FC transport, so nothing here moves data. What a Cinder
FC driver and the zone manager consume is reproduced faithfully: every
controller has two target port WWPNs (derived from the array serial, stable
across restarts), a port is online only while its controller is, an initiator
WWPN is logged in to the fabric only after a (simulated) fabric login, and a
host's ``initiator_target_map`` pairs each of its WWPNs with the online target
ports, which is what ``cinder.zonemanager`` turns into zones.
"""

import time

from ci_tools.array.errors import not_found
from ci_tools.array.model import normalize_wwpn

PORTS_PER_CONTROLLER = 2


def target_ports(array):
    serial = array.serial.lower()[:8].rjust(8, "0")
    ports = []
    for ci, (ctrl, info) in enumerate(sorted(array.state["controllers"].items())):
        for pi in range(PORTS_PER_CONTROLLER):
            ports.append(
                {
                    "name": f"{ctrl}.fc{pi}",
                    "controller": ctrl,
                    "wwpn": f"524a93{ci:x}{pi:x}{serial}",
                    "state": info["state"],
                }
            )
    return ports


def fabric(array):
    with array.lock:
        return {
            "emulated": True,
            "ports": target_ports(array),
            "logins": [{"wwpn": w, **info} for w, info in sorted(array.state["fabric"].items())],
        }


def login(array, wwpn, logged_in=True):
    with array.lock:
        wwpn = normalize_wwpn(wwpn)
        if logged_in:
            array.state["fabric"][wwpn] = {"logged_in": True, "since": time.time()}
        elif wwpn in array.state["fabric"]:
            del array.state["fabric"][wwpn]
        else:
            raise not_found("fabric login", wwpn)
        array._changed()
        return {"wwpn": wwpn, "logged_in": logged_in}


def connection(array, host_name):
    """What an FC driver returns for a host: targets and the zoning map."""
    with array.lock:
        host = array._host(host_name)
        online = [p["wwpn"] for p in target_ports(array) if p["state"] == "online"]
        return {
            "target_wwns": online,
            "initiator_target_map": {w: list(online) for w in host["wwpns"]},
            "fabric_logins": {
                w: bool(array.state["fabric"].get(w, {}).get("logged_in")) for w in host["wwpns"]
            },
            "emulated": True,
        }
