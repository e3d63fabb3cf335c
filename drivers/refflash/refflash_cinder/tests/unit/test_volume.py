# Copyright 2026 The refflash CI kit authors.
#
#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""Volumes, snapshots, stats, setup, retype, manage: array call by call."""

from unittest import mock

from cinder.common import constants
from cinder import exception
from cinder.tests.unit import fake_constants
import ddt

import refflash_cinder
from refflash_cinder.client import ArrayAPIError
from refflash_cinder.client import ArrayUnreachable
from refflash_cinder.fc import RefFlashFCDriver
from refflash_cinder.tests.features import feature
from refflash_cinder.tests.unit import base

GIB = 1024**3
NOT_FOUND = ArrayAPIError(404, "volume.not_found", "gone")


@ddt.ddt
class VolumeTestCase(base.RefFlashTestCase):
    def setUp(self):
        super().setUp()
        self.client = base.mocked(self.driver)

    @feature("Array errors")
    def test_setup_logs_in_and_checks_the_pool(self):
        self.assertEqual(["login"], [c[0] for c in self.array.calls])
        self.assertEqual("http://127.0.0.1:8780", self.array.url)
        self.driver.check_for_setup_error()
        self.client.pool.assert_called_once_with("pool-a")
        self.client.pool.side_effect = ArrayAPIError(
            404, "pool.not_found", "no"
        )
        self.assertRaises(
            exception.InvalidConfigurationValue,
            self.driver.check_for_setup_error,
        )

    @ddt.data("san_ip", "san_login", "san_password")
    @feature("Array errors")
    def test_setup_needs_address_and_credentials(self, key):
        self.assertRaises(
            exception.InvalidConfigurationValue, self.make_driver, **{key: ""}
        )

    @feature("Array errors")
    def test_wrong_credentials_are_named_without_the_password(self):
        self.array.fail["login"] = ArrayAPIError(401, "auth.failed", "wrong")
        with self.assertRaises(exception.VolumeBackendAPIException) as ctx:
            self.make_driver(
                san_login="cinder", san_password="pw-that-must-not-show"
            )
        self.assertIn("cinder", str(ctx.exception))
        self.assertNotIn("pw-that-must-not-show", str(ctx.exception))

    @feature("TLS")
    def test_tls_verification_follows_the_cinder_options(self):
        def verify_of(driver_ssl_cert_verify=False, driver_ssl_cert_path=None):
            self.clients.clear()
            self.make_driver(
                refflash_api_scheme="https",
                driver_ssl_cert_verify=driver_ssl_cert_verify,
                driver_ssl_cert_path=driver_ssl_cert_path,
            )
            return self.clients[0].url, self.clients[0].kwargs["verify"]

        self.assertEqual(("https://127.0.0.1:8780", False), verify_of())
        self.assertEqual(
            (mock.ANY, True), verify_of(driver_ssl_cert_verify=True)
        )
        self.assertEqual(
            (mock.ANY, "/etc/refflash/ca.pem"),
            verify_of(
                driver_ssl_cert_verify=True,
                driver_ssl_cert_path="/etc/refflash/ca.pem",
            ),
        )
        # off means off, whatever the path says
        self.assertEqual(
            (mock.ANY, False), verify_of(driver_ssl_cert_path="/etc/x.pem")
        )

    @feature("Volume stats")
    def test_stats(self):
        self.client.pool.return_value = {
            "capacity_bytes": 100 * GIB,
            "free_bytes": 60 * GIB,
            "provisioned_bytes": 250 * GIB,
        }
        stats = self.driver.get_volume_stats(refresh=True)
        self.assertEqual(constants.ISCSI, stats["storage_protocol"])
        self.assertEqual(refflash_cinder.__version__, stats["driver_version"])
        self.assertEqual("RefFlash", stats["vendor_name"])
        self.assertEqual(base.BACKEND, stats["volume_backend_name"])
        pool = stats["pools"][0]
        self.assertEqual(
            (100.0, 60.0, 250.0),
            (
                pool["total_capacity_gb"],
                pool["free_capacity_gb"],
                pool["provisioned_capacity_gb"],
            ),
        )
        self.assertTrue(pool["thin_provisioning_support"])
        self.assertFalse(pool["thick_provisioning_support"])
        self.assertTrue(pool["multiattach"])
        self.assertFalse(pool["replication_enabled"])
        self.client.pool.reset_mock()
        self.assertIs(stats, self.driver.get_volume_stats())  # cached
        self.client.pool.assert_not_called()

    @feature("Volume stats")
    def test_fc_driver_reports_fc(self):
        self.driver_class = RefFlashFCDriver
        driver = self.make_driver()
        client = base.mocked(driver)
        client.pool.return_value = {
            "capacity_bytes": GIB,
            "free_bytes": GIB,
            "provisioned_bytes": 0,
        }
        self.assertEqual(
            constants.FC, driver.get_volume_stats(True)["storage_protocol"]
        )

    @feature("Create / delete / extend volume", "QoS")
    def test_create_volume_with_qos_from_extra_specs(self):
        vol = self.volume(
            size=3, extra_specs={"refflash:max_iops": "500", "other:key": "x"}
        )
        self.assertIsNone(self.driver.create_volume(vol))
        self.client.create_volume.assert_called_once_with(
            vol.name, size_gb=3, pool="pool-a", qos={"max_iops": 500}
        )

    @mock.patch("cinder.volume.volume_types.get_volume_type_qos_specs")
    @feature("QoS")
    def test_qos_from_back_end_qos_specs(self, get_qos):
        get_qos.return_value = {
            "qos_specs": {
                "consumer": "back-end",
                "specs": {"maxMBps": "80", "other": "1"},
            }
        }
        vol = self.volume(qos_specs_id=fake_constants.QOS_SPEC_ID)
        self.driver.create_volume(vol)
        self.assertEqual(
            {"max_mbps": 80}, self.client.create_volume.call_args.kwargs["qos"]
        )
        get_qos.return_value["qos_specs"]["consumer"] = "front-end"
        self.assertEqual({}, self.driver._qos(vol))

    @feature("QoS")
    def test_qos_must_be_integers(self):
        vol = self.volume(extra_specs={"refflash:max_iops": "lots"})
        self.assertRaises(
            exception.InvalidVolumeType, self.driver.create_volume, vol
        )
        self.client.create_volume.assert_not_called()

    @feature("Array errors")
    def test_create_errors_become_cinder_errors(self):
        vol = self.volume()
        for error, message in (
            (ArrayAPIError(507, "pool.out_of_space", "full"), "out of space"),
            (ArrayAPIError(503, "array.busy", "busy"), "array.busy"),
            (ArrayUnreachable("no answer"), "no answer"),
        ):
            self.client.create_volume.side_effect = error
            with self.assertRaises(exception.VolumeBackendAPIException) as ctx:
                self.driver.create_volume(vol)
            self.assertIn(message, str(ctx.exception))

    @feature("Replication")
    def test_replicated_volume_without_target_is_refused_and_undone(self):
        vol = self.volume(extra_specs={"replication_enabled": "<is> True"})
        self.assertRaises(
            exception.InvalidVolumeType, self.driver.create_volume, vol
        )
        self.client.delete_volume.assert_called_once_with(vol.name)

    @feature("Snapshots, volume from snapshot, clone")
    def test_volume_from_snapshot_and_clone(self):
        vol, src = self.volume(size=2), self.volume()
        snap = self.snapshot(src)
        self.driver.create_volume_from_snapshot(vol, snap)
        self.client.create_volume.assert_called_with(
            vol.name,
            size_gb=2,
            pool="pool-a",
            qos={},
            source_snapshot=snap.name,
        )
        self.driver.create_cloned_volume(vol, src)
        self.client.create_volume.assert_called_with(
            vol.name, size_gb=2, pool="pool-a", qos={}, source_volume=src.name
        )
        self.client.create_volume.side_effect = ArrayAPIError(
            404, "snapshot.not_found", ""
        )
        self.assertRaises(
            exception.SnapshotNotFound,
            self.driver.create_volume_from_snapshot,
            vol,
            snap,
        )
        self.assertRaises(
            exception.VolumeNotFound,
            self.driver.create_cloned_volume,
            vol,
            src,
        )

    @feature("Create / delete / extend volume")
    def test_delete_volume(self):
        vol = self.volume()
        self.driver.delete_volume(vol)
        self.client.delete_volume.assert_called_once_with(vol.name)
        self.client.delete_volume.side_effect = NOT_FOUND
        self.driver.delete_volume(vol)  # already gone: fine, as Cinder expects

    @feature("Create / delete / extend volume", "Array errors")
    def test_delete_busy_volume_says_why(self):
        vol = self.volume()
        self.client.delete_volume.side_effect = ArrayAPIError(
            409, "volume.has_snapshots", ""
        )
        with self.assertRaises(exception.VolumeIsBusy) as ctx:
            self.driver.delete_volume(vol)
        self.assertIn("has snapshot", str(ctx.exception))
        self.client.delete_volume.side_effect = ArrayAPIError(
            409, "volume.mapped", ""
        )
        with self.assertRaises(exception.VolumeIsBusy) as ctx:
            self.driver.delete_volume(vol)
        self.assertIn("mapped", str(ctx.exception))
        self.assertNotIn("snapshot", str(ctx.exception))
        for error in (
            ArrayAPIError(500, "array.internal_error", "x"),
            ArrayUnreachable("x"),
        ):
            self.client.delete_volume.side_effect = error
            self.assertRaises(
                exception.VolumeBackendAPIException,
                self.driver.delete_volume,
                vol,
            )

    @feature("Create / delete / extend volume")
    def test_extend(self):
        vol = self.volume()
        self.driver.extend_volume(vol, 5)
        self.client.update_volume.assert_called_once_with(vol.name, size_gb=5)
        self.client.update_volume.side_effect = NOT_FOUND
        self.assertRaises(
            exception.VolumeNotFound, self.driver.extend_volume, vol, 6
        )
        self.client.update_volume.side_effect = ArrayUnreachable("ReadTimeout")
        with self.assertRaises(exception.ExtendVolumeError) as ctx:
            self.driver.extend_volume(vol, 6)
        self.assertIn("ReadTimeout", str(ctx.exception))

    @feature("Snapshots, volume from snapshot, clone", "Revert to snapshot")
    def test_snapshots_and_revert(self):
        vol = self.volume()
        snap = self.snapshot(vol)
        self.driver.create_snapshot(snap)
        self.client.create_snapshot.assert_called_once_with(
            snap.name, vol.name
        )
        self.driver.revert_to_snapshot(self.ctx, vol, snap)
        self.client.revert_volume.assert_called_once_with(vol.name, snap.name)
        self.driver.delete_snapshot(snap)
        self.client.delete_snapshot.side_effect = ArrayAPIError(
            404, "snapshot.not_found", ""
        )
        self.driver.delete_snapshot(snap)  # idempotent
        for error in (ArrayAPIError(500, "x", "x"), ArrayUnreachable("x")):
            self.client.delete_snapshot.side_effect = error
            self.assertRaises(
                exception.VolumeBackendAPIException,
                self.driver.delete_snapshot,
                snap,
            )
        self.client.create_snapshot.side_effect = NOT_FOUND
        self.assertRaises(
            exception.VolumeNotFound, self.driver.create_snapshot, snap
        )

    @feature("Migration")
    def test_update_migrated_volume_takes_the_original_name(self):
        vol, new = self.volume(), self.volume()
        self.assertEqual(
            {"_name_id": None},
            self.driver.update_migrated_volume(
                self.ctx, vol, new, "available"
            ),
        )
        self.client.update_volume.assert_called_once_with(
            new.name, name=vol.name
        )
        self.client.update_volume.side_effect = ArrayAPIError(
            409, "volume.exists", ""
        )
        self.assertEqual(
            {"_name_id": new.id},
            self.driver.update_migrated_volume(
                self.ctx, vol, new, "available"
            ),
        )

    def test_exports_are_no_ops(self):
        vol = self.volume()
        self.driver.create_export(self.ctx, vol, base.ISCSI_CONNECTOR)
        self.driver.ensure_export(self.ctx, vol)
        self.driver.remove_export(self.ctx, vol)
        self.assertEqual([], self.client.method_calls)


class RetypeTestCase(base.RefFlashTestCase):
    def setUp(self):
        super().setUp()
        self.client = base.mocked(self.driver)
        self.vol = self.volume()
        self.host = {"host": self.vol.host}

    @feature("Retype in place", "QoS")
    def test_qos_change_in_place(self):
        new = {
            "id": "t2",
            "extra_specs": {"refflash:max_mbps": "200"},
            "qos_specs_id": None,
        }
        diff = {
            "extra_specs": {"refflash:max_mbps": (None, "200")},
            "qos_specs": {},
        }
        self.assertEqual(
            (True, {}),
            self.driver.retype(self.ctx, self.vol, new, diff, self.host),
        )
        self.client.update_volume.assert_called_once_with(
            self.vol.name, qos={"max_mbps": 200}
        )

    @feature("Retype in place", "QoS")
    def test_unrelated_change_keeps_back_end_qos(self):
        # the type changes a spec this driver does not use: the QoS the array
        # holds (from back-end qos specs) must not be sent as {}
        new = {
            "id": "t2",
            "extra_specs": {"other:x": "1"},
            "qos_specs_id": "q1",
        }
        diff = {
            "extra_specs": {"other:x": (None, "1")},
            "qos_specs": {},
            "encryption": {},
        }
        self.assertEqual(
            (True, {}),
            self.driver.retype(self.ctx, self.vol, new, diff, self.host),
        )
        self.client.update_volume.assert_not_called()

    @mock.patch("cinder.volume.volume_types.get_volume_type_qos_specs")
    @feature("Retype in place", "QoS")
    def test_qos_specs_change_sends_the_new_type_qos(self, get_qos):
        get_qos.return_value = {
            "qos_specs": {"consumer": "both", "specs": {"maxIOPS": "900"}}
        }
        new = {"id": "t2", "extra_specs": {}, "qos_specs_id": "q2"}
        diff = {"extra_specs": {}, "qos_specs": {"maxIOPS": ("100", "900")}}
        self.driver.retype(self.ctx, self.vol, new, diff, self.host)
        self.client.update_volume.assert_called_once_with(
            self.vol.name, qos={"max_iops": 900}
        )
        get_qos.assert_called_once_with("t2")

    @feature("Retype in place")
    def test_thick_is_refused(self):
        for specs in (
            {"provisioning:type": "thick"},
            {"thick_provisioning_support": "<is> True"},
        ):
            new = {"id": "t2", "extra_specs": specs}
            diff = {"extra_specs": {k: (None, v) for k, v in specs.items()}}
            self.assertFalse(
                self.driver.retype(self.ctx, self.vol, new, diff, self.host)
            )
        self.client.update_volume.assert_not_called()

    @feature("Retype in place")
    def test_other_backend_or_encryption_needs_migration(self):
        new = {"id": "t2", "extra_specs": {}}
        self.assertFalse(
            self.driver.retype(
                self.ctx, self.vol, new, {}, {"host": "other@backend#pool"}
            )
        )
        self.assertFalse(
            self.driver.retype(
                self.ctx,
                self.vol,
                new,
                {"encryption": {"cipher": (None, "aes")}},
                self.host,
            )
        )

    @feature("Retype in place")
    def test_replication_on_needs_a_target(self):
        new = {"id": "t2", "extra_specs": {"replication_enabled": "<is> True"}}
        self.assertFalse(
            self.driver.retype(self.ctx, self.vol, new, {}, self.host)
        )


class ManageTestCase(base.RefFlashTestCase):
    def setUp(self):
        super().setUp()
        self.client = base.mocked(self.driver)

    @feature("Manage / unmanage")
    def test_manage_existing(self):
        vol = self.volume()
        self.client.volume.return_value = {
            "name": "legacy",
            "size_bytes": int(1.5 * GIB),
            "mappings": [],
        }
        ref = {"source-name": "legacy"}
        self.assertEqual(2, self.driver.manage_existing_get_size(vol, ref))
        self.driver.manage_existing(vol, ref)
        self.client.update_volume.assert_called_once_with(
            "legacy", name=vol.name, size_gb=2
        )
        self.client.volume.return_value["mappings"] = [{"host": "h"}]
        self.assertRaises(
            exception.ManageExistingInvalidReference,
            self.driver.manage_existing,
            vol,
            ref,
        )
        self.assertRaises(
            exception.ManageExistingInvalidReference,
            self.driver.manage_existing,
            vol,
            {},
        )
        self.client.volume.side_effect = NOT_FOUND
        self.assertRaises(
            exception.ManageExistingInvalidReference,
            self.driver.manage_existing_get_size,
            vol,
            ref,
        )
        for error in (ArrayAPIError(500, "x", "x"), ArrayUnreachable("x")):
            self.client.volume.side_effect = error
            self.assertRaises(
                exception.VolumeBackendAPIException,
                self.driver.manage_existing_get_size,
                vol,
                ref,
            )

    @feature("Manage / unmanage")
    def test_unmanage(self):
        vol = self.volume()
        self.driver.unmanage(vol)
        self.client.update_volume.assert_called_once_with(
            vol.name, name=f"unmanaged-{vol.name}"
        )

    @feature("Manage / unmanage")
    def test_manage_and_unmanage_snapshot(self):
        vol = self.volume()
        snap = self.snapshot(vol)
        ref = {"source-name": "old"}
        self.client.snapshot.return_value = {
            "name": "old",
            "volume": vol.name,
            "size_bytes": GIB,
        }
        self.assertEqual(
            1, self.driver.manage_existing_snapshot_get_size(snap, ref)
        )
        self.driver.manage_existing_snapshot(snap, ref)
        self.client.rename_snapshot.assert_called_once_with("old", snap.name)
        self.client.snapshot.return_value["volume"] = "another"
        self.assertRaises(
            exception.ManageExistingInvalidReference,
            self.driver.manage_existing_snapshot,
            snap,
            ref,
        )
        self.driver.unmanage_snapshot(snap)
        self.client.rename_snapshot.assert_called_with(
            snap.name, f"unmanaged-{snap.name}"
        )

    @feature("Manageable lists")
    def test_manageable_volumes(self):
        cinder_vol = self.volume()
        self.client.volumes.return_value = [
            {
                "name": "free",
                "size_bytes": GIB + 1,
                "mappings": [],
                "pool": "pool-a",
            },
            {
                "name": cinder_vol.name,
                "size_bytes": GIB,
                "mappings": [],
                "pool": "pool-a",
            },
            {
                "name": "busy",
                "size_bytes": GIB,
                "mappings": [{"host": "h"}],
                "pool": "pool-a",
            },
            {
                "name": "rep",
                "size_bytes": GIB,
                "mappings": [],
                "pool": "pool-a",
                "replication": {"role": "replica"},
            },
            {
                "name": "elsewhere",
                "size_bytes": GIB,
                "mappings": [],
                "pool": "pool-b",
            },
        ]
        out = self.driver.get_manageable_volumes(
            [cinder_vol], None, 10, 0, ["reference"], ["asc"]
        )
        by_name = {e["reference"]["source-name"]: e for e in out}
        self.assertEqual(5, len(out))
        self.assertEqual(
            (True, None, 2),
            (
                by_name["free"]["safe_to_manage"],
                by_name["free"]["reason_not_safe"],
                by_name["free"]["size"],
            ),
        )
        self.assertEqual(cinder_vol.id, by_name[cinder_vol.name]["cinder_id"])
        for name in (cinder_vol.name, "busy", "rep", "elsewhere"):
            self.assertFalse(by_name[name]["safe_to_manage"], name)
            self.assertIsNotNone(by_name[name]["reason_not_safe"], name)
        page = self.driver.get_manageable_volumes(
            [], None, 2, 1, ["reference"], ["asc"]
        )
        self.assertEqual(
            ["elsewhere", "free"],
            [e["reference"]["source-name"] for e in page],
        )

    @feature("Manageable lists")
    def test_manageable_snapshots(self):
        vol = self.volume()
        cinder_snap = self.snapshot(vol)
        self.client.snapshots.return_value = [
            {"name": "s-free", "size_bytes": GIB, "volume": vol.name},
            {"name": cinder_snap.name, "size_bytes": GIB, "volume": vol.name},
            {"name": "orphan", "size_bytes": GIB, "volume": None},
        ]
        out = self.driver.get_manageable_snapshots(
            [cinder_snap], None, 10, 0, ["reference"], ["asc"]
        )
        by_name = {e["reference"]["source-name"]: e for e in out}
        self.assertTrue(by_name["s-free"]["safe_to_manage"])
        self.assertEqual(
            {"source-name": vol.name}, by_name["s-free"]["source_reference"]
        )
        self.assertEqual(
            cinder_snap.id, by_name[cinder_snap.name]["cinder_id"]
        )
        self.assertFalse(by_name["orphan"]["safe_to_manage"])
