"""Lab pieces that need no namespace: the rendered configs and the subnet guard."""

import testtools

from ci_tools.errors import UsageError
from ci_tools.ztsp import lab


class LabUnitTest(testtools.TestCase):
    def test_snmpd_conf_sends_link_traps_every_second_to_the_controller(self):
        conf = lab.render_snmpd_conf("c0mm", "rw", "198.51.100.2", 162)
        self.assertIn("trap2sink 198.51.100.2:162 c0mm\n", conf)
        self.assertIn("master agentx\n", conf)
        self.assertIn(
            'monitor -S -r 1 -e linkUpTrap "Generate linkUp" .1.3.6.1.2.1.2.2.1.8 != 2', conf
        )
        self.assertIn("rwcommunity rw 127.0.0.1\n", conf)  # writes only from the switch itself

    def test_sshd_config_listens_on_the_node_address_only(self):
        conf = lab.render_sshd_config("198.51.100.21", "/srv/node1/sshd", "zuul")
        self.assertIn("ListenAddress 198.51.100.21\n", conf)
        self.assertIn("PasswordAuthentication no\n", conf)
        self.assertIn("AllowUsers zuul\n", conf)
        self.assertIn("PermitRootLogin no\n", conf)

    def test_devstack_node_sshd_lets_only_root_in_and_only_by_key(self):
        conf = lab.render_sshd_config("198.51.100.21", "/srv/node1/sshd", "root")
        self.assertIn("AllowUsers root\n", conf)
        self.assertIn("PermitRootLogin prohibit-password\n", conf)
        self.assertIn("PasswordAuthentication no\n", conf)

    def test_one_devstack_node_per_lab(self):
        err = self.assertRaises(UsageError, lab.Lab, "/nonexistent", nodes=2, cinder="devstack")
        self.assertIn("one DevStack-lite node", str(err))
        self.assertRaises(UsageError, lab.Lab, "/nonexistent", cinder="lvm")

    def test_host_addresses_in(self):
        self.assertIn("127.0.0.1", lab.host_addresses_in("127.0.0.0/8"))
        self.assertEqual([], lab.host_addresses_in("203.0.113.255/32"))
