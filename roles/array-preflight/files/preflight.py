"""Ask the array, through the configured driver itself, whether a run can start.

For each backend in cinder.conf(.d): build the driver as cinder-volume would,
run do_setup (the array answers, the credentials work), check_for_setup_error,
and get_volume_stats (every pool has --min-free-gb). Prints one JSON line per
backend and exits 0 when all pass, 3 when the array is not fit: the caller
reports that as an infrastructure failure, never as the driver failing.
No driver-specific code: whatever the driver needs it reads from its section.
"""

import argparse
import json
import sys
import traceback

from oslo_config import cfg


def check_backend(name, min_free_gb):
    from cinder import context
    from cinder.volume import configuration
    from cinder.volume import manager
    from oslo_utils import importutils

    conf = configuration.Configuration(manager.volume_backend_opts, config_group=name)
    driver = importutils.import_object(
        conf.volume_driver,
        configuration=conf,
        host=f"preflight@{name}",
        cluster_name=None,
        active_backend_id=None,
    )
    ctx = context.get_admin_context()
    driver.do_setup(ctx)
    driver.check_for_setup_error()
    stats = driver.get_volume_stats(refresh=True) or {}
    pools = stats.get("pools") or [dict(stats, pool_name=name)]
    short = {
        p.get("pool_name", name): p.get("free_capacity_gb")
        for p in pools
        if not isinstance(p.get("free_capacity_gb"), (int, float))
        or p.get("free_capacity_gb") < min_free_gb
    }
    return {
        "backend": name,
        "vendor_name": stats.get("vendor_name"),
        "storage_protocol": stats.get("storage_protocol"),
        "pools": {p.get("pool_name", name): p.get("free_capacity_gb") for p in pools},
        "short_of_space": short,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--config-dir")
    parser.add_argument("--min-free-gb", type=float, default=10)
    args = parser.parse_args()
    from cinder import objects

    objects.register_all()
    from cinder.common import config  # noqa: F401  registers cinder's options

    conf_args = ["--config-file", args.config_file]
    if args.config_dir:
        conf_args += ["--config-dir", args.config_dir]
    cfg.CONF(conf_args, project="cinder")
    ok = True
    for name in cfg.CONF.enabled_backends or []:
        try:
            result = check_backend(name, args.min_free_gb)
            ok = ok and not result["short_of_space"]
        except Exception as exc:  # any failure here means the array is not usable
            ok = False
            result = {
                "backend": name,
                "error": f"{type(exc).__name__}: {exc}",
                "trace": traceback.format_exc().splitlines()[-3:],
            }
        print(json.dumps(result, sort_keys=True))
    if not cfg.CONF.enabled_backends:
        print(json.dumps({"error": "no enabled_backends configured"}))
        ok = False
    return 0 if ok else 3


if __name__ == "__main__":
    sys.exit(main())
