"""The switch's LLDP neighbours, read from LLDP-MIB over SNMP (pysnmp 7, asyncio).

Two tables matter: ``lldpRemTable`` (chassis, port id, system name and
description of each neighbour, indexed by time mark, local port, remote
index) and ``lldpRemManAddrTable`` (the neighbour's management addresses,
which live in the index itself). lldpd fills them over AgentX a moment after
the link comes up, and not always both at once: :func:`parse` keeps partial
rows and :attr:`Neighbour.complete` says whether to walk again.
"""

import ipaddress
import logging
from dataclasses import dataclass, field

LOG = logging.getLogger(__name__)

LLDP_REMOTE = (1, 0, 8802, 1, 1, 2, 1, 4)
REM_TABLE = LLDP_REMOTE + (1, 1)  # lldpRemEntry
MAN_ADDR_TABLE = LLDP_REMOTE + (2, 1)  # lldpRemManAddrEntry
COLUMNS = {
    4: "chassis_subtype",
    5: "chassis_id",
    6: "port_subtype",
    7: "port_id",
    8: "port_desc",
    9: "sys_name",
    10: "sys_desc",
}
PORT_ID_MAC = 3  # LldpPortIdSubtype macAddress
ADDR_IPV4 = 1  # IANA address family


class WalkError(Exception):
    """The switch did not answer the walk, or answered with an SNMP error."""


@dataclass
class Neighbour:
    local_port: int
    remote_index: int
    chassis_subtype: int = None
    chassis_id: bytes = None
    port_subtype: int = None
    port_id: bytes = None
    port_desc: str = ""
    sys_name: str = ""
    sys_desc: str = ""
    mgmt_ips: list = field(default_factory=list)

    @property
    def complete(self):
        """A neighbour can be judged once its port id and a management address are in."""
        return self.port_subtype is not None and self.port_id is not None and bool(self.mgmt_ips)

    @property
    def port_mac(self):
        if self.port_subtype == PORT_ID_MAC and self.port_id and len(self.port_id) == 6:
            return ":".join(f"{b:02x}" for b in self.port_id)
        return None


def _text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def parse(varbinds):
    """Neighbours by local port from ``(oid tuple, value)`` pairs of an LLDP-MIB walk.

    Values are ints or bytes, as :func:`walk` returns them.
    """
    found = {}

    def neighbour(port, index):
        return found.setdefault((port, index), Neighbour(port, index))

    for oid, value in varbinds:
        oid = tuple(oid)
        if oid[: len(REM_TABLE)] == REM_TABLE and len(oid) == len(REM_TABLE) + 4:
            column, _mark, port, index = oid[len(REM_TABLE) :]
            name = COLUMNS.get(column)
            if name is None:
                continue
            n = neighbour(port, index)
            if name in ("chassis_id", "port_id"):
                setattr(n, name, bytes(value))
            elif name in ("chassis_subtype", "port_subtype"):
                setattr(n, name, int(value))
            else:
                setattr(n, name, _text(value))
        elif oid[: len(MAN_ADDR_TABLE)] == MAN_ADDR_TABLE and len(oid) > len(MAN_ADDR_TABLE) + 5:
            _column, _mark, port, index, family, length = oid[len(MAN_ADDR_TABLE) :][:6]
            addr = oid[len(MAN_ADDR_TABLE) + 6 :]
            if family != ADDR_IPV4 or length != 4 or len(addr) != 4:
                continue
            ip = str(ipaddress.IPv4Address(bytes(addr)))
            n = neighbour(port, index)
            if ip not in n.mgmt_ips:
                n.mgmt_ips.append(ip)
    by_port = {}
    for (port, _index), n in sorted(found.items()):
        by_port.setdefault(port, []).append(n)
    return by_port


def _plain(value):
    """pysnmp value -> int or bytes."""
    if hasattr(value, "asOctets"):
        return value.asOctets()
    try:
        return int(value)
    except (TypeError, ValueError):
        return bytes(str(value), "utf-8")


async def walk(engine, address, community, port=161, timeout=1.0, retries=1):
    """Bulk-walk the LLDP-MIB remote tables of the switch at address:port."""
    from pysnmp.hlapi.v3arch.asyncio import (
        CommunityData,
        ContextData,
        ObjectIdentity,
        ObjectType,
        UdpTransportTarget,
        bulk_walk_cmd,
    )

    target = await UdpTransportTarget.create((address, port), timeout=timeout, retries=retries)
    out = []
    async for err_indication, err_status, err_index, varbinds in bulk_walk_cmd(
        engine,
        CommunityData(community, mpModel=1),
        target,
        ContextData(),
        0,
        25,
        ObjectType(ObjectIdentity(".".join(map(str, LLDP_REMOTE)))),
        lexicographicMode=False,
    ):
        if err_indication:
            raise WalkError(f"LLDP-MIB walk of {address}: {err_indication}")
        if err_status:
            raise WalkError(
                f"LLDP-MIB walk of {address}: {err_status.prettyPrint()} at {err_index}"
            )
        for oid, value in varbinds:
            out.append((tuple(oid), _plain(value)))
    return out
