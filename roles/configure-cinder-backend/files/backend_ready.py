"""Wait until each named cinder backend's c-vol reports up, then ensure its volume type.

Runs in DevStack-lite's venv with the admin cloud from clouds.yaml (OS_CLOUD).
Exits 1 naming the backends still down after --timeout seconds.
"""

import argparse
import sys
import time

import openstack


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("backends", help="comma separated backend names")
    args = parser.parse_args()
    wanted = [name for name in args.backends.split(",") if name]
    conn = openstack.connect()
    deadline = time.monotonic() + args.timeout
    while True:
        up = {
            svc.host.split("@", 1)[1]
            for svc in conn.block_storage.services(binary="cinder-volume")
            if "@" in svc.host and svc.state == "up" and svc.status == "enabled"
        }
        down = [name for name in wanted if name not in up]
        if not down:
            break
        if time.monotonic() > deadline:
            print(f"backends not up after {args.timeout:.0f}s: {', '.join(down)}")
            return 1
        time.sleep(2)
    for name in wanted:
        vtype = conn.block_storage.find_type(name, ignore_missing=True)
        if vtype is None:
            conn.block_storage.create_type(
                name=name, extra_specs={"volume_backend_name": name}
            )
            print(f"volume type {name}: created")
        else:
            print(f"volume type {name}: exists")
    print(f"backends up: {', '.join(wanted)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
