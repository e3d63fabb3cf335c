"""RefFlashISCSIDriver: the refflash array over iSCSI (real, through the array's tgtd)."""

from cinder import exception, interface
from cinder.i18n import _

from refflash_cinder import common


@interface.volumedriver
class RefFlashISCSIDriver(common.RefFlashBaseDriver):
    """refflash over iSCSI: one target per host, CHAP per host, a portal per controller.

    Version history:
        1.0.0 - Initial driver
    """

    PROTOCOL = "iSCSI"

    def _iqns(self, connector):
        iqn = (connector or {}).get("initiator")
        if not iqn:
            raise exception.InvalidConnectorException(missing="initiator")
        return [iqn]

    def initialize_connection(self, volume, connector):
        chap = bool(self.configuration.use_chap_auth)
        host, lun = self._map(volume, connector, iqns=self._iqns(connector), chap=chap)
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
            data.update(
                auth_method="CHAP",
                auth_username=conn["chap"]["username"],
                auth_password=conn["chap"]["secret"],
            )
        return {"driver_volume_type": "iscsi", "data": data}

    def terminate_connection(self, volume, connector, **kwargs):
        iqns = self._iqns(connector) if connector else None
        self._unmap(volume, connector, iqns=iqns)
