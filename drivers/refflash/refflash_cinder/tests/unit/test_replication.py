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

"""Replication: setup, failover, failback, replicas follow their volume."""

from unittest import mock

from cinder import exception

from refflash_cinder import client
from refflash_cinder.client import ArrayAPIError
from refflash_cinder.client import ArrayUnreachable
from refflash_cinder.tests.features import feature
from refflash_cinder.tests.unit import base

REPLICATED = {"replication_enabled": "<is> True"}
DEVICE = {
    "backend_id": "dr-site",
    "san_ip": "127.0.0.1",
    "san_api_port": "8790",
    "san_login": "dr-admin",
    "san_password": "dr-pw",
}
GROUP = "cinder"


class ReplicationTestCase(base.RefFlashTestCase):
    config = {"replication_device": [DEVICE]}

    def _new_client(self, url, username, password, **kwargs):
        if url not in self.arrays:
            mock_client = mock.create_autospec(
                client.RefFlashClient, instance=True
            )
            mock_client.url, mock_client.username, mock_client._password = (
                url,
                username,
                password,
            )
            mock_client.replication_group.side_effect = ArrayAPIError(
                404, "group.not_found", ""
            )
            mock_client.volumes.return_value = []
            self.arrays[url] = mock_client
        self.clients.append(self.arrays[url])
        return self.arrays[url]

    def setUp(self):
        super().setUp()
        self.primary = self.arrays["http://127.0.0.1:8780"]
        self.target = self.arrays["http://127.0.0.1:8790"]

    @feature("Replication")
    def test_setup_pairs_both_arrays_and_creates_the_group(self):
        self.primary.set_peer.assert_called_once_with(
            "http://127.0.0.1:8790", "dr-admin", "dr-pw"
        )
        self.target.set_peer.assert_called_once_with(
            "http://127.0.0.1:8780", "admin", "secret-pw"
        )
        self.primary.create_replication_group.assert_called_once_with(
            GROUP, 60
        )
        self.assertIs(self.primary, self.driver.client)
        self.primary.pool.return_value = {
            "capacity_bytes": 1,
            "free_bytes": 1,
            "provisioned_bytes": 0,
        }
        pool = self.driver.get_volume_stats(True)["pools"][0]
        self.assertEqual(
            (True, ["dr-site"]),
            (pool["replication_enabled"], pool["replication_targets"]),
        )

    @feature("Replication")
    def test_setup_failure_is_a_driver_error(self):
        self.target.set_peer.side_effect = ArrayUnreachable("peer down")
        driver = self.driver_class(
            configuration=self.driver.configuration, host="n@b"
        )
        with self.assertRaises(exception.VolumeDriverException) as ctx:
            driver.do_setup(self.ctx)
        self.assertIn("dr-site", str(ctx.exception))

    @feature("Replication")
    def test_one_target_only_and_all_keys_needed(self):
        self.assertRaises(
            exception.InvalidConfigurationValue,
            self.make_driver,
            replication_device=[DEVICE, dict(DEVICE, backend_id="x")],
        )
        self.assertRaises(
            exception.InvalidConfigurationValue,
            self.make_driver,
            replication_device=[dict(DEVICE, san_login="")],
        )

    @feature("Replication")
    def test_replicated_volume_joins_the_group_or_is_undone(self):
        vol = self.volume(extra_specs=REPLICATED)
        self.assertEqual(
            {"replication_status": "enabled"}, self.driver.create_volume(vol)
        )
        self.primary.add_to_group.assert_called_once_with(GROUP, vol.name)
        self.primary.add_to_group.side_effect = ArrayAPIError(500, "x", "x")
        self.assertRaises(
            exception.VolumeBackendAPIException, self.driver.create_volume, vol
        )
        self.primary.delete_volume.assert_called_once_with(vol.name)

    @feature("Replication")
    def test_delete_removes_the_replica_on_the_target(self):
        vol = self.volume(extra_specs=REPLICATED)
        self.driver.delete_volume(vol)
        self.primary.delete_volume.assert_called_once_with(vol.name)
        self.target.delete_volume.assert_called_once_with(
            vol.name, cascade=True
        )
        # a replica that never got synced, or a target that is down: the volume
        # is still gone
        for error in (
            ArrayAPIError(404, "volume.not_found", ""),
            ArrayAPIError(500, "x", "x"),
            ArrayUnreachable("down"),
        ):
            self.target.delete_volume.side_effect = error
            self.driver.delete_volume(vol)
        plain = self.volume()
        self.target.delete_volume.reset_mock()
        self.driver.delete_volume(plain)
        self.target.delete_volume.assert_not_called()

    @feature("Replication")
    def test_failover_then_failback(self):
        rep, plain = self.volume(extra_specs=REPLICATED), self.volume()
        self.target.group_action.return_value = {"volumes": [rep.name]}
        target_id, updates, groups = self.driver.failover_host(
            self.ctx, [rep, plain], None
        )
        self.assertEqual(("dr-site", []), (target_id, groups))
        self.assertEqual(
            [
                {
                    "volume_id": rep.id,
                    "updates": {"replication_status": "failed-over"},
                },
                {"volume_id": plain.id, "updates": {"status": "error"}},
            ],
            updates,
        )
        self.primary.group_action.assert_called_once_with(GROUP, "sync")
        self.assertIs(self.target, self.driver.client)
        self.assertRaises(
            exception.InvalidReplicationTarget,
            self.driver.failover_host,
            self.ctx,
            [],
            "dr-site",
        )
        # while failed over: a replicated volume and a plain one are created on
        # the target
        new_rep, new_plain = self.volume(extra_specs=REPLICATED), self.volume()
        self.driver.create_volume(new_rep)
        self.target.add_to_group.assert_called_once_with(GROUP, new_rep.name)
        self.driver.delete_volume(self.volume(extra_specs=REPLICATED))
        self.primary.delete_volume.assert_called_once_with(
            mock.ANY, cascade=True
        )
        self.primary.group_action.return_value = {
            "volumes": [rep.name, new_rep.name]
        }
        self.primary.volumes.return_value = [
            {"name": rep.name},
            {"name": new_rep.name},
            {"name": plain.name},
        ]
        target_id, updates, _ = self.driver.failover_host(
            self.ctx, [rep, new_rep, new_plain, plain], "default"
        )
        self.assertEqual("default", target_id)
        self.assertEqual(
            {
                rep.id: {"replication_status": "enabled"},
                new_rep.id: {"replication_status": "enabled"},
                new_plain.id: {"status": "error"},
            },
            {u["volume_id"]: u["updates"] for u in updates},
        )
        self.assertEqual(
            [mock.call(GROUP, "demote"), mock.call(GROUP, "promote")],
            [c for c in self.primary.group_action.call_args_list[1:]],
        )
        self.assertIs(self.primary, self.driver.client)
        self.assertRaises(
            exception.InvalidReplicationTarget,
            self.driver.failover_host,
            self.ctx,
            [],
            "default",
        )

    @feature("Replication")
    def test_failover_survives_a_dead_primary_but_not_a_dead_target(self):
        self.primary.group_action.side_effect = ArrayUnreachable(
            "primary is dark"
        )
        self.target.group_action.return_value = {"volumes": []}
        self.assertEqual(
            "dr-site", self.driver.failover(self.ctx, [], "dr-site")[0]
        )
        self.driver.failover_completed(self.ctx, "dr-site")
        self.assertRaises(
            exception.UnableToFailOver,
            self.driver.failover_host,
            self.ctx,
            [],
            "default",
        )

    @feature("Replication")
    def test_failover_errors(self):
        self.target.group_action.side_effect = ArrayAPIError(409, "x", "x")
        self.assertRaises(
            exception.UnableToFailOver,
            self.driver.failover_host,
            self.ctx,
            [],
            "dr-site",
        )
        self.assertRaises(
            exception.InvalidReplicationTarget,
            self.driver.failover_host,
            self.ctx,
            [],
            "nowhere",
        )

    @feature("Replication")
    def test_starting_failed_over_uses_the_target(self):
        driver = self.driver_class(
            configuration=self.driver.configuration,
            host="n@b",
            active_backend_id="dr-site",
        )
        driver.do_setup(self.ctx)
        self.assertIs(self.target, driver.client)

    @feature("Replication", "Retype in place")
    def test_retype_turns_replication_on_and_off(self):
        vol, host = self.volume(), {"host": self.volume().host}
        new = {"id": "t", "extra_specs": REPLICATED}
        self.assertEqual(
            (True, {"replication_status": "enabled"}),
            self.driver.retype(self.ctx, vol, new, {}, host),
        )
        self.primary.add_to_group.assert_called_once_with(GROUP, vol.name)
        rep = self.volume(extra_specs=REPLICATED)
        self.assertEqual(
            (True, {"replication_status": "disabled"}),
            self.driver.retype(
                self.ctx, rep, {"id": "t", "extra_specs": {}}, {}, host
            ),
        )
        self.primary.remove_from_group.assert_called_once_with(GROUP, rep.name)


class NoReplicationTestCase(base.RefFlashTestCase):
    @feature("Replication")
    def test_failover_without_target(self):
        self.assertRaises(
            exception.InvalidReplicationTarget,
            self.driver.failover_host,
            self.ctx,
            [],
            None,
        )
