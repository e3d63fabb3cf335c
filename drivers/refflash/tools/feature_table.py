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

"""Write README.rst's feature table from the tests' @feature marks.

    python tools/feature_table.py          # run the unit tests, then write
    python tools/feature_table.py --check  # exit 1 if README.rst is stale

Run it with a python that has cinder (tox -e py3's). It refuses to write the
table while a unit test fails; refflash_cinder/tests/unit/test_features.py
fails when the table in README.rst differs from what the marks say.
"""

import argparse
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
os.environ.setdefault("OS_CINDER_DISABLE_EVENTLET_PATCHING", "1")

from refflash_cinder.tests import features  # noqa: E402


def _flat(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from _flat(item)
        else:
            yield item


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    with open(features.README) as f:
        text = f.read()
    table = features.render()
    if args.check:
        if features.readme_table(text) != table:
            print("stale: run tools/feature_table.py to rewrite the table")
            return 1
        return 0
    suite = unittest.TestSuite(
        t
        for t in _flat(
            unittest.TestLoader().discover(
                features.UNIT_DIR, top_level_dir=features.DRIVER_DIR
            )
        )
        # the one test that checks this tool's output
        if not t.id().endswith("test_readme_table_is_current")
    )
    result = unittest.TextTestRunner(verbosity=0).run(suite)
    if not result.wasSuccessful():
        print("unit tests fail: the feature table is left as it is")
        return 1
    with open(features.README, "w") as f:
        f.write(text.replace(features.readme_table(text), table))
    print(f"README.rst: feature table written ({result.testsRun} tests pass)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
