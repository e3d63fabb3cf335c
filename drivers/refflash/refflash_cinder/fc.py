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

"""RefFlashFCDriver: the refflash array over Fibre Channel.

The driver does what a real FC driver does: hosts by WWPN, masking, target
WWPNs, ``initiator_target_map`` for the zone manager. On the reference
array the target ports speak the real FC protocol over Ethernet (FCoE VN2VN,
no HBA, no FC switch) when its data-plane VM runs, as in the sandbox with its
compute node; without it they are records and no data moves.
"""

import re

from cinder.common import constants
from cinder import exception
from cinder.i18n import _
from cinder import interface
from cinder.zonemanager import utils as fczm_utils
from oslo_log import log as logging

from refflash_cinder import common

LOG = logging.getLogger(__name__)
WWPN_RE = re.compile(r"^[0-9a-f]{16}$")


@interface.volumedriver
class RefFlashFCDriver(common.RefFlashBaseDriver):
    """refflash over FC (FCoE VN2VN on the reference array's data-plane VM).

    Version history:

    .. code-block:: none

        1.0.0 - Initial driver
        1.1.0 - Multiattach on one host, per-initiator locks, undo of failed
                attaches, zones removed on force detach, replicated snapshots
    """

    PROTOCOL = constants.FC

    def _host_args(self, connector):
        wwpns = (connector or {}).get("wwpns")
        if not wwpns or not isinstance(wwpns, (list, tuple)):
            LOG.error(
                "refflash: the connector has no FC WWPNs; is the HBA "
                "online? %s",
                sorted(connector or {}),
            )
            raise exception.InvalidConnectorException(missing="wwpns")
        out = []
        for wwpn in wwpns:
            value = (
                wwpn.replace(":", "").lower() if isinstance(wwpn, str) else ""
            )
            if not WWPN_RE.match(value):
                raise exception.InvalidConnectorException(
                    missing=f"a valid WWPN (got {wwpn!r})"
                )
            out.append(value)
        return {"wwpns": out}

    def validate_connector(self, connector):
        self._host_args(connector)

    def initialize_connection(self, volume, connector, initiator_data=None):
        def build_info(host, lun):
            conn = self._call(self.client.connection, host)["fc"]
            if not conn["target_wwns"]:
                raise exception.VolumeBackendAPIException(
                    data=_("no FC target port is online")
                )
            return {
                "driver_volume_type": "fibre_channel",
                "data": {
                    "target_discovered": True,
                    "target_lun": lun,
                    "target_wwn": conn["target_wwns"],
                    "initiator_target_map": conn["initiator_target_map"],
                    "volume_id": volume.id,
                    "discard": True,
                },
            }

        info = self._connect(
            volume, connector, build_info, **self._host_args(connector)
        )
        fczm_utils.add_fc_zone(info)
        return info

    def terminate_connection(self, volume, connector, **kwargs):
        """Unmap; hand the zones of hosts left empty to the zone manager.

        On a force detach (no connector) that is every host the volume was
        mapped to, so their zones go too.
        """
        zones = {}

        def read_zones(host):
            fc = self._call(self.client.connection, host).get("fc")
            if fc:
                zones[host] = fc

        emptied, _shared = self._disconnect(
            volume, connector, before_unmap=read_zones
        )
        info = {"driver_volume_type": "fibre_channel", "data": {}}
        targets, itmap = [], {}
        for host in emptied:
            fc = zones.get(host)
            if not fc:
                continue
            targets += [t for t in fc["target_wwns"] if t not in targets]
            for initiator, ports in fc["initiator_target_map"].items():
                itmap.setdefault(initiator, [])
                itmap[initiator] += [
                    p for p in ports if p not in itmap[initiator]
                ]
        if itmap:
            info["data"] = {
                "target_wwn": targets,
                "initiator_target_map": itmap,
            }
            fczm_utils.remove_fc_zone(info)
        return info
