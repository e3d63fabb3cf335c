"""The DevStack-lite node's side: which backends c-vol will serve, and its driver failures."""

import os
import shutil
import tempfile

import testtools

from ci_tools.ztsp import cinder_volume, goldcopy

# the lines cinder-volume's manager logs (cinder 29), as they appear in c-vol.log
FAILED_LOG = """\
2026-11-23 15:38:04.101 123 INFO cinder.volume.manager [-] Starting volume driver \
RefFlashISCSIDriver (1.0.0)
2026-11-23 15:38:04.200 123 ERROR cinder.volume.manager [-] Failed to initialize driver.: \
refflash_cinder.client.RefFlashError: login refused (401)
2026-11-23 15:38:04.200 123 ERROR cinder.volume.manager Traceback (most recent call last):
2026-11-23 15:38:04.200 123 ERROR cinder.volume.manager   File "x.py", line 1, in do_setup
2026-11-23 15:38:04.200 123 ERROR cinder.volume.manager refflash_cinder.client.RefFlashError: \
login refused (401)
"""


class ReadBackendsTest(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.etc = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.etc, True)
        self.conf = os.path.join(self.etc, "cinder.conf")
        self.conf_d = os.path.join(self.etc, "cinder.conf.d")
        os.mkdir(self.conf_d)
        with open(self.conf, "w") as f:
            f.write("[DEFAULT]\nhost = node1\n")

    def gold_copy(self, *enabled_flags):
        backends = [
            {
                "name": f"ztsp-a{i}",
                "enabled": on,
                "array": f"A{i}",
                "options": {"volume_driver": "x.Driver", "san_password": "pw"},
            }
            for i, on in enumerate(enabled_flags)
        ]
        with open(os.path.join(self.conf_d, "ztsp.conf"), "w") as f:
            f.write(goldcopy.render(backends))

    def test_enabled_and_uncabled_backends_from_the_gold_copy(self):
        self.gold_copy(True, False)
        enabled, sections = cinder_volume.read_backends(self.conf, self.conf_d)
        self.assertEqual(["ztsp-a0"], enabled)
        self.assertEqual({"ztsp-a0", "ztsp-a1"}, sections)

    def test_all_uncabled_means_no_backend_so_c_vol_is_stopped(self):
        self.gold_copy(False)
        enabled, sections = cinder_volume.read_backends(self.conf, self.conf_d)
        self.assertEqual([], enabled)
        self.assertEqual({"ztsp-a0"}, sections)

    def test_no_gold_copy_yet(self):
        self.assertEqual(([], set()), cinder_volume.read_backends(self.conf, self.conf_d))


class InitFailureTest(testtools.TestCase):
    def test_names_the_driver_exception(self):
        why = cinder_volume.init_failure(FAILED_LOG)
        self.assertIn("RefFlashError: login refused (401)", why)

    def test_a_clean_start_is_no_failure(self):
        ok = "2026-11-23 INFO cinder.volume.manager [-] " + cinder_volume.INIT_OK
        self.assertIsNone(cinder_volume.init_failure(ok))
