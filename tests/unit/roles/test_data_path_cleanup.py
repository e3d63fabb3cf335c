"""data_path_tests.py's cleanup after a failed attach, against a fake Cinder
that keeps Cinder's rules: a reserved or attached volume cannot be deleted,
an accepted delete marks the volume ``deleting`` before the API answers."""

import sys
import types
from unittest import mock

import testtools

from tests.unit.roles.role_files import load_data_path_module


class NotFound(Exception):
    pass


class BadRequest(Exception):
    pass


class FakeCinder:
    def __init__(self):
        self.volumes_by_id = {}
        self.attachments_by_id = {}
        self.calls = []
        self.volumes = types.SimpleNamespace(get=self._get, delete=self._delete)
        self.attachments = types.SimpleNamespace(list=self._list, delete=self._delete_attachment)

    def add_volume(self, volume_id, status="available", gets_until_gone=2):
        """The delete is done by the ``gets_until_gone``-th get after it."""
        self.volumes_by_id[volume_id] = {"status": status, "gets_left": gets_until_gone}

    def reserve(self, volume_id, attachment_id):
        """What an attachment create whose initialize_connection failed leaves."""
        self.attachments_by_id[attachment_id] = volume_id
        self.volumes_by_id[volume_id]["status"] = "reserved"

    def _get(self, volume_id):
        self.calls.append(("get", volume_id))
        vol = self.volumes_by_id.get(volume_id)
        if vol is None:
            raise NotFound(volume_id)
        if vol["status"] == "deleting":
            vol["gets_left"] -= 1
            if vol["gets_left"] <= 0:  # the volume manager finished the delete
                del self.volumes_by_id[volume_id]
                raise NotFound(volume_id)
        return types.SimpleNamespace(id=volume_id, status=vol["status"])

    def _delete(self, volume_id):
        self.calls.append(("delete", volume_id))
        vol = self.volumes_by_id[volume_id]
        if vol["status"] not in ("available", "error"):
            raise BadRequest(f"Invalid volume: Volume status must be available or error, "
                             f"but current status is: {vol['status']}")  # fmt: skip
        vol["status"] = "deleting"

    def _list(self, search_opts):
        self.calls.append(("list", search_opts["volume_id"]))
        return [types.SimpleNamespace(id=a) for a, v in self.attachments_by_id.items()
                if v == search_opts["volume_id"]]  # fmt: skip

    def _delete_attachment(self, attachment_id):
        self.calls.append(("delete_attachment", attachment_id))
        volume_id = self.attachments_by_id.pop(attachment_id)
        if volume_id not in self.attachments_by_id.values():
            self.volumes_by_id[volume_id]["status"] = "available"


class CleanupTest(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.tests = load_data_path_module("data_path_tests")
        exceptions = types.ModuleType("cinderclient.exceptions")
        exceptions.NotFound = NotFound
        package = types.ModuleType("cinderclient")
        package.exceptions = exceptions
        patcher = mock.patch.dict(
            sys.modules, {"cinderclient": package, "cinderclient.exceptions": exceptions}
        )
        patcher.start()
        self.addCleanup(patcher.stop)
        self.sleeps = []
        self.patch(self.tests.time, "sleep", self.sleeps.append)
        self.cinder = FakeCinder()
        self.data_path = object.__new__(self.tests.DataPath)
        self.data_path.cinder = self.cinder

    def test_a_reserved_volume_loses_its_attachment_then_goes(self):
        # initialize_connection failed inside the attachment create: the test
        # got no attachment id, the volume stays reserved
        self.cinder.add_volume("v1")
        self.cinder.reserve("v1", "a1")
        self.data_path.remove_volume("v1")
        self.assertEqual(
            [("list", "v1"), ("delete_attachment", "a1"), ("delete", "v1")], self.cinder.calls
        )
        self.data_path.wait_deleted("v1")
        self.assertNotIn("v1", self.cinder.volumes_by_id)

    def test_a_refused_delete_is_said_at_once_not_after_the_timeout(self):
        self.cinder.add_volume("v2", status="in-use")
        self.assertRaises(BadRequest, self.cinder.volumes.delete, "v2")
        error = self.assertRaises(AssertionError, self.data_path.wait_deleted, "v2", 120)
        self.assertEqual("volume v2 is in-use, not being deleted", str(error))
        self.assertEqual([], self.sleeps)

    def test_a_volume_being_deleted_is_waited_for(self):
        self.cinder.add_volume("v3", gets_until_gone=4)
        self.data_path.remove_volume("v3")
        self.data_path.wait_deleted("v3")
        self.assertEqual(3, len(self.sleeps))
        self.assertNotIn("v3", self.cinder.volumes_by_id)
