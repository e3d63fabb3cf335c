"""Cinder volume drivers for the refflash reference array (out of tree).

``volume_driver = refflash_cinder.iscsi.RefFlashISCSIDriver`` or
``refflash_cinder.fc.RefFlashFCDriver`` in a cinder.conf backend section.
"""
