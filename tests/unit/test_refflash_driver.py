"""The refflash Cinder driver's unit tests, run in the py3 env with the kit's.

They live with the driver (drivers/refflash/refflash_cinder/tests/unit, so a
vendor who copies the driver keeps them) and use cinder's own test base
classes and fakes; tox's py3 env installs cinder and the driver. This module
only hands them to stestr.

Cinder's test package monkey-patches eventlet on import unless told not to;
the kit's unit tests share these worker processes, so the driver's tests run
under native threads (Cinder 29 supports both: OS_CINDER_DISABLE_EVENTLET_PATCHING).
"""

import importlib
import os
import pkgutil

os.environ.setdefault("OS_CINDER_DISABLE_EVENTLET_PATCHING", "1")

PACKAGE = "refflash_cinder.tests.unit"


def load_tests(loader, standard_tests, pattern):
    package = importlib.import_module(PACKAGE)
    for module in pkgutil.iter_modules(package.__path__):
        if module.name.startswith("test_"):
            standard_tests.addTests(
                loader.loadTestsFromModule(importlib.import_module(f"{PACKAGE}.{module.name}"))
            )
    return standard_tests
