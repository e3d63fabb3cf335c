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
