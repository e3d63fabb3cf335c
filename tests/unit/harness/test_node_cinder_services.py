"""The controller's Cinder config as the compute node must read it."""

import configparser

import testtools

from ci_tools.harness.compute_node import CONTROLLER_ADDRESS
from ci_tools.harness.node_cinder_services import (
    NODE_ADDRESS,
    NODE_BACKUP_FILE_SIZE,
    node_config,
)

CONTROLLER_CONF = """\
[DEFAULT]
my_ip = 127.0.0.1
state_path = /opt/stack/data/cinder
transport_url = rabbit://stack:pw@127.0.0.1:15672/
glance_api_servers = http://127.0.0.1:19292
backup_driver = cinder.backup.drivers.posix.PosixBackupDriver

[database]
connection = mysql+pymysql://stack:pw@localhost/cinder?unix_socket=/opt/stack/run/mysqld.sock&charset=utf8

[keystone_authtoken]
auth_url = http://127.0.0.1:15000/v3
password = pw

[privsep_osbrick]
helper_command = /opt/stack/venv/bin/privsep-helper --config-file /opt/stack/etc/cinder/cinder.conf
"""

BACKEND_CONF = """\
[DEFAULT]
enabled_backends = refflash

[refflash]
san_ip = 127.0.0.1
san_api_port = 8780
san_password = pw
volume_driver = refflash_cinder.iscsi.RefFlashISCSIDriver
"""


def parse(text):
    conf = configparser.RawConfigParser(interpolation=None)
    conf.optionxform = str
    conf.read_string(text)
    return conf


class NodeConfigTest(testtools.TestCase):
    def test_controller_services_are_reached_at_the_controller_address(self):
        conf = parse(node_config(CONTROLLER_CONF, "ctl-host", 13306))
        self.assertEqual(f"rabbit://stack:pw@{CONTROLLER_ADDRESS}:15672/",
                         conf["DEFAULT"]["transport_url"])  # fmt: skip
        self.assertEqual(
            f"http://{CONTROLLER_ADDRESS}:19292", conf["DEFAULT"]["glance_api_servers"]
        )
        self.assertEqual(f"http://{CONTROLLER_ADDRESS}:15000/v3",
                         conf["keystone_authtoken"]["auth_url"])  # fmt: skip
        # the database's unix socket becomes TCP at the forwarded port
        self.assertEqual(f"mysql+pymysql://stack:pw@{CONTROLLER_ADDRESS}:13306/cinder?charset=utf8",
                         conf["database"]["connection"])  # fmt: skip
        # the node's own address, not the controller's
        self.assertEqual(NODE_ADDRESS, conf["DEFAULT"]["my_ip"])

    def test_the_service_keeps_the_controllers_host_name(self):
        conf = parse(node_config(CONTROLLER_CONF, "ctl-host", 13306))
        self.assertEqual("ctl-host", conf["DEFAULT"]["host"])
        # a host the controller set itself is kept as it is
        conf = parse(node_config(CONTROLLER_CONF.replace("[DEFAULT]\n", "[DEFAULT]\nhost = n1\n"),
                                 "other", 13306))  # fmt: skip
        self.assertEqual("n1", conf["DEFAULT"]["host"])

    def test_paths_and_secrets_are_left_alone(self):
        conf = parse(node_config(CONTROLLER_CONF, "ctl-host", 13306))
        self.assertEqual("/opt/stack/data/cinder", conf["DEFAULT"]["state_path"])
        self.assertEqual("pw", conf["keystone_authtoken"]["password"])
        self.assertIn("/opt/stack/venv/bin/privsep-helper",
                      conf["privsep_osbrick"]["helper_command"])  # fmt: skip

    def test_backups_are_built_in_chunks_the_node_can_hold(self):
        conf = parse(node_config(CONTROLLER_CONF, "ctl-host", 13306))
        size = int(conf["DEFAULT"]["backup_file_size"])
        self.assertEqual(NODE_BACKUP_FILE_SIZE, size)
        self.assertEqual(0, size % 32768)  # the driver's SHA block
        self.assertLess(size, 512 * 1024 * 1024)

    def test_the_backend_reaches_the_array_through_the_controller(self):
        conf = parse(node_config(BACKEND_CONF, "", 13306))
        self.assertEqual(CONTROLLER_ADDRESS, conf["refflash"]["san_ip"])
        self.assertEqual("8780", conf["refflash"]["san_api_port"])
        self.assertEqual("pw", conf["refflash"]["san_password"])
        # a backend file gets no host and no backup options of its own
        self.assertNotIn("host", conf["DEFAULT"])
        self.assertNotIn("backup_file_size", conf["DEFAULT"])
        # an array elsewhere (a lab's san_ip) is left as it is
        lab = parse(node_config(BACKEND_CONF.replace("san_ip = 127.0.0.1", "san_ip = 203.0.113.5"),
                                "", 13306))  # fmt: skip
        self.assertEqual("203.0.113.5", lab["refflash"]["san_ip"])
