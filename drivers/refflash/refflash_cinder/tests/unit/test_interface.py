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

"""Every method of the Cinder interfaces the drivers claim, present and
callable alike.

Cinder's compliance test (cinder/tests/compliance) asks the interface classes
for their methods with ``inspect.ismethod``, which finds none on Python 3
(plain functions on a class are not bound methods), so it passes for any
class. This test reads the interfaces' functions itself and checks that each
driver has every one of them, as a method whose signature accepts the
interface's arguments the way the volume manager passes them.
"""

import inspect

from cinder.interface import base as interface_base
from cinder.interface import volume_driver
from cinder.interface import volume_manageable_driver
from cinder.interface import volume_snapshot_revert
from cinder.interface import volume_snapshotmanagement_driver
import ddt

from refflash_cinder.fc import RefFlashFCDriver
from refflash_cinder.iscsi import RefFlashISCSIDriver
from refflash_cinder.tests.features import feature
from refflash_cinder.tests.unit import base

# what the README's feature table says the drivers do (no groups, no CGs)
CLAIMED = (
    volume_driver.VolumeDriverCore,
    volume_snapshot_revert.VolumeSnapshotRevertDriver,
    volume_manageable_driver.VolumeManagementDriver,
    volume_manageable_driver.VolumeListManageableDriver,
    volume_snapshotmanagement_driver.VolumeSnapshotManagementDriver,
)
DRIVERS = (RefFlashISCSIDriver, RefFlashFCDriver)


def interface_methods(iface):
    """Public functions an interface declares, its bases' included."""
    methods = {}
    for cls in reversed(iface.__mro__):
        if issubclass(cls, interface_base.CinderInterface) and cls is not (
            interface_base.CinderInterface
        ):
            for name, func in vars(cls).items():
                if inspect.isfunction(func) and not name.startswith("_"):
                    methods[name] = func
    return methods


def incompatibility(iface_func, driver_func):
    """Why a call shaped by the interface would fail on the driver, or None."""
    want = inspect.signature(iface_func)
    have = inspect.signature(driver_func)
    params = list(want.parameters.values())
    required = [
        p
        for p in params
        if p.default is p.empty and p.kind is p.POSITIONAL_OR_KEYWORD
    ]
    optional = [p for p in params if p.default is not p.empty]
    try:
        have.bind(
            *[object()] * len(required)
        )  # the manager passes these positionally
        for p in optional:  # ... and these by name
            have.bind(*[object()] * len(required), **{p.name: object()})
    except TypeError as exc:
        return f"{want} vs {have}: {exc}"
    return None


@ddt.ddt
class InterfaceTestCase(base.RefFlashTestCase):
    def test_reflection_finds_methods(self):
        # guards this test against the blind spot of Cinder's own compliance
        # check
        self.assertGreater(
            len(interface_methods(volume_driver.VolumeDriverCore)), 15
        )
        self.assertEqual(
            {}, interface_base._get_method_info(volume_driver.VolumeDriverCore)
        )

    @ddt.data(*[(d, i) for d in DRIVERS for i in CLAIMED])
    @ddt.unpack
    @feature("Cinder interfaces")
    def test_claimed_interface_is_complete(self, driver, iface):
        problems = []
        for name, func in sorted(interface_methods(iface).items()):
            impl = inspect.getattr_static(driver, name, None)
            if impl is None:
                problems.append(f"{name}: missing")
            elif isinstance(impl, property):
                # Cinder's BaseVD makes initialized/supported properties; the
                # interface spells them as methods of self alone
                if len(inspect.signature(func).parameters) != 1:
                    problems.append(
                        f"{name}: a property, but the interface takes "
                        "arguments"
                    )
            elif not callable(impl):
                problems.append(f"{name}: not callable")
            else:
                why = incompatibility(func, getattr(driver, name))
                if why:
                    problems.append(f"{name}: {why}")
        self.assertEqual(
            [], problems, f"{driver.__name__} vs {iface.__name__}"
        )

    @feature("Cinder interfaces")
    def test_incompatible_signature_is_caught(self):
        class Broken:
            def initialize_connection(self, volume):
                pass

        iface = interface_methods(volume_driver.VolumeDriverCore)[
            "initialize_connection"
        ]
        self.assertIsNotNone(
            incompatibility(iface, Broken.initialize_connection)
        )
        self.assertIsNone(
            incompatibility(iface, RefFlashISCSIDriver.initialize_connection)
        )
