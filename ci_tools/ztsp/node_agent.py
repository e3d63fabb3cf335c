"""On a Cinder node (in the Cinder venv): load the backends as cinder-volume does.

ZTSP's lab nodes have no message bus or database, so instead of a full
cinder-volume this agent does the part a new backend depends on, with
Cinder's own code: parse cinder.conf plus the ``--config-dir`` gold copy with
oslo.config, and for each ``enabled_backends`` entry build the driver from its
section (``volume_driver``, ``Configuration(volume_opts, config_group=...)``),
then ``do_setup``, ``check_for_setup_error`` and ``get_volume_stats`` against
the array. ``restart`` records each backend as ``up``, ``error`` (with the
reason) or ``disabled`` (section kept, not enabled) in ``backends.json``;
``create-volume`` creates a real volume on a backend through its driver.
A node running cinder-volume would use ``systemctl restart`` as its restart
command instead.
"""

import argparse
import configparser
import glob
import json
import os
import sys
import uuid


def _load_conf(args):
    from cinder import objects
    from oslo_config import cfg

    objects.register_all()  # as cinder-volume does before it loads a driver
    argv = ["--config-file", args.config_file]
    if args.config_dir:
        argv += ["--config-dir", args.config_dir]
    cfg.CONF(argv, project="cinder", default_config_files=[])
    return cfg.CONF


def _driver(conf, backend):
    from cinder.volume import configuration, manager
    from oslo_utils import importutils

    # the options cinder-volume's manager builds each backend's Configuration from
    configuration_ = configuration.Configuration(manager.volume_backend_opts, config_group=backend)
    if not configuration_.safe_get("volume_driver"):
        raise RuntimeError(f"[{backend}] has no volume_driver")
    host = f"{conf.host}@{backend}"
    return importutils.import_object(
        configuration_.volume_driver, configuration=configuration_, host=host
    )


def _sections(config_dir):
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read(sorted(glob.glob(os.path.join(config_dir or "", "*.conf"))))
    return set(parser.sections())


def cmd_restart(args):
    from cinder import context

    conf = _load_conf(args)
    enabled = [b for b in (conf.enabled_backends or []) if b]
    result = {}
    for backend in enabled:
        try:
            drv = _driver(conf, backend)
            drv.do_setup(context.get_admin_context())
            drv.check_for_setup_error()
            stats = drv.get_volume_stats(refresh=True)
            pool = (stats.get("pools") or [{}])[0]
            result[backend] = {
                "state": "up",
                "vendor": stats.get("vendor_name"),
                "protocol": stats.get("storage_protocol"),
                "pool": pool.get("pool_name"),
                "free_capacity_gb": pool.get("free_capacity_gb"),
            }
        except Exception as exc:  # any driver failure is this backend's state, not ours
            result[backend] = {"state": "error", "error": f"{exc.__class__.__name__}: {exc}"}
    for backend in sorted(_sections(args.config_dir) - set(enabled)):
        result[backend] = {"state": "disabled"}
    os.makedirs(args.state_dir, exist_ok=True)
    tmp = os.path.join(args.state_dir, "backends.json.tmp")
    with open(tmp, "w") as f:
        json.dump(result, f, indent=2, sort_keys=True)
    os.replace(tmp, os.path.join(args.state_dir, "backends.json"))
    print("ztsp:backends " + json.dumps(result, sort_keys=True), flush=True)
    failed = {k: v["error"] for k, v in result.items() if v["state"] == "error"}
    for backend, error in sorted(failed.items()):
        print(f"ztsp:error backend {backend}: {error}", flush=True)
    return 1 if failed else 0


def cmd_create_volume(args):
    from cinder import context, objects

    conf = _load_conf(args)
    if args.backend not in (conf.enabled_backends or []):
        print(f"backend {args.backend} is not enabled on this node", file=sys.stderr)
        return 1
    ctx = context.get_admin_context()
    drv = _driver(conf, args.backend)
    drv.do_setup(ctx)
    drv.check_for_setup_error()
    vol = objects.Volume(
        context=ctx,
        id=str(uuid.uuid4()),
        size=args.size,
        status="creating",
        volume_type_id=None,
        _name_id=None,
        host=f"{conf.host}@{args.backend}#pool",
    )
    drv.create_volume(vol)
    print(json.dumps({"volume": vol.name, "size_gb": args.size, "backend": args.backend}))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="ztsp-node-agent")
    sub = parser.add_subparsers(dest="action", required=True)
    for name, func in (("restart", cmd_restart), ("create-volume", cmd_create_volume)):
        p = sub.add_parser(name)
        p.add_argument("--config-file", required=True)
        p.add_argument("--config-dir")
        p.add_argument("--state-dir", required=True)
        p.set_defaults(func=func)
        if name == "create-volume":
            p.add_argument("--backend", required=True)
            p.add_argument("--size", type=int, default=1)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
