"""SNMP trap receiver: linkUp/linkDown from known switches become :class:`LinkEvent` s.

A trap is trusted only if it comes from a configured switch address and
carries that switch's community (compared in constant time, never logged).
Anything else is rejected with a reason the controller logs: a source that is
not a switch, bytes that are not SNMP, a wrong community, a linkUp without
its ifIndex. Valid traps that are not about links (lldpd's
lldpRemTablesChange, coldStart...) are ignored. Decoding uses pysnmp's
protocol modules directly, so every rejection has a precise cause.
"""

import asyncio
import hmac
import logging
import time
from dataclasses import dataclass, field

from pyasn1.codec.ber import decoder
from pyasn1.error import PyAsn1Error
from pysnmp.proto import api
from pysnmp.proto.error import ProtocolError

LOG = logging.getLogger(__name__)

SNMP_TRAP_OID = (1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0)
LINK_DOWN = (1, 3, 6, 1, 6, 3, 1, 1, 5, 3)
LINK_UP = (1, 3, 6, 1, 6, 3, 1, 1, 5, 4)
IF_INDEX = (1, 3, 6, 1, 2, 1, 2, 2, 1, 1)
IF_OPER_STATUS = (1, 3, 6, 1, 2, 1, 2, 2, 1, 8)


class TrapRejected(Exception):
    """Not from a trusted switch, or not a well-formed link trap: log it, act on nothing."""


class TrapIgnored(Exception):
    """A valid trap that is not about a link."""


@dataclass
class LinkEvent:
    switch: str  # the switch's configured name
    address: str  # where the trap came from
    if_index: int
    up: bool
    received: float = field(default_factory=time.time)

    @property
    def kind(self):
        return "linkUp" if self.up else "linkDown"


def parse_trap(data, source, switches):
    """Turn one datagram from ``source`` into a LinkEvent.

    ``switches`` maps a switch address to ``{"name", "community"}``.
    Raises TrapRejected or TrapIgnored with the reason.
    """
    switch = switches.get(source)
    if switch is None:
        raise TrapRejected(f"trap from {source}: not a configured switch, dropped")
    try:
        version = int(api.decodeMessageVersion(data))
        if version != api.SNMP_VERSION_2C:
            raise TrapRejected(
                f"trap from {source}: SNMP version {version + 1} is not accepted (v2c only)"
            )
        proto = api.PROTOCOL_MODULES[version]
        msg, rest = decoder.decode(data, asn1Spec=proto.Message())
    except (PyAsn1Error, ProtocolError, ValueError, KeyError) as exc:
        raise TrapRejected(
            f"malformed SNMP message from {source} ({len(data)} bytes): {exc.__class__.__name__}"
        ) from None
    if rest:
        raise TrapRejected(f"malformed SNMP message from {source}: {len(rest)} trailing bytes")
    community = bytes(proto.apiMessage.get_community(msg))
    if not hmac.compare_digest(community, switch["community"].encode()):
        raise TrapRejected(f"trap from {source}: wrong community (spoofed?), dropped")
    pdu = proto.apiMessage.get_pdu(msg)
    if not pdu.isSameTypeWith(proto.TrapPDU()):
        raise TrapIgnored(f"{pdu.__class__.__name__} from {source}, not a trap")
    varbinds = {tuple(oid): value for oid, value in proto.apiTrapPDU.get_varbinds(pdu)}
    trap_oid = varbinds.get(SNMP_TRAP_OID)
    if trap_oid is None:
        raise TrapRejected(f"malformed trap from {source}: no snmpTrapOID.0")
    trap_oid = tuple(trap_oid)
    if trap_oid not in (LINK_UP, LINK_DOWN):
        raise TrapIgnored(f"trap {'.'.join(map(str, trap_oid))} from {source}")
    kind = "linkUp" if trap_oid == LINK_UP else "linkDown"
    indexes = [
        oid[len(IF_INDEX)] for oid in varbinds if oid[: len(IF_INDEX)] == IF_INDEX and len(oid) > 10
    ]
    if len(indexes) != 1:
        raise TrapRejected(f"malformed {kind} from {source}: {len(indexes)} ifIndex varbinds")
    if_index = int(indexes[0])
    oper = varbinds.get(IF_OPER_STATUS + (if_index,))
    if oper is not None and (int(oper) == 1) != (trap_oid == LINK_UP):
        raise TrapRejected(
            f"malformed {kind} from {source}: ifOperStatus.{if_index} is {int(oper)}"
        )
    return LinkEvent(switch["name"], source, if_index, trap_oid == LINK_UP)


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, switches, on_event):
        self.switches = switches
        self.on_event = on_event

    def datagram_received(self, data, addr):
        try:
            event = parse_trap(data, addr[0], self.switches)
        except TrapRejected as exc:
            LOG.warning("ztsp: rejected: %s", exc)
            return
        except TrapIgnored as exc:
            LOG.debug("ztsp: ignored %s", exc)
            return
        LOG.info(
            "ztsp: trap %s ifIndex %s from %s (%s)",
            event.kind,
            event.if_index,
            event.switch,
            event.address,
        )
        self.on_event(event)


async def listen(address, port, switches, on_event):
    """Receive traps on address:port; returns the asyncio transport (close() to stop)."""
    loop = asyncio.get_running_loop()
    by_address = {s["address"]: s for s in switches}
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Protocol(by_address, on_event), local_addr=(address, port)
    )
    return transport
