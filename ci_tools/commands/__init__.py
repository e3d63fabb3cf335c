"""Subcommands of ``ci-tools``.

Every module in this package that defines ``add_subparser(subparsers)`` is a
subcommand: it registers its parser and sets ``func`` (``func(args) -> int``).
Modules are discovered rather than listed so that adding a subcommand touches
no shared file, and one that fails to import (the Cinder driver needs cinder,
the Gerrit emulator needs paramiko) is reported without breaking the rest.
"""

import importlib
import logging
import pkgutil

LOG = logging.getLogger(__name__)


def command_modules():
    """Yield the importable subcommand modules, in name order."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        name = f"{__name__}.{info.name}"
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            LOG.warning("subcommand %s unavailable: %s", info.name, exc)
            continue
        if hasattr(module, "add_subparser"):
            yield module
