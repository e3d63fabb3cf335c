"""Config errors name the file and line a maintainer must open."""

import testtools

from ci_tools.configcheck.report import format_error, locate

# As zuul-web returns it for a job with an unknown parent.
ENTRY = {
    "source_context": {"project": "ci-config", "branch": "master", "path": "zuul.d/jobs.yaml"},
    "error": "Job base-broken not defined\n\nThe error appears in the following job stanza:\n\n"
    "  job:\n    name: refflash-broken\n    parent: base-broken\n\n"
    '  in "ci-config/zuul.d/jobs.yaml@master", line 12, column 3',
    "short_error": "Job base-broken not defined",
    "severity": "error",
    "name": "Job Not Found",
}


class TestReport(testtools.TestCase):
    def test_locate_uses_zuul_mark_line(self):
        self.assertEqual(("zuul.d/jobs.yaml", 12), locate(ENTRY))

    def test_locate_without_mark(self):
        entry = {"source_context": {"project": "openstack/cinder", "path": None},
                 "error": "Will not fetch project branches"}  # fmt: skip
        self.assertEqual(("?", None), locate(entry))

    def test_format_names_file_line_and_job(self):
        text = format_error(ENTRY)
        first = text.splitlines()[0]
        self.assertEqual(
            "zuul.d/jobs.yaml:12: error: Job Not Found: Job base-broken not defined", first
        )
        self.assertIn("name: refflash-broken", text)
