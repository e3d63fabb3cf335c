"""The gertty snippet in doc/gertty.rst reads our real report format."""

import os
import re

import testtools
import yaml

from tests import people_samples as samples

DOC = os.path.join(samples.REPO_ROOT, "doc", "gertty.rst")
LOG = "https://refflash-ci-logs.example.com/45/912345/3/check/refflash-ci-tempest-iscsi/0a1b2c3"


def snippet():
    """The YAML code block of doc/gertty.rst, dedented."""
    with open(DOC) as f:
        text = f.read()
    block = text.split(".. code-block:: yaml\n", 1)[1]
    lines = []
    for line in block.splitlines()[1:]:
        if line and not line.startswith("    "):
            break
        lines.append(line[4:])
    return yaml.safe_load("\n".join(lines))


def gertty_test_results(link, message):
    """gertty's CommentLink.getTestResults: match each line, key by test-result."""
    regex = re.compile(link["match"], re.M)
    results = {}
    for line in message.split("\n"):
        m = regex.search(line)
        if m:
            groups = m.groupdict()
            texts = []
            for repl in link["replacements"]:
                if "link" in repl:
                    texts.append(repl["link"]["text"].format(**groups))
                    texts.append(repl["link"]["url"].format(**groups))
                elif isinstance(repl["text"], dict):
                    texts.append(
                        (
                            repl["text"]["color"].format(**groups),
                            repl["text"]["text"].format(**groups),
                        )
                    )
                else:
                    texts.append(repl["text"].format(**groups))
            results[link["test-result"].format(**groups)] = texts
    return results


class TestGerttySnippet(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.config = snippet()
        (self.link,) = self.config["commentlinks"]

    def test_our_report_becomes_test_results(self):
        message = samples.our_comment(
            [
                ("refflash-ci-tempest-iscsi", LOG, "SUCCESS", 3723),
                ("refflash-ci-tempest-fc", LOG + "-fc", "FAILURE", 2890, False),
            ],
            patchset=3,
            item_url="https://zuul.example.com/t/refflash/buildset/4f2a",
        )
        results = gertty_test_results(self.link, message)
        self.assertEqual(["refflash-ci-tempest-iscsi", "refflash-ci-tempest-fc"], list(results))
        iscsi = results["refflash-ci-tempest-iscsi"]
        self.assertEqual("refflash-ci-tempest-iscsi".ljust(42), iscsi[0])
        self.assertEqual(LOG, iscsi[1])
        self.assertEqual(("test-SUCCESS", "SUCCESS"), iscsi[2])
        self.assertEqual(" in 1h 02m 03s", iscsi[3])
        fc = results["refflash-ci-tempest-fc"]
        self.assertEqual(("test-FAILURE", "FAILURE"), fc[2])
        self.assertEqual(" in 48m 10s (non-voting)", fc[3])

    def test_every_result_colour_is_in_the_palette(self):
        (palette,) = self.config["palettes"]
        for result in ("SUCCESS", "FAILURE", "POST_FAILURE", "TIMED_OUT", "NODE_FAILURE"):
            self.assertIn(f"test-{result}", palette)

    def test_footer_and_headline_are_not_results(self):
        message = samples.our_comment([("refflash-ci-tempest-iscsi", LOG, "SUCCESS", 60)])
        lines = [line for line in message.split("\n") if not line.startswith("- ")]
        self.assertEqual({}, gertty_test_results(self.link, "\n".join(lines)))

    def test_hide_comments_folds_ci_accounts_only(self):
        (rule,) = self.config["hide-comments"]
        regex = re.compile(rule["author"])
        for name in ("Reference Flash RefFlash CI", "Acme Storage CI", "Zuul"):
            self.assertTrue(regex.match(name), name)
        for name in ("Jane Developer", "Carla CIfuentes"):
            self.assertFalse(regex.match(name), name)
