"""``ci-tools array``: run the reference flash array and poke at it.

``serve`` runs the simulator in the foreground on loopback (REST API, and a
tgtd exporting mapped volumes over real iSCSI) until Ctrl-C or SIGTERM. The
other actions talk to a running array found through its data dir
(``endpoint.json`` and ``credentials.json``, both written by ``serve``):
``status``, ``fault`` (inject or clear faults), ``controller`` (take one down
or up), ``audit`` (print the audit log) and ``cleanup`` (delete every object
whose name starts with a prefix, printing one line per object: what
array-cleanup's ``array_cleanup_array_command`` expects).
"""

import json
import logging
import os
import secrets
import signal
import sys
import threading

import requests

from ci_tools.commands import _types as types
from ci_tools.errors import ServiceError, UsageError

LOG = logging.getLogger(__name__)


def add_subparser(subparsers):
    parser = subparsers.add_parser("array", help="the reference flash array simulator")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    serve = sub.add_parser("serve", help="run the array on loopback until Ctrl-C")
    serve.add_argument(
        "--data-dir",
        required=True,
        type=types.dir_to_create,
        help="state, volumes, audit log, tgtd log",
    )
    serve.add_argument("--port", type=types.port, required=True, help="REST API port on --host")
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address the REST API listens on: loopback (default 127.0.0.1) or a "
        "documentation range, e.g. a lab namespace's management IP",
    )
    serve.add_argument("--name", default="refflash", help="array name (default: refflash)")
    serve.add_argument(
        "--pool",
        action="append",
        metavar="NAME:GB",
        help="pool and its physical capacity; repeatable (default: pool-a:100); "
        "only used when the data dir is new",
    )
    serve.add_argument(
        "--iscsi-ports",
        default="auto",
        help="two iSCSI portal ports (controller ct0,ct1) on 127.0.0.1, 'auto' for PORT+1,PORT+2, "
        "or 'none' to run without tgtd",
    )
    serve.add_argument(
        "--iscsi-netns",
        help="run tgtd in this network namespace (the sandbox's data plane), its portals on "
        "--iscsi-portal-ips",
    )
    serve.add_argument(
        "--iscsi-portal-ips",
        default="127.0.0.1,127.0.0.1",
        help="the two portals' addresses, ct0,ct1 (default: loopback); with --iscsi-netns, "
        "addresses inside that namespace",
    )
    serve.add_argument(
        "--tgt-control-port",
        type=types.port,
        help="tgtd's management channel number, at most 32767 (default: derived from --port)",
    )
    serve.add_argument("--username", default="admin")
    serve.add_argument(
        "--password-file",
        help="file holding the admin password (default: $REFFLASH_PASSWORD, else one is "
        "generated into DATA_DIR/credentials.json)",
    )
    serve.add_argument("--tls-cert", help="PEM certificate: serve the REST API over HTTPS only")
    serve.add_argument("--tls-key", help="PEM private key of --tls-cert")
    serve.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="NAME:ROLE:PASSWORD_FILE",
        help="another account; ROLE is admin or storage (storage: no /admin paths, no CHAP "
        "secrets); repeatable",
    )
    serve.add_argument("--session-ttl", type=int, default=900, help="session lifetime, seconds")
    serve.add_argument(
        "--lockout-after",
        type=int,
        default=5,
        help="failed logins in a row from one client address before it is throttled",
    )
    serve.add_argument(
        "--lockout-s", type=int, default=60, help="how long that address is refused, seconds"
    )
    serve.set_defaults(func=cmd_serve)

    def client_parser(name, help_text, func):
        p = sub.add_parser(name, help=help_text)
        p.add_argument(
            "--data-dir",
            required=True,
            type=types.existing_dir,
            help="the data dir of a running 'serve'",
        )
        p.set_defaults(func=func)
        return p

    client_parser("status", "the array's system view and pools", cmd_status)
    fault = client_parser("fault", "inject faults (or --clear them)", cmd_fault)
    fault.add_argument("--op", default="*", help="operation, e.g. volume.create (default: all)")
    fault.add_argument("--fail-next", type=int, help="fail the next N calls of --op")
    fault.add_argument("--status", type=int, default=500, help="HTTP status of injected errors")
    fault.add_argument("--code", default="array.internal_error", help="error code to return")
    fault.add_argument("--latency-ms", type=int, help="delay every call of --op (0 removes)")
    fault.add_argument("--unreachable-s", type=float, help="drop API connections for N seconds")
    fault.add_argument("--clear", action="store_true", help="remove every injected fault")
    ctrl = client_parser("controller", "take a controller down or bring it back", cmd_controller)
    ctrl.add_argument("name", choices=["ct0", "ct1"])
    ctrl.add_argument("state", choices=["online", "offline"])
    audit = client_parser("audit", "print the audit log as JSON lines", cmd_audit)
    audit.add_argument("--op", help="only operations starting with this, e.g. volume.")
    cleanup = client_parser("cleanup", "delete objects by name prefix", cmd_cleanup)
    cleanup.add_argument("--prefix", required=True, help="e.g. volume- for Cinder's objects")


def _pools(specs):
    pools = {}
    for spec in specs or ["pool-a:100"]:
        name, _, size = spec.partition(":")
        try:
            pools[name] = float(size)
        except ValueError as exc:
            raise UsageError(f"--pool {spec!r}: expected NAME:GB") from exc
        if not name or pools[name] <= 0:
            raise UsageError(f"--pool {spec!r}: expected NAME:GB with GB > 0")
    return pools


def _credentials(args):
    path = os.path.join(args.data_dir, "credentials.json")
    if args.password_file:
        try:
            with open(args.password_file) as f:
                password = f.read().strip()
        except OSError as exc:
            raise UsageError(f"--password-file: {exc}") from exc
    elif os.environ.get("REFFLASH_PASSWORD"):
        password = os.environ["REFFLASH_PASSWORD"]
    elif os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    else:
        password = secrets.token_urlsafe(12)
    if not password:
        raise UsageError("the admin password is empty")
    creds = {"username": args.username, "password": password}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(creds, f)
    return creds


def _users(admin, specs):
    """{name: {password, role}}: the admin from --username, plus every --user."""
    users = {admin["username"]: {"password": admin["password"], "role": "admin"}}
    for spec in specs:
        name, _, rest = spec.partition(":")
        role, _, path = rest.partition(":")
        if not name or role not in ("admin", "storage") or not path:
            raise UsageError(
                f"--user {spec!r}: expected NAME:ROLE:PASSWORD_FILE, ROLE admin|storage"
            )
        if name in users:
            raise UsageError(f"--user {spec!r}: {name} is already an account")
        try:
            with open(path) as f:
                password = f.read().strip()
        except OSError as exc:
            raise UsageError(f"--user {spec!r}: {exc}") from exc
        if not password:
            raise UsageError(f"--user {spec!r}: the password file is empty")
        users[name] = {"password": password, "role": role}
    return users


def cmd_serve(args):
    from ci_tools.array.model import Array
    from ci_tools.array.server import (
        ArrayService,
        Audit,
        Auth,
        audit_path,
        check_listen_host,
        make_server,
    )
    from ci_tools.array.tgt import ExportError, TgtExporter, log_path

    try:
        check_listen_host(args.host)
    except ValueError as exc:
        raise UsageError(f"--host {exc}") from exc
    os.makedirs(args.data_dir, exist_ok=True)
    creds = _credentials(args)
    exporter = None
    if args.iscsi_ports != "none":
        if args.iscsi_ports == "auto":
            ports = [args.port + 1, args.port + 2]
        else:
            try:
                ports = [int(p) for p in args.iscsi_ports.split(",")]
            except ValueError as exc:
                raise UsageError("--iscsi-ports: expected two port numbers, auto or none") from exc
            if len(ports) != 2:
                raise UsageError("--iscsi-ports: expected two ports, one per controller")
        for p in ports:
            if not 1 <= p <= 65535:
                raise UsageError(f"--iscsi-ports: {p} is not a TCP port (1-65535)")
        if not TgtExporter.available():
            raise ServiceError(
                "tgtd/tgtadm not found: install Debian's tgt or use --iscsi-ports none"
            )
        ips = args.iscsi_portal_ips.split(",")
        if len(ips) != 2:
            raise UsageError("--iscsi-portal-ips: expected two addresses, one per controller")
        for ip in ips:
            try:
                check_listen_host(ip)
            except ValueError as exc:
                raise UsageError(f"--iscsi-portal-ips {exc}") from exc
        exporter = TgtExporter(
            {"ct0": f"{ips[0]}:{ports[0]}", "ct1": f"{ips[1]}:{ports[1]}"},
            # tgtd takes at most 32767 here; ephemeral API ports span < 30000, so
            # the remainder keeps two arrays on one machine apart.
            args.tgt_control_port or 1 + args.port % 30000,
            log_path(args.data_dir),
            netns=args.iscsi_netns,
        )
    array = Array(args.data_dir, name=args.name, pools=_pools(args.pool), exporter=exporter)
    auth = Auth(
        _users(creds, args.user),
        session_ttl=args.session_ttl,
        lockout_after=args.lockout_after,
        lockout_s=args.lockout_s,
    )
    service = ArrayService(array, auth, Audit(audit_path(args.data_dir)), exporter)
    if bool(args.tls_cert) != bool(args.tls_key):
        raise UsageError("--tls-cert and --tls-key go together")
    try:
        server = make_server(service, args.port, args.host, args.tls_cert, args.tls_key)
    except OSError as exc:
        raise ServiceError(f"cannot listen on {args.host}:{args.port}: {exc}") from exc
    try:
        if exporter is not None:
            try:
                exporter.start()
                for ctrl, info in array.state["controllers"].items():
                    exporter.set_controller(ctrl, info["state"] == "online")
                array.export()
            except ExportError as exc:
                raise ServiceError(f"iSCSI export: {exc}") from exc
        service.replication.start()
        endpoint = {
            "url": f"{'https' if args.tls_cert else 'http'}://{args.host}:{args.port}",
            "username": creds["username"],
            "serial": array.serial,
            "iscsi_portals": [p["portal"] for p in service.iscsi_portals()],
            "pid": os.getpid(),
        }
        with open(os.path.join(args.data_dir, "endpoint.json"), "w") as f:
            json.dump(endpoint, f)
        stop = threading.Event()

        def on_signal(signum, frame):
            stop.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        print(
            f"refflash {array.serial} serving {endpoint['url']} "
            f"iscsi={','.join(endpoint['iscsi_portals']) or 'off'}",
            flush=True,
        )
        server.serve_forever(poll_interval=0.2)
    finally:
        service.replication.stop()
        server.server_close()
        if exporter is not None:
            exporter.stop()
    return 0


class ArrayCLIClient:
    """Talks to a running array found through its data dir."""

    def __init__(self, data_dir):
        try:
            with open(os.path.join(data_dir, "endpoint.json")) as f:
                self.url = json.load(f)["url"]
            with open(os.path.join(data_dir, "credentials.json")) as f:
                self.creds = json.load(f)
        except (OSError, ValueError, KeyError) as exc:
            raise UsageError(f"{data_dir}: not the data dir of a running array ({exc})") from exc
        self.session = requests.Session()
        r = self._raw("POST", "/auth/login", json=self.creds)
        self.session.headers["X-Auth-Token"] = r["token"]

    def _raw(self, method, path, **kwargs):
        try:
            r = self.session.request(method, f"{self.url}/api/v1{path}", timeout=30, **kwargs)
        except requests.RequestException as exc:
            raise ServiceError(f"array at {self.url} did not answer: {exc}") from exc
        data = r.json() if r.content else {}
        if r.status_code >= 400:
            err = data.get("error", {})
            raise ServiceError(f"{method} {path}: {r.status_code} {err.get('code')}: "
                               f"{err.get('message')}")  # fmt: skip
        return data

    call = _raw


def _print(data):
    print(json.dumps(data, indent=2, sort_keys=True))


def cmd_status(args):
    client = ArrayCLIClient(args.data_dir)
    _print({"system": client.call("GET", "/system"), "pools": client.call("GET", "/pools")})
    return 0


def cmd_fault(args):
    client = ArrayCLIClient(args.data_dir)
    if args.clear:
        client.call("DELETE", "/admin/faults")
        _print(client.call("GET", "/admin/faults"))
        return 0
    body = {"op": args.op}
    if args.fail_next is not None:
        body.update(fail_next=args.fail_next, status=args.status, code=args.code)
    if args.latency_ms is not None:
        body["latency_ms"] = args.latency_ms
    if args.unreachable_s is not None:
        body["unreachable_s"] = args.unreachable_s
    if len(body) == 1:
        raise UsageError("give --fail-next, --latency-ms, --unreachable-s or --clear")
    _print(client.call("POST", "/admin/faults", json=body))
    return 0


def cmd_controller(args):
    client = ArrayCLIClient(args.data_dir)
    _print(client.call("POST", f"/admin/controllers/{args.name}", json={"state": args.state}))
    return 0


def cmd_audit(args):
    client = ArrayCLIClient(args.data_dir)
    params = {"op": args.op} if args.op else {}
    for entry in client.call("GET", "/audit", params=params):
        print(json.dumps(entry, sort_keys=True))
    return 0


def cmd_cleanup(args):
    """Unmap, then delete snapshots and volumes named PREFIX*; one line per object."""
    client = ArrayCLIClient(args.data_dir)
    failed = 0
    for vol in client.call("GET", "/volumes", params={"prefix": args.prefix}):
        for m in vol["mappings"]:
            key = "host" if m.get("host") else "hostgroup"
            client.call("DELETE", "/mappings", params={"volume": vol["name"], key: m[key]})
        try:
            client.call("DELETE", f"/volumes/{vol['name']}", params={"cascade": "true"})
            print(f"deleted volume {vol['name']} (snapshots: {', '.join(vol['snapshots']) or '-'})")
        except ServiceError as exc:
            failed += 1
            print(f"left volume {vol['name']}: {exc}")
    for snap in client.call("GET", "/snapshots", params={"prefix": args.prefix}):
        client.call("DELETE", f"/snapshots/{snap['name']}")
        print(f"deleted snapshot {snap['name']}")
    sys.stdout.flush()
    return 1 if failed else 0
