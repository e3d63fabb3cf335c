"""Fibre Channel: target ports, the fabric's zone set and the zoning map.

Every controller has two target ports. A port's WWPN is the one the kernel's
software FCoE gives the array data-plane NIC whose MAC :mod:`ci_tools.array.lio`
derives from the array serial (stable across restarts): where the array runs
with its data-plane VM, those ports log in with real FC protocol (FCoE VN2VN)
and LIO serves the LUNs; without it, nothing moves data and the records below
are all there is. A port is online only while its controller is; an initiator
WWPN is in the fabric's zone set after a fabric login (``POST
/admin/fabric/logins``); a host's ``initiator_target_map`` pairs each of its
WWPNs with the online target ports, which is what ``cinder.zonemanager`` turns
into zones.
"""

import time

from ci_tools.array import lio
from ci_tools.array.errors import not_found
from ci_tools.array.model import normalize_wwpn

PORTS_PER_CONTROLLER = lio.PORTS_PER_CONTROLLER


def target_ports(array):
    """name, controller, wwpn, state and the data-plane NIC's MAC of each port."""
    return lio.ports_of(array.state)


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
