#!/usr/bin/env python3
"""Which kept databases must be re-created for the installed services.

A warm node keeps Keystone's and Glance's databases between runs, but a
database is only good for the release that migrated it: a master run moves
Keystone's schema to revisions that 2025.1's keystone-manage does not know
("Can't locate revision identified by ..."), and no OpenStack service
migrates down. So the version of each service that last migrated its
database is recorded on the node, and a database whose recorded version is
not the installed one (or has none) is dropped and migrated anew by this run.

``plan`` runs with the services' venv python, before the databases are
created: it prints ``{"installed": {...}, "recreate": [...]}`` and forgets
the record of every database it names, so a run that stops between the drop
and the migration never leaves a record that matches. ``record`` runs after
a migration succeeded and stores the installed version of the named
services.

Usage: service_databases.py plan RECORD SERVICE...
       service_databases.py record RECORD SERVICE...
"""

import json
import os
import sys
from importlib import metadata


def installed_versions(services):
    """The installed distribution version of each service (None: not installed)."""
    found = {}
    for service in services:
        try:
            found[service] = metadata.version(service)
        except metadata.PackageNotFoundError:
            found[service] = None
    return found


def to_recreate(recorded, installed):
    """The services whose database another version (or an unknown one) migrated."""
    return sorted(
        service
        for service, version in installed.items()
        if version is None or recorded.get(service) != version
    )


def read_record(path):
    try:
        with open(path) as f:
            record = json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        # Unreadable: nothing is known about who migrated the databases.
        return {}
    return record if isinstance(record, dict) else {}


def write_record(path, record):
    with open(path + ".tmp", "w") as f:
        json.dump(record, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(path + ".tmp", path)


def plan(path, installed):
    """What to re-create; the record forgets those databases before they go."""
    record = read_record(path)
    recreate = to_recreate(record, installed)
    if recreate:
        write_record(path, {s: v for s, v in record.items() if s not in recreate})
    return {"installed": installed, "recreate": recreate}


def record(path, installed):
    """Remember which versions migrated the databases of ``installed``'s services."""
    if any(version is None for version in installed.values()):
        missing = sorted(s for s, v in installed.items() if v is None)
        raise ValueError(f"not installed: {', '.join(missing)}")
    kept = read_record(path)
    kept.update(installed)
    write_record(path, kept)
    return kept


def main(argv):
    if len(argv) < 3 or argv[0] not in ("plan", "record"):
        print("\n".join(__doc__.strip().splitlines()[-2:]), file=sys.stderr)
        return 2
    command, path, services = argv[0], argv[1], argv[2:]
    installed = installed_versions(services)
    if command == "plan":
        print(json.dumps(plan(path, installed)))
        return 0
    try:
        print(json.dumps(record(path, installed)))
    except ValueError as exc:
        print(f"cannot record the databases' versions: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
