"""lldp.parse and identify.identify on a real LLDP-MIB walk and on edge cases."""

import testtools

from ci_tools.ztsp import lldp
from ci_tools.ztsp.identify import NoNeighbour, NotAnArray, identify
from tests.unit.ztsp.samples import walk_varbinds

PATTERN = "RefFlash"


def rem(column, value, port=7, index=1):
    return (lldp.REM_TABLE + (column, 100, port, index), value)


def man(ip, port=7, index=1):
    return (
        lldp.MAN_ADDR_TABLE + (3, 100, port, index, 1, 4) + tuple(int(x) for x in ip.split(".")),
        2,
    )


def server(
    desc="Debian GNU/Linux",
    port_subtype=3,
    port_id=bytes.fromhex("525400aabbcc"),
    ip="192.0.2.31",
    name="server-1",
):
    binds = [rem(6, port_subtype), rem(7, port_id), rem(9, name.encode()), rem(10, desc.encode())]
    return binds + ([man(ip)] if ip else [])


class ParseTest(testtools.TestCase):
    def test_real_walk(self):
        ports = lldp.parse(walk_varbinds())
        self.assertEqual([5], list(ports))
        (n,) = ports[5]
        self.assertTrue(n.complete)
        self.assertEqual("42:fa:17:2b:c9:ff", n.port_mac)
        self.assertEqual(["192.0.2.11"], n.mgmt_ips)
        self.assertEqual("refflash-41fc491e", n.sys_name)
        self.assertEqual("RefFlash reference array 41FC491E", n.sys_desc)
        self.assertEqual("data0", n.port_desc)

    def test_row_without_management_address_is_incomplete(self):
        binds = [
            b for b in walk_varbinds() if b[0][: len(lldp.MAN_ADDR_TABLE)] != lldp.MAN_ADDR_TABLE
        ]
        (n,) = lldp.parse(binds)[5]
        self.assertFalse(n.complete)
        self.assertRaises(NoNeighbour, identify, lldp.parse(binds), 5, PATTERN)

    def test_ipv6_management_address_is_skipped(self):
        v6 = (lldp.MAN_ADDR_TABLE + (3, 100, 7, 1, 2, 16) + (0x20, 0x01, 0x0D, 0xB8) + (0,) * 12, 2)
        (n,) = lldp.parse(server(ip=None) + [v6])[7]
        self.assertEqual([], n.mgmt_ips)


class IdentifyTest(testtools.TestCase):
    def test_the_real_array(self):
        ident = identify(lldp.parse(walk_varbinds()), 5, PATTERN)
        self.assertEqual(
            ("42:fa:17:2b:c9:ff", "192.0.2.11", 5), (ident.mac, ident.mgmt_ip, ident.local_port)
        )

    def test_nothing_on_the_port_yet(self):
        with self.assertRaises(NoNeighbour) as ctx:
            identify(lldp.parse(walk_varbinds()), 6, PATTERN)
        self.assertIn("port 6", str(ctx.exception))

    def assertNotArray(self, binds, *words):
        with self.assertRaises(NotAnArray) as ctx:
            identify(lldp.parse(binds), 7, PATTERN)
        for word in words:
            self.assertIn(word, str(ctx.exception))

    def test_a_server_is_not_an_array(self):
        self.assertNotArray(server(), "server-1", "Debian GNU/Linux", "'RefFlash'")

    def test_an_array_lookalike_without_mac_port_id(self):
        self.assertNotArray(
            server(desc="RefFlash array", port_subtype=5, port_id=b"eth0"), "port id subtype 5"
        )

    def test_multicast_mac_is_refused(self):
        self.assertNotArray(
            server(desc="RefFlash", port_id=bytes.fromhex("0180c200000e")), "not a unicast MAC"
        )

    def test_loopback_management_address_is_refused(self):
        self.assertNotArray(server(desc="RefFlash", ip="127.0.0.1"), "no usable management")

    def test_two_neighbours_on_one_port(self):
        binds = server(desc="RefFlash") + [rem(9, b"other", index=2), rem(6, 3, index=2)]
        self.assertNotArray(binds, "2 LLDP neighbours")
