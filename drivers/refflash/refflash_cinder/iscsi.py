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

"""RefFlashISCSIDriver: the refflash array over (real) iSCSI, via tgtd."""

from cinder.common import constants
from cinder import exception
from cinder.i18n import _
from cinder import interface
from oslo_log import log as logging

from refflash_cinder import common

LOG = logging.getLogger(__name__)


@interface.volumedriver
class RefFlashISCSIDriver(common.RefFlashBaseDriver):
    """refflash over iSCSI: a target and CHAP per host, portal per controller.

    Version history:

    .. code-block:: none

        1.0.0 - Initial driver
        1.1.0 - Multiattach on one host, per-initiator locks, undo of failed
                attaches, replicated snapshots and deletes, manageable lists
    """

    PROTOCOL = constants.ISCSI

    def _host_args(self, connector):
        iqn = (connector or {}).get("initiator")
        if not iqn:
            LOG.error(
                "refflash: the connector has no iSCSI initiator: %s",
                sorted(connector or {}),
            )
            raise exception.InvalidConnectorException(missing="initiator")
        if not isinstance(iqn, str) or not common.IQN_RE.match(iqn):
            raise exception.InvalidConnectorException(
                missing="a valid initiator (iqn./eui.)"
            )
        return {"iqns": [iqn]}

    def validate_connector(self, connector):
        self._host_args(connector)

    def initialize_connection(self, volume, connector, initiator_data=None):
        chap = bool(self.configuration.use_chap_auth)

        def build_info(host, lun):
            conn = self._call(self.client.connection, host)["iscsi"]
            portals = conn["portals"]
            if not portals:
                raise exception.VolumeBackendAPIException(
                    data=_("no iSCSI portal of the array is online")
                )
            data = {
                "target_discovered": False,
                "target_iqn": conn["target_iqn"],
                "target_portal": portals[0],
                "target_lun": lun,
                # every online controller's portal, for os-brick's multipath
                "target_iqns": [conn["target_iqn"]] * len(portals),
                "target_portals": portals,
                "target_luns": [lun] * len(portals),
                "volume_id": volume.id,
                "discard": True,
            }
            if chap and conn.get("chap"):
                if conn["chap"]["secret"] == "***":
                    # masked: the array gives CHAP secrets to admins only
                    raise exception.VolumeBackendAPIException(
                        data=_(
                            "the array account %s may not read CHAP "
                            "secrets; it needs the admin role"
                        )
                        % self.configuration.san_login
                    )
                data.update(
                    auth_method="CHAP",
                    auth_username=conn["chap"]["username"],
                    auth_password=conn["chap"]["secret"],
                )
            return {"driver_volume_type": "iscsi", "data": data}

        return self._connect(
            volume,
            connector,
            build_info,
            chap=chap,
            **self._host_args(connector),
        )

    def terminate_connection(self, volume, connector, **kwargs):
        """Unmap, unless another attachment on the host still uses the volume.

        Returns True when the mapping stays shared (Cinder then keeps the
        export).
        """
        _emptied, shared = self._disconnect(volume, connector)
        return shared
