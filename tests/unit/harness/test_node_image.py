"""The compute node's image: its package list and cache key, and the data plane's addresses."""

import ipaddress
import os
import shutil
import tempfile

import testtools

from ci_tools.harness import data_plane, node_image


class NodeImageTest(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.element = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.element)
        shutil.copy(os.path.join(node_image.ELEMENT, "package-installs.yaml"), self.element)

    def test_the_element_lists_what_a_compute_node_needs(self):
        pkgs = node_image.packages()
        for pkg in ("linux-image-amd64", "open-iscsi", "multipath-tools", "sg3-utils",
                    "python3-os-brick", "openssh-server"):  # fmt: skip
            self.assertIn(pkg, pkgs)

    def test_a_package_added_to_the_element_means_a_new_image(self):
        before = node_image.image_key(self.element)
        self.assertEqual(before, node_image.image_key(self.element))
        with open(os.path.join(self.element, "package-installs.yaml"), "a") as f:
            f.write("fcoe-utils:\n")
        self.assertNotEqual(before, node_image.image_key(self.element))
        self.assertIn("fcoe-utils", node_image.packages(self.element))

    def test_the_image_carries_the_fcoe_by_path_udev_rule(self):
        # os-brick's FibreChannelConnector needs it on a virtio NIC (doc/fc-fcoe.rst)
        installed = dict(node_image.static_files())
        self.assertIn("etc/udev/rules.d/65-fcoe-virtio-by-path.rules", installed)
        helper = installed["usr/lib/udev/fcoe-virtio-path"]
        self.assertTrue(os.access(helper, os.X_OK))

    def test_a_changed_static_file_means_a_new_image(self):
        before = node_image.image_key(self.element)
        extra = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, extra)
        os.makedirs(os.path.join(extra, "static", "etc"))
        with open(os.path.join(extra, "static", "etc", "x"), "w") as f:
            f.write("1")
        self.patch(node_image, "STATIC_ELEMENTS", node_image.STATIC_ELEMENTS + [extra])
        self.assertNotEqual(before, node_image.image_key(self.element))


class ComputeNodeFCoETest(testtools.TestCase):
    def node(self, mtu):
        from ci_tools.harness.compute_node import ComputeNode  # noqa: PLC0415

        plane = data_plane.DataPlane(name="unit", mtu=mtu)
        image = type("Image", (), {"kernel": "k", "initrd": "i"})()
        return ComputeNode(tempfile.gettempdir(), image, plane, [], "key")

    def test_the_fc_port_wwpn_is_software_fcoe_s_from_the_data_nic_mac(self):
        node = self.node(9000)
        # fcoe_wwn_from_mac: 20:00 + the MAC
        self.assertEqual("2000" + node.data_macs[0].replace(":", ""), node.fcoe_wwpn(0))
        self.assertEqual(16, len(node.fcoe_wwpn(1)))

    def test_jumbo_frames_only_on_a_jumbo_data_plane(self):
        node = self.node(9000)
        node.port = 2222
        argv = " ".join(node._argv("tcg", "o", "s", [5, 6]))
        self.assertEqual(2, argv.count("host_mtu=9000"))
        node = self.node(1500)
        node.port = 2222
        self.assertNotIn("host_mtu", " ".join(node._argv("tcg", "o", "s", [5, 6])))


class ComputeNodeStopTest(testtools.TestCase):
    def test_a_stopped_node_never_boots_again(self):
        # The sandbox's watch may be booting a replacement when `down` stops
        # the node: no QEMU may start after stop().
        from ci_tools.errors import ServiceError  # noqa: PLC0415
        from ci_tools.harness.compute_node import ComputeNode  # noqa: PLC0415

        work = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, work)
        plane = data_plane.DataPlane(name="unit")
        self.patch(plane, "open_tap", lambda _i: os.open(os.devnull, os.O_RDONLY))
        image = type("Image", (), {"kernel": "k", "initrd": "i"})()
        node = ComputeNode(work, image, plane, [], "key")
        os.makedirs(node.dir)
        node.port = 2222
        node.stop()
        self.assertRaises(ServiceError, node._boot, "tcg", "o", "s")
        self.assertIsNone(node.proc)
        self.assertFalse(node.running())


class DataPlaneAddressTest(testtools.TestCase):
    def test_paths_use_documentation_ranges_never_this_hosts(self):
        allowed = [ipaddress.ip_network(n) for n in ("198.51.100.0/24", "203.0.113.0/24")]
        for _bridge, portal, node in data_plane.PATHS:
            for addr in (portal, node):
                ip = ipaddress.ip_address(addr)
                self.assertTrue(any(ip in net for net in allowed), addr)
                self.assertNotIn(ip, ipaddress.ip_network("192.0.2.0/24"))

    def test_two_paths_on_two_subnets(self):
        nets = {ipaddress.ip_interface(f"{p}/{data_plane.PREFIX}").network
                for _b, p, _n in data_plane.PATHS}  # fmt: skip
        self.assertEqual(2, len(nets))
