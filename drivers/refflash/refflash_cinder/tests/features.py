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

"""Which driver feature each test verifies: the source of the README's table.

A test says what it proves with ``@feature("...")``; ``tools/feature_table.py``
runs the unit tests and writes drivers/refflash/README.rst's feature table
from these marks, and a unit test fails when the README's table is not what
the marks say. Nobody edits that table by hand.
"""

import ast
import os

# The table's rows, in order: (feature, what "verified" means there)
FEATURES = (
    ("Create / delete / extend volume", "thin volumes in the configured pool"),
    ("Snapshots, volume from snapshot, clone", "larger size allowed"),
    ("Revert to snapshot", "in place"),
    ("Volume stats", "thin provisioning, oversubscription, cached"),
    ("QoS", "refflash:max_iops/max_mbps extra specs, back-end qos specs"),
    ("iSCSI attach", "CHAP per host, a portal per online controller"),
    ("FC attach and zoning", "initiator_target_map (emulated FC)"),
    ("Multiattach on one host", "the mapping stays for the other attachment"),
    ("Concurrent attaches", "per-initiator coordination locks"),
    ("Failed attach undone", "no host or mapping left behind"),
    ("Force detach", "every host; FC zones removed"),
    ("validate_connector", "missing or malformed initiator / WWPNs"),
    ("Manage / unmanage", "volumes and snapshots, source-name"),
    ("Manageable lists", "get_manageable_volumes/snapshots, safe_to_manage"),
    ("Retype in place", "QoS and replication per diff; thick refused"),
    ("Migration", "update_migrated_volume keeps the name"),
    ("Replication", "failover, failback, replicas and snapshots follow"),
    ("TLS", "driver_ssl_cert_verify / driver_ssl_cert_path"),
    ("Array errors", "Cinder exceptions with the array's code"),
    ("Cinder interfaces", "every claimed method, compatible signature"),
)
NAMES = {name for name, _ in FEATURES}
ATTR = "refflash_features"


def feature(*names):
    """Mark a test as verifying these FEATURES rows."""
    unknown = set(names) - NAMES
    if unknown:
        raise ValueError(f"not in FEATURES: {sorted(unknown)}")

    def mark(func):
        setattr(func, ATTR, tuple(getattr(func, ATTR, ())) + names)
        return func

    return mark


def features_of(test):
    """The FEATURES rows a unittest.TestCase instance is marked with."""
    return getattr(getattr(test, test._testMethodName, None), ATTR, ())


# -- the README table, from the marks in the test sources -------------------

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER_DIR = os.path.dirname(os.path.dirname(HERE))
UNIT_DIR = os.path.join(HERE, "unit")
FUNCTIONAL_DIR = os.path.join(DRIVER_DIR, "tests")
README = os.path.join(DRIVER_DIR, "README.rst")
BEGIN = ".. feature-table-begin (tools/feature_table.py writes this)"
END = ".. feature-table-end"


def marked_tests(directory):
    """{feature: [test names]} from the @feature marks of test_*.py files."""
    found = {}
    for name in sorted(os.listdir(directory)):
        if not (name.startswith("test_") and name.endswith(".py")):
            continue
        with open(os.path.join(directory, name)) as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef):
                continue
            for deco in node.decorator_list:
                if (
                    isinstance(deco, ast.Call)
                    and getattr(deco.func, "id", None) == "feature"
                ):
                    for arg in deco.args:
                        found.setdefault(arg.value, []).append(node.name)
    return found


def render():
    unit, functional = marked_tests(UNIT_DIR), marked_tests(FUNCTIONAL_DIR)
    lines = [
        BEGIN,
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - Feature",
        "     - Scope",
        "     - Unit tests (mocked REST client)",
        "     - Functional tests (live simulator)",
    ]
    for name, scope in FEATURES:

        def cell(tests):
            names = sorted(set(tests))
            return ", ".join(f"``{t}``" for t in names) or "none"

        lines += [
            f"   * - {name}",
            f"     - {scope}",
            f"     - {cell(unit.get(name, []))}",
            f"     - {cell(functional.get(name, []))}",
        ]
    return "\n".join(lines + ["", END])


def readme_table(text):
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[start:end]
