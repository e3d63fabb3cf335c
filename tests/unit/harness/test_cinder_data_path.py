"""The env file the data-path tests get on the compute node: what a shell reads back."""

import os
import subprocess
import tempfile

import testtools

from ci_tools.harness.cinder_data_path import node_env_file


class NodeEnvFileTest(testtools.TestCase):
    def test_sh_reads_back_every_value_as_given(self):
        env = {
            "OS_PASSWORD": "a'b\"c $HOME `id` ;x",
            "OS_VOLUME_URL": "http://10.0.2.100:8776/v3/%(project_id)s",
            "DATA_PATH_ARRAY_PASSWORD": "-n\\t",
        }
        with tempfile.NamedTemporaryFile("w", delete=False) as f:
            f.write(node_env_file(env))
        self.addCleanup(os.unlink, f.name)
        out = subprocess.run(
            ["bash", "-c", f'set -a; . {f.name}; set +a; env -0'],
            env={"PATH": os.environ["PATH"]}, capture_output=True, text=True, check=True,
        )  # fmt: skip
        seen = dict(item.split("=", 1) for item in out.stdout.split("\0") if "=" in item)
        for key, value in env.items():
            self.assertEqual(value, seen[key])
