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

"""Shared set-up of the driver's unit tests: cinder's TestCase, a fake REST
client.

The driver is built as cinder-volume builds it (a Configuration for its
backend section), with RefFlashClient replaced by a FakeArrayClient (or a
mock), so each test checks which array calls the driver makes and what it
hands back to Cinder.
"""

from unittest import mock
import uuid

from cinder import context
from cinder import objects
from cinder.objects import fields
from cinder.tests.unit import fake_constants
from cinder.tests.unit import fake_snapshot
from cinder.tests.unit import fake_volume
from cinder.tests.unit import test
from cinder.volume import configuration
from cinder.volume import driver as base_driver
from cinder.volume.drivers.san import san

from refflash_cinder import client
from refflash_cinder import common
from refflash_cinder.iscsi import RefFlashISCSIDriver
from refflash_cinder.tests.unit import fake_array

BACKEND = "refflash-unit"
ISCSI_CONNECTOR = {
    "host": "compute-1",
    "initiator": "iqn.1994-05.com.example:compute-1",
}
FC_CONNECTOR = {
    "host": "compute-2",
    "wwpns": ["10000090FA0B1C2D", "10:00:00:90:fa:0b:1c:2e"],
    "wwnns": ["20000090fa0b1c2d"],
}


class RefFlashTestCase(test.TestCase):
    driver_class = RefFlashISCSIDriver
    config = {}

    def setUp(self):
        super().setUp()
        self.ctx = context.get_admin_context()
        self.array = fake_array.FakeArrayClient()
        self.clients = []
        self.arrays = {}
        self.mock_client_class = self.patch(
            "refflash_cinder.common.RefFlashClient",
            side_effect=self._new_client,
        )
        self.driver = self.make_driver(**self.config)

    def _new_client(self, url, username, password, **kwargs):
        # one fake array per address: the backend's, and a replication target's
        if url not in self.arrays:
            self.arrays[url] = (
                self.array
                if not self.arrays
                else fake_array.FakeArrayClient(url)
            )
        client = self.arrays[url]
        client.url, client.username, client._password = url, username, password
        client.kwargs = kwargs
        self.clients.append(client)
        return client

    def make_driver(self, **overrides):
        values = {
            "san_ip": "127.0.0.1",
            "san_api_port": 8780,
            "san_login": "admin",
            "san_password": "secret-pw",
            "volume_backend_name": BACKEND,
            "use_chap_auth": True,
            **overrides,
        }
        conf = configuration.Configuration(
            common.refflash_opts, config_group=BACKEND
        )
        conf.append_config_values(base_driver.volume_opts)
        conf.append_config_values(san.san_opts)
        for key, value in values.items():
            self.override_config(key, value, group=BACKEND)
        driver = self.driver_class(configuration=conf, host=f"node@{BACKEND}")
        driver.do_setup(self.ctx)
        return driver

    def volume(
        self,
        size=1,
        attachments=(),
        extra_specs=None,
        qos_specs_id=None,
        **updates,
    ):
        vol = fake_volume.fake_volume_obj(
            self.ctx,
            id=str(uuid.uuid4()),
            size=size,
            host=f"node@{BACKEND}#pool-a",
            **updates,
        )
        if extra_specs is not None or qos_specs_id:
            vtype = objects.VolumeType(
                self.ctx,
                id=str(uuid.uuid4()),
                name="t",
                extra_specs=extra_specs or {},
                qos_specs_id=qos_specs_id,
            )
            vol.volume_type_id, vol.volume_type = vtype.id, vtype
        vol.volume_attachment = objects.VolumeAttachmentList(
            objects=[
                objects.VolumeAttachment(self.ctx, **a) for a in attachments
            ]
        )
        return vol

    def attachments(self, volume_id, *hosts):
        return [
            {
                "id": str(uuid.uuid4()),
                "volume_id": volume_id,
                "attached_host": h,
                "attach_status": fields.VolumeAttachStatus.ATTACHED,
                "instance_uuid": fake_constants.INSTANCE_ID,
            }
            for h in hosts
        ]

    def array_volume(self, size=1, **updates):
        vol = self.volume(size, **updates)
        self.array.create_volume(vol.name, size_gb=size)
        return vol

    def snapshot(self, volume, **updates):
        snap = fake_snapshot.fake_snapshot_obj(
            self.ctx, id=str(uuid.uuid4()), volume_id=volume.id, **updates
        )
        snap.volume = volume
        return snap


def mocked(driver):
    """Swap the driver's client for a mock of RefFlashClient."""
    mock_client = mock.create_autospec(client.RefFlashClient, instance=True)
    mock_client.url = "http://127.0.0.1:8780"
    driver.client = driver._primary = mock_client
    return mock_client
