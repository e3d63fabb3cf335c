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

"""Connections: multiattach, locks, undoing failed attaches, FC zones."""

import threading
from unittest import mock

from cinder import coordination
from cinder import exception

from refflash_cinder.client import ArrayAPIError
from refflash_cinder.fc import RefFlashFCDriver
from refflash_cinder.tests.features import feature
from refflash_cinder.tests.unit import base

CONNECTOR = base.ISCSI_CONNECTOR


class ISCSIConnectionTestCase(base.RefFlashTestCase):
    @feature("iSCSI attach")
    def test_initialize_creates_host_with_chap_and_maps(self):
        vol = self.array_volume()
        info = self.driver.initialize_connection(vol, CONNECTOR)
        (host,) = self.array.hosts.values()
        self.assertEqual([CONNECTOR["initiator"]], host["iqns"])
        data = info["data"]
        self.assertEqual("iscsi", info["driver_volume_type"])
        self.assertEqual(1, data["target_lun"])
        self.assertEqual(self.array.portals, data["target_portals"])
        self.assertEqual("CHAP", data["auth_method"])
        self.assertEqual(host["chap"]["secret"], data["auth_password"])
        self.assertEqual(16, len(data["auth_password"]))

    @feature("iSCSI attach", "Failed attach undone")
    def test_masked_chap_secret_is_refused_not_passed_on(self):
        vol = self.array_volume()
        real = self.array.connection

        def masked(host):
            conn = real(host)
            conn["iscsi"]["chap"] = dict(conn["iscsi"]["chap"], secret="***")
            return conn

        self.array.connection = masked
        with self.assertRaises(exception.VolumeBackendAPIException) as ctx:
            self.driver.initialize_connection(vol, CONNECTOR)
        self.assertIn("admin role", str(ctx.exception))
        self.assertEqual(({}, []), (self.array.hosts, self.array.maps))

    @feature("Multiattach on one host")
    def test_multiattach_detach_of_one_keeps_the_mapping_of_the_other(self):
        vol = self.array_volume()
        self.driver.initialize_connection(vol, CONNECTOR)
        self.driver.initialize_connection(
            vol, CONNECTOR
        )  # second instance, same compute
        self.assertEqual(1, len(self.array.maps))
        vol.volume_attachment = self.volume(
            attachments=self.attachments(vol.id, "compute-1", "compute-1")
        ).volume_attachment
        shared = self.driver.terminate_connection(vol, CONNECTOR)
        self.assertTrue(shared)
        self.assertEqual([vol.name], [m["volume"] for m in self.array.maps])
        self.assertEqual(1, len(self.array.hosts))
        # the last attachment on that host goes: mapping and host go
        vol.volume_attachment = self.volume(
            attachments=self.attachments(vol.id, "compute-1", "compute-2")
        ).volume_attachment
        self.assertFalse(self.driver.terminate_connection(vol, CONNECTOR))
        self.assertEqual([], self.array.maps)
        self.assertEqual({}, self.array.hosts)

    @feature("Multiattach on one host")
    def test_detaching_attachments_do_not_count(self):
        vol = self.array_volume()
        self.driver.initialize_connection(vol, CONNECTOR)
        atts = self.attachments(vol.id, "compute-1", "compute-1")
        atts[1]["attach_status"] = "detached"
        vol.volume_attachment = self.volume(attachments=atts).volume_attachment
        self.assertFalse(self.driver.terminate_connection(vol, CONNECTOR))
        self.assertEqual([], self.array.maps)

    @feature("iSCSI attach")
    def test_host_with_other_volumes_stays(self):
        vol, other = self.array_volume(), self.array_volume()
        self.driver.initialize_connection(vol, CONNECTOR)
        info = self.driver.initialize_connection(other, CONNECTOR)
        self.assertEqual(2, info["data"]["target_lun"])
        self.driver.terminate_connection(vol, CONNECTOR)
        self.assertEqual([other.name], [m["volume"] for m in self.array.maps])
        self.assertEqual(1, len(self.array.hosts))

    @feature("Failed attach undone")
    def test_failed_attach_without_portals_leaves_no_host_or_mapping(self):
        vol = self.array_volume()
        self.array.portals = []  # both controllers offline
        self.assertRaises(
            exception.VolumeBackendAPIException,
            self.driver.initialize_connection,
            vol,
            CONNECTOR,
        )
        self.assertEqual([], self.array.maps)
        self.assertEqual({}, self.array.hosts)

    @feature("Failed attach undone", "Multiattach on one host")
    def test_failed_attach_keeps_what_others_use(self):
        vol, other = self.array_volume(), self.array_volume()
        self.driver.initialize_connection(
            other, CONNECTOR
        )  # host exists, other mapped
        self.driver.initialize_connection(
            vol, CONNECTOR
        )  # first attachment of vol
        self.array.portals = []
        # a second attachment of vol on the same host fails: vol's mapping
        # stays for
        # the first, the host stays for both
        self.assertRaises(
            exception.VolumeBackendAPIException,
            self.driver.initialize_connection,
            vol,
            CONNECTOR,
        )
        self.assertEqual(
            {vol.name, other.name}, {m["volume"] for m in self.array.maps}
        )
        # a failing first attachment of a third volume is undone, the host
        # stays
        third = self.array_volume()
        self.assertRaises(
            exception.VolumeBackendAPIException,
            self.driver.initialize_connection,
            third,
            CONNECTOR,
        )
        self.assertNotIn(third.name, {m["volume"] for m in self.array.maps})
        self.assertEqual(1, len(self.array.hosts))

    @feature("Failed attach undone")
    def test_failed_mapping_removes_new_host(self):
        vol = self.array_volume()
        self.array.fail["map"] = ArrayAPIError(
            500, "array.internal_error", "boom"
        )
        self.assertRaises(
            exception.VolumeBackendAPIException,
            self.driver.initialize_connection,
            vol,
            CONNECTOR,
        )
        self.assertEqual({}, self.array.hosts)

    @feature("Array errors")
    def test_map_of_missing_volume_is_volume_not_found(self):
        vol = self.volume()
        self.assertRaises(
            exception.VolumeNotFound,
            self.driver.initialize_connection,
            vol,
            CONNECTOR,
        )
        self.assertEqual({}, self.array.hosts)

    @feature("Concurrent attaches")
    def test_host_created_elsewhere_meanwhile_is_used(self):
        # another cinder-volume (outside our lock) won the race to create the
        # host
        vol = self.array_volume()
        real_find = self.array.find_host
        answers = iter([None])

        def find_host(**kw):
            return next(answers, None) or real_find(**kw)

        self.array.find_host = find_host
        self.array.create_host("elsewhere", iqns=[CONNECTOR["initiator"]])
        self.driver.initialize_connection(vol, CONNECTOR)
        self.assertEqual(["elsewhere"], list(self.array.hosts))
        self.assertEqual("elsewhere", self.array.maps[0]["host"])

    @feature("Force detach")
    def test_force_detach_unmaps_every_host(self):
        vol = self.array_volume()
        self.driver.initialize_connection(vol, CONNECTOR)
        self.driver.initialize_connection(
            vol,
            {
                "host": "compute-3",
                "initiator": "iqn.1994-05.com.example:compute-3",
            },
        )
        self.assertEqual(2, len(self.array.maps))
        self.driver.terminate_connection(vol, None, force=True)
        self.assertEqual([], self.array.maps)
        self.assertEqual({}, self.array.hosts)

    @feature("iSCSI attach")
    def test_terminate_for_unknown_host_is_a_no_op(self):
        vol = self.array_volume()
        self.assertFalse(self.driver.terminate_connection(vol, CONNECTOR))
        self.assertNotIn("unmap", [c[0] for c in self.array.calls])

    @feature("validate_connector")
    def test_validate_connector(self):
        self.driver.validate_connector(CONNECTOR)
        for bad in (
            {"host": "h"},
            {"host": "h", "initiator": ""},
            {"host": "h", "initiator": "not an iqn"},
        ):
            self.assertRaises(
                exception.InvalidConnectorException,
                self.driver.validate_connector,
                bad,
            )


class LockTestCase(base.RefFlashTestCase):
    """Real coordination locks (cinder's file backend), several threads."""

    MOCK_TOOZ = False

    @feature("Concurrent attaches")
    def test_parallel_first_attaches_from_a_new_host_all_succeed(self):
        vols = [self.array_volume() for _ in range(4)]
        self.array.delay = 0.02  # every array call takes a while: races show
        results, errors = {}, []

        def attach(vol):
            try:
                results[vol.name] = self.driver.initialize_connection(
                    vol, CONNECTOR
                )
            # noqa: BLE001 - the test reports every failure
            except Exception as exc:
                errors.append(exc)

        threads = [threading.Thread(target=attach, args=(v,)) for v in vols]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual([], errors)
        self.assertEqual(1, len(self.array.hosts))
        luns = sorted(r["data"]["target_lun"] for r in results.values())
        self.assertEqual([1, 2, 3, 4], luns)

    @feature("Concurrent attaches")
    def test_parallel_detach_and_attach_keep_the_new_mapping(self):
        old, new = self.array_volume(), self.array_volume()
        self.driver.initialize_connection(old, CONNECTOR)
        self.array.delay = 0.02
        errors = []

        def run(func, *args):
            try:
                func(*args)
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [
            threading.Thread(
                target=run,
                args=(self.driver.terminate_connection, old, CONNECTOR),
            ),
            threading.Thread(
                target=run,
                args=(self.driver.initialize_connection, new, CONNECTOR),
            ),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual([], errors)
        self.assertEqual([new.name], [m["volume"] for m in self.array.maps])
        self.assertEqual(1, len(self.array.hosts))

    @feature("Concurrent attaches")
    def test_lock_is_per_initiator(self):
        coordinator = coordination.COORDINATOR
        with mock.patch.object(
            coordinator, "get_lock", wraps=coordinator.get_lock
        ) as get_lock:
            vol = self.array_volume()
            self.driver.initialize_connection(vol, CONNECTOR)
            self.driver.terminate_connection(vol, CONNECTOR)
        names = {c.args[0] for c in get_lock.call_args_list}
        self.assertEqual(
            {f"refflash-initiator-{CONNECTOR['initiator']}"}, names
        )


class FCConnectionTestCase(base.RefFlashTestCase):
    driver_class = RefFlashFCDriver
    connector = base.FC_CONNECTOR

    @feature("FC attach and zoning")
    def test_initialize_gives_zones_and_terminate_removes_them(self):
        vol = self.array_volume()
        with mock.patch("cinder.zonemanager.utils.add_fc_zone") as add_zone:
            info = self.driver.initialize_connection(vol, self.connector)
        add_zone.assert_called_once_with(info)
        itmap = info["data"]["initiator_target_map"]
        self.assertEqual({"10000090fa0b1c2d", "10000090fa0b1c2e"}, set(itmap))
        with mock.patch(
            "cinder.zonemanager.utils.remove_fc_zone"
        ) as remove_zone:
            out = self.driver.terminate_connection(vol, self.connector)
        self.assertEqual(itmap, out["data"]["initiator_target_map"])
        remove_zone.assert_called_once_with(out)

    @feature("FC attach and zoning")
    def test_zones_stay_while_the_host_has_volumes(self):
        vol, other = self.array_volume(), self.array_volume()
        self.driver.initialize_connection(vol, self.connector)
        self.driver.initialize_connection(other, self.connector)
        out = self.driver.terminate_connection(vol, self.connector)
        self.assertEqual({}, out["data"])

    @feature("Force detach", "FC attach and zoning")
    def test_force_detach_returns_the_zones_to_remove(self):
        vol = self.array_volume()
        info = self.driver.initialize_connection(vol, self.connector)
        with mock.patch(
            "cinder.zonemanager.utils.remove_fc_zone"
        ) as remove_zone:
            out = self.driver.terminate_connection(vol, None, force=True)
        self.assertEqual(
            info["data"]["initiator_target_map"],
            out["data"]["initiator_target_map"],
        )
        self.assertEqual(self.array.target_wwns, out["data"]["target_wwn"])
        remove_zone.assert_called_once_with(out)
        self.assertEqual({}, self.array.hosts)

    @feature("Failed attach undone")
    def test_no_online_target_port_undoes_the_attach(self):
        vol = self.array_volume()
        self.array.target_wwns = []
        self.assertRaises(
            exception.VolumeBackendAPIException,
            self.driver.initialize_connection,
            vol,
            self.connector,
        )
        self.assertEqual(({}, []), (self.array.hosts, self.array.maps))

    @feature("validate_connector")
    def test_validate_connector(self):
        self.driver.validate_connector(self.connector)
        for bad in (
            {"host": "h"},
            {"host": "h", "wwpns": []},
            {"host": "h", "wwpns": ["xyz"]},
            {"host": "h", "wwpns": "10000090fa0b1c2d"},
        ):
            self.assertRaises(
                exception.InvalidConnectorException,
                self.driver.validate_connector,
                bad,
            )
