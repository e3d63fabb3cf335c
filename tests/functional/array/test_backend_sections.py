"""backend.yaml + the refflash driver through cinder's own config path.

The sections configure-cinder-backend would write from
tempest-config/<protocol>/backend.yaml, plus credentials, are parsed by
oslo.config in the Cinder venv and the driver is built the way
cinder-volume's VolumeManager builds it (volume_backend_opts in the backend's
group, importutils): it must set up, pass its checks and report stats.
"""

import json
import os
import subprocess
import tempfile

import testtools
import yaml

from ci_tools.array.fixture import ArrayFixture
from tests.functional.array.test_cinder_driver import DRIVER, TOP, cinder_python

# What cinder.volume.manager.VolumeManager.__init__ does with a backend section.
BUILD_LIKE_CINDER_VOLUME = """
import json, sys
from cinder import objects
objects.register_all()
from cinder import context
from cinder.common import config  # noqa: registers cinder's options
from cinder.volume import configuration, manager
from oslo_config import cfg
from oslo_utils import importutils
cfg.CONF(["--config-file", sys.argv[1]], project="cinder")
ok = True
for name in cfg.CONF.enabled_backends:
    conf = configuration.Configuration(manager.volume_backend_opts, config_group=name)
    try:
        driver = importutils.import_object(conf.volume_driver, configuration=conf,
            host="test@" + name, cluster_name=None, active_backend_id=None)
        driver.do_setup(context.get_admin_context())
        driver.check_for_setup_error()
        stats = driver.get_volume_stats(refresh=True)
        print(json.dumps({"backend": name, "protocol": stats["storage_protocol"],
            "vendor": stats["vendor_name"], "pools": [p["pool_name"] for p in stats["pools"]],
            "free": stats["pools"][0]["free_capacity_gb"]}))
    except Exception as exc:
        ok = False
        print(json.dumps({"backend": name, "error": f"{type(exc).__name__}: {exc}"}))
sys.exit(0 if ok else 3)
"""


class BackendSectionsTest(testtools.TestCase):
    def setUp(self):
        super().setUp()
        if not os.path.exists(cinder_python()):
            self.fail(f"{cinder_python()} missing: run tools/setup-cinder.sh")
        td = tempfile.TemporaryDirectory()
        self.addCleanup(td.cleanup)
        self.dir = td.name
        self.array = ArrayFixture(os.path.join(self.dir, "array"), iscsi=False)
        self.array.start()
        self.addCleanup(self.array.stop)

    def preflight(self, protocol, password):
        with open(os.path.join(TOP, "tempest-config", protocol, "backend.yaml")) as f:
            conf = yaml.safe_load(f)
        names = [b["name"] for b in conf["backends"]]
        lines = ["[DEFAULT]", f"enabled_backends = {','.join(names)}", ""]
        creds = {"san_login": self.array.username, "san_password": password}
        for backend in conf["backends"]:
            # what the role's template does: shared options, backend options,
            # the job's overrides (the array's port here), then the secret
            opts = {**conf["options"], **backend.get("options", {}),
                    "san_api_port": self.array.port, **creds}  # fmt: skip
            lines += [f"[{backend['name']}]", f"volume_backend_name = {backend['name']}",
                      f"volume_driver = {conf['driver']}"]  # fmt: skip
            lines += [f"{k} = {v}" for k, v in sorted(opts.items())] + [""]
        path = os.path.join(self.dir, f"cinder-{protocol}.conf")
        with open(path, "w") as f:
            f.write("\n".join(lines))
        result = subprocess.run(
            [cinder_python(), "-W", "ignore", "-c", BUILD_LIKE_CINDER_VOLUME, path],
            env=dict(os.environ, PYTHONPATH=DRIVER),
            capture_output=True,
            text=True,
            timeout=120,
        )
        return result.returncode, result.stdout, result.stderr

    def test_both_protocols_set_up_and_report_stats(self):
        for protocol, wire in (("iscsi", "iSCSI"), ("fc", "FC")):
            rc, out, err = self.preflight(protocol, self.array.password)
            self.assertEqual(0, rc, out + err[-3000:])
            results = [json.loads(line) for line in out.splitlines()]
            self.assertEqual(2, len(results))
            for r in results:
                self.assertEqual((wire, "RefFlash", ["pool-a"], 100.0),
                                 (r["protocol"], r["vendor"], r["pools"], r["free"]))  # fmt: skip

    def test_wrong_password_fails_setup_without_leaking_it(self):
        rc, out, err = self.preflight("iscsi", "wrong-password-x")
        self.assertEqual(3, rc, out + err[-2000:])
        self.assertIn("refused the credentials", out)
        self.assertNotIn("wrong-password-x", out + err)
        self.assertNotIn(self.array.password, out + err)
