"""How fast scrub-log-secrets scrubs and scans a job's logs, rule by rule.

    python -m benchmarks.bench_scrub [--mb 20]

Makes Cinder-like debug logs (service lines, argv lists, connection_info,
headers already masked by the services) of ``--mb`` MB, the same text as a
Zuul job-output.json (JSON-escaped) and gzipped, with three known secret
values and no secret in them, the common case. Prints the time of each
rule on each file, then of the whole tree (scrub plus the final scan, as
post-logs runs it), in MB/s.
"""

import argparse
import gzip
import importlib.util
import json
import os
import random
import shutil
import tempfile
import time
import uuid

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SCRUB = os.path.join(REPO, "roles", "scrub-log-secrets", "library", "scrub_log_secrets.py")
KEYS = ["san_password", "password", "connection", "transport_url"]
VALUES = ["Jb@abcdef\\123/&'x", "lst0123456789", "arr-0f1e2d3c4b5a"]

LINES = [
    "{ts} 4242 DEBUG cinder.volume.manager [req-{u} admin admin - - -] Volume {u}: creating "
    "with size {n} GB _run_flow /opt/stack/cinder/cinder/volume/flows/manager/create_volume.py",
    "{ts} 4242 DEBUG oslo_concurrency.processutils [req-{u} - - - - -] Running cmd "
    "(subprocess): sudo cinder-rootwrap /etc/cinder/rootwrap.conf tgtadm --lld iscsi --op show "
    "--mode target execute",
    "{ts} 4242 INFO cinder.api.openstack.wsgi [req-{u} demo - default default] GET "
    "http://127.0.0.1/volume/v3/{u}/volumes/detail?all_tenants=1 returned with HTTP 200",
    "{ts} 4242 DEBUG keystoneauth.session [-] REQ: curl -g -i -X GET http://127.0.0.1/identity "
    '-H "Accept: application/json" -H "X-Auth-Token: {{SHA256}}{h}" _http_log_request',
    "{ts} 4242 DEBUG cinder.volume.drivers.refflash [req-{u}] connection_info "
    "{{'driver_volume_type': 'iscsi', 'data': {{'target_iqn': 'iqn.2026-01.org.example:vol-{n}',"
    " 'auth_method': 'CHAP', 'auth_username': 'u{n}', 'auth_password': '***'}}}}",
    '{ts} 4242 WARNING oslo_config.cfg [-] Deprecated: Option "secret_key" from group "keymgr" '
    "is deprecated for removal.",
    "{ts} 4242 DEBUG cinder.scheduler.host_manager [req-{u}] Received volume service update "
    "from node1@refflash-1: {{'pools': [{{'pool_name': 'pool{n}', 'free_capacity_gb': 900.5}}]}}",
]


def load_scrubber():
    spec = importlib.util.spec_from_file_location("scrub_log_secrets", SCRUB)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_logs(root, megabytes):
    rng = random.Random(16)
    out, size = [], 0
    while size < megabytes * 1_000_000:
        line = rng.choice(LINES).format(
            ts=f"2026-12-04 19:00:{rng.randint(0, 59):02d}.{rng.randint(0, 999):03d}",
            u=uuid.UUID(int=rng.getrandbits(128)).hex,
            n=rng.randint(1, 9999),
            h=uuid.UUID(int=rng.getrandbits(128)).hex * 2,
        )
        out.append(line)
        size += len(line) + 1
    text = ("\n".join(out) + "\n").encode()
    files = {
        "c-vol.log": text,
        "job-output.json": json.dumps([{"stdout": text.decode()}]).encode(),
        "c-vol.log.1.gz": gzip.compress(text),
    }
    for name, data in files.items():
        with open(os.path.join(root, name), "wb") as f:
            f.write(data)
    return {"c-vol.log": text, "job-output.json": files["job-output.json"]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=20, help="size of each log, MB")
    args = parser.parse_args(argv)
    scrub = load_scrubber()
    work = tempfile.mkdtemp(prefix="bench-scrub-")
    try:
        texts = make_logs(work, args.mb)
        rules = scrub.build_rules(scrub.read_values(VALUES, []), KEYS, "***")
        rows = []
        for name, data in texts.items():
            low = data.lower()
            for rule in rules:
                start = time.monotonic()
                rule.apply(data, low)
                rows.append((name, rule.name, len(data), time.monotonic() - start))
        total = sum(os.path.getsize(os.path.join(work, n)) for n in os.listdir(work))
        expanded = sum(len(d) for d in texts.values()) + len(texts["c-vol.log"])
        start = time.monotonic()
        result = scrub.scrub_tree(work, scrub.read_values(VALUES, []), KEYS, "***")
        rows.append(("whole tree", "scrub + final scan", expanded, time.monotonic() - start))
    finally:
        shutil.rmtree(work, True)
    print(f"{'file':<16} {'rule':<22} {'MB':>6} {'seconds':>8} {'MB/s':>7}")
    for name, rule, size, seconds in rows:
        mb = size / 1e6
        print(f"{name:<16} {rule:<22} {mb:6.1f} {seconds:8.2f} {mb / max(seconds, 1e-9):7.1f}")
    print(f"({total / 1e6:.1f} MB on disk; leaks found: {len(result['leaks'])})")


if __name__ == "__main__":
    main()
