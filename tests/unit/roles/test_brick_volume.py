"""brick_volume.py (the data-path role's os-brick driver): which connector it asks for."""

import testtools

from tests.unit.roles.role_files import load_data_path_module


def load():
    return load_data_path_module("brick_volume")


class Factory:
    """Stands in for os-brick's InitiatorConnector: records the protocol asked for."""

    asked = []

    @classmethod
    def factory(cls, protocol, root_helper, **kw):
        cls.asked.append(protocol)
        return protocol


class ConnectorChoiceTest(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.brick = load()
        Factory.asked = []
        fake = type("connector", (), {"InitiatorConnector": Factory})
        self.patch(self.brick, "_brick", lambda: fake)

    def test_cinder_s_volume_type_picks_os_brick_s_connector_as_nova_does(self):
        self.brick._connector(False, {"driver_volume_type": "fibre_channel", "data": {}})
        self.brick._connector(False, {"driver_volume_type": "iscsi", "data": {}})
        self.brick._connector(False)
        self.assertEqual(["FIBRE_CHANNEL", "ISCSI", "ISCSI"], Factory.asked)

    def test_an_unknown_volume_type_is_refused(self):
        self.assertRaises(KeyError, self.brick._connector, False, {"driver_volume_type": "nfs"})
