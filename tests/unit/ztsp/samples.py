"""Real captures from a ZTSP lab (tests/fixtures/ztsp) and traps built with pysnmp."""

import os

from pyasn1.codec.ber import encoder
from pysnmp.proto import api

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "ztsp")
LAB_COMMUNITY = "f01f302cdbe1a47c"
SWITCH = {"name": "lab-switch", "address": "192.0.2.1", "community": LAB_COMMUNITY}
V2C = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]


def fixture_bytes(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return bytes.fromhex(f.read().strip())


def walk_varbinds(name="lldp-walk.txt"):
    """snmpwalk -On text -> (oid tuple, int | bytes) pairs, as lldp.walk returns them."""
    out = []
    with open(os.path.join(FIXTURES, name)) as f:
        for line in f:
            oid, _, rest = line.strip().partition(" = ")
            kind, _, value = rest.partition(": ")
            oid = tuple(int(x) for x in oid.strip(".").split("."))
            if kind == "INTEGER":
                out.append((oid, int(value)))
            elif kind == "Hex-STRING":
                out.append((oid, bytes.fromhex(value)))
            elif kind == "STRING":
                out.append((oid, value.strip('"').encode()))
            else:
                out.append((oid, 0))
    return out


def build_trap(
    community=LAB_COMMUNITY,
    trap_oid=(1, 3, 6, 1, 6, 3, 1, 1, 5, 4),
    extra=((1, 3, 6, 1, 2, 1, 2, 2, 1, 1, 5), 5),
    version=api.SNMP_VERSION_2C,
):
    """An SNMP trap as snmpd would send it; ``extra`` is (oid, int) varbinds, flat."""
    mod = api.PROTOCOL_MODULES[version]
    pdu = mod.TrapPDU()
    mod.apiTrapPDU.set_defaults(pdu)
    if version == api.SNMP_VERSION_2C:
        binds = [
            (mod.ObjectIdentifier((1, 3, 6, 1, 2, 1, 1, 3, 0)), mod.TimeTicks(201)),
            (
                mod.ObjectIdentifier((1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0)),
                mod.ObjectIdentifier(trap_oid),
            ),
        ]
        for i in range(0, len(extra), 2):
            binds.append((mod.ObjectIdentifier(extra[i]), mod.Integer(extra[i + 1])))
        mod.apiTrapPDU.set_varbinds(pdu, binds)
    msg = mod.Message()
    mod.apiMessage.set_defaults(msg)
    mod.apiMessage.set_community(msg, community)
    mod.apiMessage.set_pdu(msg, pdu)
    return encoder.encode(msg)
