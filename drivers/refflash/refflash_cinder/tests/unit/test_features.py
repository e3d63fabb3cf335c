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

"""README.rst's feature table is the one the tests' @feature marks give."""

import os

from cinder.tests.unit import test

from refflash_cinder.tests import features


class FeatureTableTestCase(test.TestCase):
    def test_every_feature_is_verified_by_a_unit_test(self):
        unit = features.marked_tests(features.UNIT_DIR)
        missing = [name for name, _ in features.FEATURES if not unit.get(name)]
        self.assertEqual([], missing)

    def test_readme_table_is_current(self):
        if not os.path.exists(features.README):
            self.skipTest("installed without its README (not a source tree)")
        with open(features.README) as f:
            text = f.read()
        self.assertEqual(
            features.render(),
            features.readme_table(text),
            "run tools/feature_table.py to rewrite the README's table",
        )

    def test_marks_name_known_features(self):
        self.assertRaises(ValueError, features.feature, "Time travel")
