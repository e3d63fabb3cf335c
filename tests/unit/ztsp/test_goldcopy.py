"""Gold copy rendering: complete, stable bytes, disabled backends kept, secrets redacted."""

import configparser

import testtools

from ci_tools.ztsp import goldcopy

TEMPLATE = {"san_api_port": 8780, "use_chap_auth": True, "max_over_subscription_ratio": 20.0}
DRIVER = "refflash_cinder.iscsi.RefFlashISCSIDriver"


def backend(serial, enabled=True, ip="192.0.2.11"):
    creds = {"username": "admin", "password": f"pw-{serial}"}
    return {
        "name": goldcopy.backend_name("ztsp", serial),
        "enabled": enabled,
        "array": serial,
        "options": goldcopy.section_options(DRIVER, TEMPLATE, ip, "pool-a", creds),
    }


class GoldCopyTest(testtools.TestCase):
    def parse(self, text):
        parser = configparser.ConfigParser(interpolation=None)
        parser.read_string(text)
        return parser

    def test_one_backend_is_a_complete_section(self):
        conf = self.parse(goldcopy.render([backend("41FC491E")]))
        self.assertEqual("ztsp-41fc491e", conf["DEFAULT"]["enabled_backends"])
        section = conf["ztsp-41fc491e"]
        self.assertEqual(DRIVER, section["volume_driver"])
        self.assertEqual("ztsp-41fc491e", section["volume_backend_name"])
        self.assertEqual("192.0.2.11", section["san_ip"])
        self.assertEqual("pool-a", section["refflash_pool"])
        self.assertEqual("admin", section["san_login"])
        self.assertEqual("pw-41FC491E", section["san_password"])
        self.assertEqual("true", section["use_chap_auth"])
        self.assertEqual("8780", section["san_api_port"])

    def test_same_inputs_same_bytes_whatever_the_order(self):
        a, b = backend("AAAA0001"), backend("BBBB0002", ip="192.0.2.12")
        self.assertEqual(goldcopy.render([a, b]), goldcopy.render([b, a]))

    def test_link_down_keeps_the_section_out_of_enabled_backends(self):
        text = goldcopy.render([backend("AAAA0001", enabled=False), backend("BBBB0002")])
        conf = self.parse(text)
        self.assertEqual("ztsp-bbbb0002", conf["DEFAULT"]["enabled_backends"])
        self.assertIn("ztsp-aaaa0001", conf.sections())
        self.assertIn("link down, disabled; volumes kept", text)
        self.assertEqual(
            "",
            self.parse(goldcopy.render([backend("A1", enabled=False)]))["DEFAULT"][
                "enabled_backends"
            ],
        )

    def test_redacted_hides_every_password(self):
        text = goldcopy.render([backend("AAAA0001"), backend("BBBB0002")])
        shown = goldcopy.redacted(text)
        self.assertNotIn("pw-", shown)
        self.assertIn("san_password = ***", shown)
        self.assertIn("san_login = admin", shown)

    def test_bad_names_and_values_are_refused(self):
        self.assertRaises(goldcopy.GoldCopyError, goldcopy.backend_name, "ztsp", "../etc")
        bad = backend("AAAA0001")
        bad["options"]["san_login"] = "admin\n[DEFAULT]\nenabled_backends = lvm"
        self.assertRaises(goldcopy.GoldCopyError, goldcopy.render, [bad])
        self.assertRaises(
            goldcopy.GoldCopyError, goldcopy.render, [backend("AAAA0001"), backend("aaaa0001")]
        )
