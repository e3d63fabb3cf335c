"""RefFlashFCDriver: the refflash array over Fibre Channel.

The array's FC side is an emulation (this kit's CI machines have no FC
transport): the driver does everything a real FC driver does (hosts by WWPN,
masking, target WWPNs, ``initiator_target_map`` for the zone manager), but
no data moves over FC, so FC jobs only mean something against a real array.
"""

from cinder import exception, interface
from cinder.zonemanager import utils as fczm_utils

from refflash_cinder import common


@interface.volumedriver
class RefFlashFCDriver(common.RefFlashBaseDriver):
    """refflash over FC (emulated on the reference array).

    Version history:
        1.0.0 - Initial driver
    """

    PROTOCOL = "FC"

    @staticmethod
    def _wwpns(connector):
        wwpns = (connector or {}).get("wwpns")
        if not wwpns:
            raise exception.InvalidConnectorException(missing="wwpns")
        return [w.replace(":", "").lower() for w in wwpns]

    def initialize_connection(self, volume, connector):
        host, lun = self._map(volume, connector, wwpns=self._wwpns(connector))
        conn = self._call(self.client.connection, host)["fc"]
        if not conn["target_wwns"]:
            raise exception.VolumeBackendAPIException(data="no FC target port is online")
        info = {
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
        fczm_utils.add_fc_zone(info)
        return info

    def terminate_connection(self, volume, connector, **kwargs):
        wwpns = self._wwpns(connector) if connector else None
        host_map = None
        if connector:
            host = self._call(self.client.find_host, wwpn=wwpns[0])
            if host:
                host_map = self._call(self.client.connection, host["name"])["fc"]
        emptied = self._unmap(volume, connector, wwpns=wwpns)
        info = {"driver_volume_type": "fibre_channel", "data": {}}
        if host_map and emptied:
            # the host has no volumes left: hand the zone manager its zones to remove
            info["data"] = {
                "target_wwn": host_map["target_wwns"],
                "initiator_target_map": host_map["initiator_target_map"],
            }
            fczm_utils.remove_fc_zone(info)
        return info
