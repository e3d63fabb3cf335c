"""What LIO must hold for an array state: port identities, zoning and masking."""

import os
import tempfile

import testtools

from ci_tools.array import fc, lio
from ci_tools.array.model import Array


class PortIdentityTest(testtools.TestCase):
    def test_wwpn_is_what_software_fcoe_derives_from_the_mac(self):
        # fcoe_wwn_from_mac(mac, 2, 0): 2 in the top nibble, port 0, then the MAC
        self.assertEqual("52:4a:93:10:70:f7", lio.port_mac("70F7D396", 1, 0))
        self.assertEqual("2000524a931070f7", lio.port_wwpn("70F7D396", 1, 0))
        self.assertEqual("20:00:52:4a:93:10:70:f7", lio.colon_wwn("2000524a931070f7"))

    def test_macs_are_locally_administered_unicast(self):
        first_octet = int(lio.port_mac("ABCD0123", 0, 0).split(":")[0], 16)
        self.assertEqual((2, 0), (first_octet & 2, first_octet & 1))

    def test_rest_api_ports_are_the_ports_lio_serves(self):
        td = tempfile.TemporaryDirectory()
        self.addCleanup(td.cleanup)
        array = Array(td.name, pools={"pool-a": 10})
        ports = fc.target_ports(array)
        self.assertEqual(4, len(set(p["wwpn"] for p in ports)))
        self.assertEqual(ports, lio.ports_of(array.state))
        for p in ports:
            self.assertEqual("2000" + p["mac"].replace(":", ""), p["wwpn"])


class DesiredTest(testtools.TestCase):
    def setUp(self):
        super().setUp()
        td = tempfile.TemporaryDirectory()
        self.addCleanup(td.cleanup)
        self.array = Array(td.name, pools={"pool-a": 10})
        self.vol = self.array.create_volume({"name": "v1", "size_gb": 1})
        self.array.create_host({"name": "h1", "wwpns": ["1000000000000001"]})
        self.vols = os.path.join(td.name, "volumes")

    def want(self):
        return lio.desired(self.array.state, lio.ports_of(self.array.state), self.vols)

    def test_nothing_mapped_nothing_zoned(self):
        want = self.want()
        self.assertEqual({}, want["volumes"])
        self.assertEqual([{}] * 4, [p["acls"] for p in want["ports"].values()])

    def test_mapping_zones_the_host_and_masks_its_lun_on_every_online_port(self):
        m = self.array.create_mapping({"volume": "v1", "host": "h1"})
        want = self.want()
        self.assertEqual(
            {self.vol["id"]: os.path.join(self.vols, self.vol["id"] + ".img")}, want["volumes"]
        )
        for port in want["ports"].values():
            self.assertEqual({"1000000000000001": {m["lun"]: self.vol["id"]}}, port["acls"])
        self.array.delete_mapping("v1", host="h1")
        self.assertEqual([{}] * 4, [p["acls"] for p in self.want()["ports"].values()])

    def test_fabric_zone_set_lets_an_initiator_in_without_luns(self):
        fc.login(self.array, "2000525400000021")
        for port in self.want()["ports"].values():
            self.assertEqual({"2000525400000021": {}}, port["acls"])
        fc.login(self.array, "2000525400000021", logged_in=False)
        self.assertEqual([{}] * 4, [p["acls"] for p in self.want()["ports"].values()])

    def test_hostgroup_mapping_reaches_every_member(self):
        self.array.create_host({"name": "h2", "wwpns": ["1000000000000002"]})
        self.array.create_hostgroup({"name": "g", "hosts": ["h1", "h2"]})
        m = self.array.create_mapping({"volume": "v1", "hostgroup": "g"})
        acls = next(iter(self.want()["ports"].values()))["acls"]
        self.assertEqual(
            {w: {m["lun"]: self.vol["id"]} for w in ("1000000000000001", "1000000000000002")},
            acls,
        )

    def test_offline_controller_ports_are_down_and_empty(self):
        self.array.create_mapping({"volume": "v1", "host": "h1"})
        self.array.set_controller("ct1", "offline")
        ports = {p["name"]: p for p in lio.ports_of(self.array.state)}
        want = self.want()["ports"]
        for name in ("ct1.fc0", "ct1.fc1"):
            self.assertEqual({"enabled": False, "acls": {}}, want[ports[name]["wwpn"]])
        for name in ("ct0.fc0", "ct0.fc1"):
            self.assertTrue(want[ports[name]["wwpn"]]["enabled"])
            self.assertEqual(1, len(want[ports[name]["wwpn"]]["acls"]))
