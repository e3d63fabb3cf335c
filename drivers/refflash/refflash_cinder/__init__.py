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

"""Cinder volume drivers for the refflash reference array (out of tree).

``volume_driver = refflash_cinder.iscsi.RefFlashISCSIDriver`` or
``refflash_cinder.fc.RefFlashFCDriver`` in a cinder.conf backend section.
"""

# The one place the version lives: pyproject.toml and the drivers' VERSION read
# it.
__version__ = "1.1.0"
