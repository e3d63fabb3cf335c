"""parse_trap: real lab traps accepted; spoofed, malformed and unrelated ones refused."""

import testtools

from ci_tools.ztsp.traps import TrapIgnored, TrapRejected, parse_trap
from tests.unit.ztsp.samples import SWITCH, build_trap, fixture_bytes

SWITCHES = {SWITCH["address"]: SWITCH}
IF_INDEX_5 = (1, 3, 6, 1, 2, 1, 2, 2, 1, 1, 5)
OPER_5 = (1, 3, 6, 1, 2, 1, 2, 2, 1, 8, 5)


class ParseTrapTest(testtools.TestCase):
    def test_real_link_up_from_snmpd(self):
        event = parse_trap(fixture_bytes("linkup-trap.hex"), "192.0.2.1", SWITCHES)
        self.assertEqual(
            ("lab-switch", "192.0.2.1", 5, True),
            (event.switch, event.address, event.if_index, event.up),
        )
        self.assertEqual("linkUp", event.kind)

    def test_link_down(self):
        data = build_trap(trap_oid=(1, 3, 6, 1, 6, 3, 1, 1, 5, 3), extra=(IF_INDEX_5, 5, OPER_5, 2))
        event = parse_trap(data, "192.0.2.1", SWITCHES)
        self.assertFalse(event.up)
        self.assertEqual(5, event.if_index)

    def test_lldpd_table_change_trap_is_ignored(self):
        self.assertRaises(
            TrapIgnored, parse_trap, fixture_bytes("lldp-rem-trap.hex"), "192.0.2.1", SWITCHES
        )

    def assertRejected(self, data, source, *words):
        with self.assertRaises(TrapRejected) as ctx:
            parse_trap(data, source, SWITCHES)
        for word in words:
            self.assertIn(word, str(ctx.exception))
        return str(ctx.exception)

    def test_trap_from_an_unknown_source_is_rejected(self):
        self.assertRejected(
            fixture_bytes("linkup-trap.hex"), "192.0.2.66", "192.0.2.66", "not a configured switch"
        )

    def test_wrong_community_is_rejected_and_not_echoed(self):
        msg = self.assertRejected(build_trap(community="guessed"), "192.0.2.1", "wrong community")
        self.assertNotIn("guessed", msg)
        self.assertNotIn(SWITCH["community"], msg)

    def test_garbage_and_truncated_bytes_are_malformed(self):
        self.assertRejected(b"\x00\xffnot snmp", "192.0.2.1", "malformed", "10 bytes")
        whole = fixture_bytes("linkup-trap.hex")
        self.assertRejected(whole[:40], "192.0.2.1", "malformed")
        self.assertRejected(whole + b"\x00\x00", "192.0.2.1", "malformed", "161 bytes")

    def test_link_up_without_if_index_is_malformed(self):
        self.assertRejected(build_trap(extra=()), "192.0.2.1", "linkUp", "0 ifIndex")

    def test_link_up_that_says_the_port_is_down_is_malformed(self):
        self.assertRejected(
            build_trap(extra=(IF_INDEX_5, 5, OPER_5, 2)), "192.0.2.1", "ifOperStatus.5 is 2"
        )

    def test_snmp_v1_is_refused(self):
        self.assertRejected(build_trap(version=0), "192.0.2.1", "version 1")

    def test_other_traps_are_ignored(self):
        self.assertRaises(
            TrapIgnored,
            parse_trap,
            build_trap(trap_oid=(1, 3, 6, 1, 6, 3, 1, 1, 5, 1)),
            "192.0.2.1",
            SWITCHES,
        )
