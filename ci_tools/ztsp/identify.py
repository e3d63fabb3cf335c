"""Is the LLDP neighbour on a switch port an array, and which one?

An array, as ZTSP expects it, announces its data port by MAC (port id subtype
macAddress) and its management IPv4 address, and describes itself with a
system description (or name) matching the configured pattern. Anything else
on a port (a server, a phone, a second switch, two neighbours behind a hub)
is named in a :class:`NotAnArray` reason and left alone.
"""

import ipaddress
import re
from dataclasses import dataclass


class NotAnArray(Exception):
    """The port's neighbour is not an array ZTSP may configure."""


class NoNeighbour(Exception):
    """Nothing (complete) on the port yet: walk again."""


@dataclass(frozen=True)
class ArrayIdentity:
    mac: str  # data port MAC, lower case, colon separated
    mgmt_ip: str
    sys_name: str
    sys_desc: str
    local_port: int


def identify(neighbours, local_port, pattern):
    """The ArrayIdentity of the one neighbour on ``local_port`` (from lldp.parse)."""
    on_port = neighbours.get(local_port, [])
    if not on_port:
        raise NoNeighbour(f"no LLDP neighbour on port {local_port} yet")
    if len(on_port) > 1:
        names = ", ".join(n.sys_name or "?" for n in on_port)
        raise NotAnArray(
            f"port {local_port}: {len(on_port)} LLDP neighbours ({names}); "
            "an array's data port is cabled alone"
        )
    n = on_port[0]
    if not n.complete:
        raise NoNeighbour(f"LLDP neighbour on port {local_port} is not complete yet")
    who = f"port {local_port}: neighbour {n.sys_name or '?'} ({n.sys_desc or 'no description'})"
    if not re.search(pattern, n.sys_desc or "", re.I) and not re.search(
        pattern, n.sys_name or "", re.I
    ):
        raise NotAnArray(f"{who} does not match the array pattern {pattern!r}")
    mac = n.port_mac
    if mac is None:
        raise NotAnArray(
            f"{who} does not announce its port by MAC (port id subtype {n.port_subtype})"
        )
    if int(mac[:2], 16) & 1 or mac == "00:00:00:00:00:00":
        raise NotAnArray(f"{who} announces {mac}, not a unicast MAC")
    ips = [ip for ip in n.mgmt_ips if _usable(ip)]
    if not ips:
        raise NotAnArray(f"{who} announces no usable management IPv4 ({n.mgmt_ips})")
    return ArrayIdentity(mac, ips[0], n.sys_name, n.sys_desc, local_port)


def _usable(ip):
    addr = ipaddress.ip_address(ip)
    return not (addr.is_unspecified or addr.is_multicast or addr.is_loopback)
