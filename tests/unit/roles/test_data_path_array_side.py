"""data_path_tests.py's array side: the node's pattern compared with the array's checksum.

Against the reference array's REST API in-process; the volume's backing file
gets the bytes tgtd would have written for the node.
"""

import hashlib
import types
import uuid

import testtools

from tests.unit.roles.role_files import ADMIN_PASSWORD, load_data_path_module, serve_reference_array


def load():
    return load_data_path_module("data_path_tests")


class ArraySideTest(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.tests = load()
        self.array, self.service, self.url = serve_reference_array(self)
        # a Cinder volume, named on the array as the driver names it
        self.volume = types.SimpleNamespace(id=str(uuid.uuid4()))
        self.array.create_volume({"name": f"volume-{self.volume.id}", "pool": "pool-a",
                                  "size_gb": 4 / 1024})  # fmt: skip
        # what the node wrote through the initiator, as tgtd stores it
        self.written = b"".join(self.tests.brick_volume._pattern(2, "data-path-rw"))
        vol = next(iter(self.array.state["volumes"].values()))
        with open(self.array.volume_path(vol), "r+b") as f:
            f.write(self.written)
        self.sha256 = hashlib.sha256(self.written).hexdigest()

    def data_path(self, with_array=True):
        """The tests' object with array access only (no Cinder, no os-brick)."""
        data_path = object.__new__(self.tests.DataPath)
        data_path.array = (self.tests.ArrayAdmin(self.url, "admin", ADMIN_PASSWORD)
                           if with_array else None)  # fmt: skip
        return data_path

    def test_equal_checksums_are_recorded_as_compared(self):
        details = {}
        self.data_path().compare_on_array(self.volume, 2, self.sha256, details)
        self.assertEqual("compared: the array's sha256 of the first 2 MiB is equal",
                         details["array_side"])  # fmt: skip

    def test_other_data_on_the_array_fails_naming_both_checksums(self):
        details = {}
        other = hashlib.sha256(b"not what was written").hexdigest()
        error = self.assertRaises(AssertionError, self.data_path().compare_on_array,
                                  self.volume, 2, other, details)  # fmt: skip
        self.assertIn("the array holds other data than the node wrote", str(error))
        self.assertIn(self.sha256, str(error))  # the array's
        self.assertIn(other, str(error))
        self.assertNotIn("array_side", details)

    def test_an_array_without_the_api_is_said_and_passes(self):
        # an array (or an older version) with no checksum API answers 404 api.not_found
        self.service.routes = [r for r in self.service.routes
                               if r.op != "admin.volume_checksum"]  # fmt: skip
        details = {}
        self.data_path().compare_on_array(self.volume, 2, self.sha256, details)
        self.assertEqual(
            "not compared: the array has no checksum API; the node's read-back checks stand",
            details["array_side"],
        )

    def test_no_array_access_is_said(self):
        details = {}
        self.data_path(with_array=False).compare_on_array(self.volume, 2, self.sha256, details)
        self.assertEqual("not compared: the node has no array access (DATA_PATH_ARRAY_URL)",
                         details["array_side"])  # fmt: skip

    def test_a_volume_the_array_does_not_have_is_an_error_not_a_skip(self):
        missing = types.SimpleNamespace(id=str(uuid.uuid4()))
        error = self.assertRaises(AssertionError, self.data_path().compare_on_array,
                                  missing, 2, self.sha256, {})  # fmt: skip
        self.assertIn("404", str(error))
        self.assertIn("volume.not_found", str(error))
