"""The array's REST management API: ``/api/v1/...`` on loopback.

Login (``POST /api/v1/auth/login``) returns a session token that expires;
every other call carries it as ``X-Auth-Token``. A wrong password is 401
``auth.failed``; after ``lockout_after`` failures in a row from one client
address, that address is refused for ``lockout_s`` (429 ``auth.throttled``);
other addresses still log in. The ``admin`` role alone may use the /admin
paths and read CHAP secrets (403 ``auth.forbidden``); among them
``GET /api/v1/admin/volumes/<name>/checksum?offset=&length=``, the SHA-256
of a byte range of a volume's blocks (at most 256 MiB), so a test can
compare what an initiator wrote with what the array holds. Errors are JSON
``{"error": {"code", "message"}}`` with codes a driver can act on.

Fault injection (``/api/v1/admin/faults``) adds latency to an operation,
fails its next N calls, makes the whole data plane unreachable (connections
are dropped without an answer) or takes a controller down. The admin paths
stay reachable while the array is "unreachable", like an out-of-band
management port, so a test can always heal the array.

Every call is appended to ``<data-dir>/audit.log`` (time, user, client,
operation, object, status, error code) and readable at ``/api/v1/audit``, so
a CI run can prove what it created and deleted. Passwords and CHAP secrets
never reach it.
"""

import hmac
import ipaddress
import json
import logging
import os
import re
import secrets
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from ci_tools.array import fc
from ci_tools.array.errors import ArrayError, invalid
from ci_tools.array.model import MAX_CHECKSUM_BYTES
from ci_tools.array.replication import Replication

LOG = logging.getLogger(__name__)
API = "/api/v1"
MAX_BODY = 64 * 1024 * 1024


ROLES = ("admin", "storage")


class Auth:
    """Sessions with expiry, roles, and a per-address throttle on failed logins.

    Failed logins are counted per client address, not per account: after
    ``lockout_after`` failures in a row an address is refused (429
    ``auth.throttled``) for ``lockout_s``, while every other address, the
    Cinder driver's included, still logs in. Each user has a role: ``admin``
    may do everything; ``storage`` may manage volumes, hosts and mappings but
    not the /admin paths (faults, controllers, unlock) nor read CHAP secrets.
    """

    def __init__(self, users, session_ttl=900, lockout_after=5, lockout_s=60):
        # users: {name: password} (admins) or {name: {"password", "role"}}
        self.users = {}
        for name, spec in dict(users).items():
            spec = spec if isinstance(spec, dict) else {"password": spec, "role": "admin"}
            if spec.get("role") not in ROLES:
                raise ValueError(f"user {name!r}: role must be one of {ROLES}")
            self.users[name] = {"password": spec["password"], "role": spec["role"]}
        self.session_ttl = session_ttl
        self.lockout_after = lockout_after
        self.lockout_s = lockout_s
        self.sessions = {}
        self.failures = {}  # client address -> (failures in a row, throttled until)
        self.lock = threading.Lock()

    def login(self, username, password, remote="local"):
        with self.lock:
            now = time.time()
            count, until = self.failures.get(remote, (0, 0))
            if until > now:
                raise ArrayError(
                    429,
                    "auth.throttled",
                    f"too many failed logins from {remote}; try again in {until - now:.0f}s",
                )
            user = self.users.get(username) if isinstance(username, str) else None
            if user is None or not hmac.compare_digest(
                user["password"].encode(), str(password).encode()
            ):
                count += 1
                until = now + self.lockout_s if count >= self.lockout_after else 0
                self.failures[remote] = (0 if until else count, until)
                raise ArrayError(401, "auth.failed", "wrong username or password")
            self.failures.pop(remote, None)
            token = secrets.token_urlsafe(24)
            expires = now + self.session_ttl
            self.sessions[token] = (username, expires)
            return {"token": token, "expires_at": expires, "ttl_s": self.session_ttl,
                    "role": user["role"]}  # fmt: skip

    def check(self, token):
        with self.lock:
            session = self.sessions.get(token or "")
            if session is None:
                raise ArrayError(401, "auth.required", "log in first (X-Auth-Token)")
            user, expires = session
            if expires < time.time():
                del self.sessions[token]
                raise ArrayError(401, "auth.expired", "session expired; log in again")
            return user

    def role(self, user):
        return self.users.get(user, {}).get("role")

    def logout(self, token):
        with self.lock:
            self.sessions.pop(token, None)

    def unlock(self, address=None):
        """Lift the throttle of one client address (every address without one)."""
        with self.lock:
            if address:
                self.failures.pop(address, None)
            else:
                self.failures.clear()


class Faults:
    """Injected misbehaviour, in memory (a restart heals the array)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.latency = {}  # op or "*" -> seconds
        self.errors = {}  # op or "*" -> {"remaining", "status", "code", "message"}
        self.unreachable_until = 0.0

    def view(self):
        with self.lock:
            return {
                "latency_ms": {k: int(v * 1000) for k, v in self.latency.items()},
                "errors": {k: dict(v) for k, v in self.errors.items()},
                "unreachable": self.unreachable_until > time.time(),
                "unreachable_until": self.unreachable_until or None,
            }

    def set(self, body):
        with self.lock:
            if "latency_ms" in body:
                op, ms = body.get("op", "*"), body["latency_ms"]
                if not isinstance(ms, int) or ms < 0:
                    raise invalid("latency_ms must be a non-negative integer")
                if ms:
                    self.latency[op] = ms / 1000
                else:
                    self.latency.pop(op, None)
            if "fail_next" in body:
                op, count = body.get("op", "*"), body["fail_next"]
                if not isinstance(count, int) or count < 0:
                    raise invalid("fail_next must be a non-negative integer")
                status = body.get("status", 500)
                if not isinstance(status, int) or not 400 <= status <= 599:
                    raise invalid("status must be an HTTP error status")
                self.errors[op] = {
                    "remaining": count,
                    "status": status,
                    "code": body.get("code", "array.internal_error"),
                    "message": body.get("message", "injected fault"),
                }
            if "unreachable_s" in body:
                secs = body["unreachable_s"]
                if not isinstance(secs, (int, float)) or secs < 0:
                    raise invalid("unreachable_s must be a non-negative number")
                self.unreachable_until = time.time() + secs if secs else 0.0
        return self.view()

    def clear(self):
        with self.lock:
            self.latency.clear()
            self.errors.clear()
            self.unreachable_until = 0.0

    def unreachable(self):
        return self.unreachable_until > time.time()

    def before(self, op):
        """Sleep for injected latency, then raise an injected error if one is due."""
        with self.lock:
            delay = self.latency.get(op, self.latency.get("*", 0))
            fault = None
            for key in (op, "*"):
                spec = self.errors.get(key)
                if spec and spec["remaining"] > 0:
                    spec["remaining"] -= 1
                    fault = dict(spec)
                    break
        if delay:
            time.sleep(delay)
        if fault:
            raise ArrayError(fault["status"], fault["code"], f"{fault['message']} ({op})")


class Audit:
    """Append-only JSON lines: who did what to which object, and how it ended."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()

    def record(self, **entry):
        entry["ts"] = round(time.time(), 3)
        line = json.dumps(entry, sort_keys=True)
        with self.lock, open(self.path, "a") as f:
            f.write(line + "\n")

    def read(self, since=0.0, op=None, limit=1000):
        out = []
        try:
            with self.lock, open(self.path) as f:
                for line in f:
                    entry = json.loads(line)
                    if entry["ts"] < since or (op and not entry["op"].startswith(op)):
                        continue
                    out.append(entry)
        except FileNotFoundError:
            pass
        return out[-limit:]


class Route:
    def __init__(self, method, pattern, op, func, admin=False, raw=False):
        self.method = method
        self.regex = re.compile("^" + API + pattern + "$")
        self.op = op
        self.func = func
        self.admin = admin  # admin role only; answers while "unreachable"
        self.raw = raw


class ArrayService:
    """Ties the model, auth, faults, audit, FC, replication and tgtd together."""

    def __init__(self, array, auth, audit, exporter=None):
        self.array = array
        self.auth = auth
        self.audit = audit
        self.faults = Faults()
        self.exporter = exporter
        self.replication = Replication(array)
        self.routes = self._routes()
        self._caller = threading.local()  # who the current request runs as

    def _routes(self):
        a, rep = self.array, self.replication
        R = Route
        return [
            R("GET", "/system", "system.get", lambda q, b: self.system()),
            R("GET", "/pools", "pool.list", lambda q, b: a.list_pools()),
            R("GET", "/pools/(?P<name>[^/]+)", "pool.get", lambda q, b, name: a.get_pool(name)),
            R("GET", "/volumes", "volume.list", lambda q, b: a.list_volumes(q.get("prefix"))),
            R("POST", "/volumes", "volume.create", lambda q, b: a.create_volume(b)),
            R("GET", "/volumes/(?P<name>[^/]+)", "volume.get",
              lambda q, b, name: a.get_volume(name)),
            R("PATCH", "/volumes/(?P<name>[^/]+)", "volume.update",
              lambda q, b, name: a.update_volume(name, b)),
            R("DELETE", "/volumes/(?P<name>[^/]+)", "volume.delete",
              lambda q, b, name: a.delete_volume(name, cascade=q.get("cascade") == "true")),
            R("POST", "/volumes/(?P<name>[^/]+)/revert", "volume.revert",
              lambda q, b, name: a.revert_volume(name, b)),
            R("GET", "/snapshots", "snapshot.list",
              lambda q, b: a.list_snapshots(q.get("volume"), q.get("prefix"))),
            R("POST", "/snapshots", "snapshot.create", lambda q, b: a.create_snapshot(b)),
            R("GET", "/snapshots/(?P<name>[^/]+)", "snapshot.get",
              lambda q, b, name: a.get_snapshot(name)),
            R("PATCH", "/snapshots/(?P<name>[^/]+)", "snapshot.update",
              lambda q, b, name: a.update_snapshot(name, b)),
            R("DELETE", "/snapshots/(?P<name>[^/]+)", "snapshot.delete",
              lambda q, b, name: a.delete_snapshot(name)),
            R("GET", "/hosts", "host.list", lambda q, b: self._list_hosts(q)),
            R("POST", "/hosts", "host.create", lambda q, b: a.create_host(b)),
            R("GET", "/hosts/(?P<name>[^/]+)", "host.get",
              lambda q, b, name: a.get_host(name, secrets_too=self._secrets_wanted(q))),
            R("PATCH", "/hosts/(?P<name>[^/]+)", "host.update",
              lambda q, b, name: a.update_host(name, b)),
            R("DELETE", "/hosts/(?P<name>[^/]+)", "host.delete",
              lambda q, b, name: a.delete_host(name)),
            R("GET", "/hosts/(?P<name>[^/]+)/connection", "host.connection",
              lambda q, b, name: self.connection(name, secrets_too=self._caller_is_admin())),
            R("GET", "/hostgroups", "hostgroup.list", lambda q, b: a.list_hostgroups()),
            R("POST", "/hostgroups", "hostgroup.create", lambda q, b: a.create_hostgroup(b)),
            R("PATCH", "/hostgroups/(?P<name>[^/]+)", "hostgroup.update",
              lambda q, b, name: a.update_hostgroup(name, b)),
            R("DELETE", "/hostgroups/(?P<name>[^/]+)", "hostgroup.delete",
              lambda q, b, name: a.delete_hostgroup(name)),
            R("GET", "/mappings", "mapping.list",
              lambda q, b: a.list_mappings(q.get("volume"), q.get("host"))),
            R("POST", "/mappings", "mapping.create", lambda q, b: a.create_mapping(b)),
            R("DELETE", "/mappings", "mapping.delete",
              lambda q, b: a.delete_mapping(q.get("volume"), q.get("host"), q.get("hostgroup"))),
            R("GET", "/fc/fabric", "fc.fabric", lambda q, b: fc.fabric(a)),
            R("GET", "/replication", "replication.get", lambda q, b: rep.view()),
            R("PUT", "/replication/peer", "replication.peer", lambda q, b: rep.set_peer(b)),
            R("POST", "/replication/groups", "replication.group_create",
              lambda q, b: rep.create_group(b)),
            R("GET", "/replication/groups/(?P<name>[^/]+)", "replication.group_get",
              lambda q, b, name: rep.get_group(name)),
            R("DELETE", "/replication/groups/(?P<name>[^/]+)", "replication.group_delete",
              lambda q, b, name: rep.delete_group(name)),
            R("POST", "/replication/groups/(?P<name>[^/]+)/volumes", "replication.group_add",
              lambda q, b, name: rep.add_volume(name, b)),
            R("DELETE", "/replication/groups/(?P<name>[^/]+)/volumes/(?P<vol>[^/]+)",
              "replication.group_remove", lambda q, b, name, vol: rep.remove_volume(name, vol)),
            R("POST", "/replication/groups/(?P<name>[^/]+)/sync", "replication.sync",
              lambda q, b, name: rep.sync(name)),
            R("POST", "/replication/groups/(?P<name>[^/]+)/promote", "replication.promote",
              lambda q, b, name: rep.promote(name)),
            R("POST", "/replication/groups/(?P<name>[^/]+)/demote", "replication.demote",
              lambda q, b, name: rep.demote(name)),
            R("PUT", "/replicas/(?P<name>[^/]+)", "replica.begin",
              lambda q, b, name: rep.receive_begin(name, b)),
            R("POST", "/replicas/(?P<name>[^/]+)/data", "replica.data",
              lambda q, b, name: rep.receive_data(name, _int(q.get("offset")), b), raw=True),
            R("POST", "/replicas/(?P<name>[^/]+)/commit", "replica.commit",
              lambda q, b, name: rep.receive_commit(name)),
            R("POST", "/replicas/groups/(?P<name>[^/]+)", "replica.group",
              lambda q, b, name: rep.receive_group(name, b)),
            R("GET", "/audit", "audit.read",
              lambda q, b: self.audit.read(float(q.get("since", 0)), q.get("op"))),
            R("GET", "/admin/faults", "admin.faults_get", lambda q, b: self.faults.view(),
              admin=True),
            R("POST", "/admin/faults", "admin.faults_set", lambda q, b: self.faults.set(b),
              admin=True),
            R("DELETE", "/admin/faults", "admin.faults_clear", lambda q, b: self.faults.clear(),
              admin=True),
            R("POST", "/admin/controllers/(?P<name>[^/]+)", "admin.controller",
              lambda q, b, name: self.set_controller(name, b.get("state")), admin=True),
            R("POST", "/admin/fabric/logins", "admin.fabric_login",
              lambda q, b: fc.login(a, b.get("wwpn"), b.get("logged_in", True)), admin=True),
            R("GET", "/admin/volumes/(?P<name>[^/]+)/checksum", "admin.volume_checksum",
              lambda q, b, name: self.volume_checksum(name, q), admin=True),
            R("POST", "/admin/unlock", "admin.unlock",
              lambda q, b: self.auth.unlock(b.get("address")), admin=True),
        ]  # fmt: skip

    # -- composite views ------------------------------------------------------

    def system(self):
        view = self.array.system()
        view["iscsi"] = {
            "enabled": self.exporter is not None,
            "portals": self.iscsi_portals(),
        }
        view["fc"] = {"emulated": True, "ports": fc.target_ports(self.array)}
        view["faults"] = self.faults.view()
        return view

    def iscsi_portals(self):
        if self.exporter is None:
            return []
        online = set(self.array.online_controllers())
        return [
            {"controller": c, "portal": p, "state": "online" if c in online else "offline"}
            for c, p in sorted(self.exporter.portals.items())
        ]

    def _list_hosts(self, q):
        if q.get("iqn") or q.get("wwpn"):
            try:
                return [self.array.find_host(iqn=q.get("iqn"), wwpn=q.get("wwpn"))]
            except ArrayError as exc:
                if exc.status == 404:
                    return []
                raise
        return self.array.list_hosts()

    # -- roles ----------------------------------------------------------------

    def _caller_is_admin(self):
        return self.auth.role(getattr(self._caller, "user", None)) == "admin"

    def _secrets_wanted(self, query):
        if query.get("secrets") != "true":
            return False
        if not self._caller_is_admin():
            raise ArrayError(403, "auth.forbidden", "reading CHAP secrets needs the admin role")
        return True

    def connection(self, host_name, secrets_too=True):
        """Everything an initiator needs for a host: iSCSI target, portals, CHAP, FC map.

        The CHAP secret is only shown to the admin role ("***" otherwise).
        """
        host = self.array.get_host(host_name, secrets_too=secrets_too)
        online = [p for p in self.iscsi_portals() if p["state"] == "online"]
        return {
            "host": host_name,
            "luns": {m["volume"]: m["lun"] for m in self.array.list_mappings(host=host_name)},
            "iscsi": {
                "target_iqn": host["target_iqn"],
                "portals": [p["portal"] for p in online],
                "chap": host.get("chap"),
            }
            if host["iqns"]
            else None,
            "fc": fc.connection(self.array, host_name) if host["wwpns"] else None,
        }

    def set_controller(self, name, state):
        result = self.array.set_controller(name, state)
        if self.exporter is not None:
            self.exporter.set_controller(name, state == "online")
        return result

    def volume_checksum(self, name, query):
        """``?offset=&length=`` (bytes): the SHA-256 of that range of the volume."""
        if "length" not in query:
            raise invalid(f"length is required (bytes, at most {MAX_CHECKSUM_BYTES})")
        return self.array.checksum_volume(name, _int(query.get("offset", 0)), _int(query["length"]))

    # -- dispatch -------------------------------------------------------------

    def dispatch(self, method, path, query, body, token, remote):
        """Run one call; returns (status, json-able body). Audits everything but reads of it."""
        route, params = None, {}
        self._caller.user = None
        for r in self.routes:
            m = r.regex.match(path)
            if m and r.method == method:
                route, params = r, m.groupdict()
                break
        user, op, status, code = None, "unknown", 200, None
        try:
            if path == API + "/auth/login" and method == "POST":
                op = "auth.login"
                user = body.get("username") if isinstance(body, dict) else None
                self.faults.before(op)
                password = body.get("password") if isinstance(body, dict) else None
                return 200, self.auth.login(user, password, remote)
            if path == API + "/auth/logout" and method == "POST":
                op = "auth.logout"
                user = self.auth.check(token)
                self.auth.logout(token)
                return 200, {}
            if route is None:
                raise ArrayError(404, "api.not_found", f"no API at {method} {path}")
            op = route.op
            user = self.auth.check(token)
            self._caller.user = user
            if route.admin and self.auth.role(user) != "admin":
                raise ArrayError(403, "auth.forbidden", f"{op} needs the admin role")
            if not route.admin:
                self.faults.before(op)
            if not route.raw and body is not None and not isinstance(body, dict):
                raise invalid("request body must be a JSON object")
            result = route.func(query, body if body is not None else {}, **params)
            return 200, result if result is not None else {}
        except ArrayError as exc:
            status, code = exc.status, exc.code
            return exc.status, exc.as_dict()
        except Exception as exc:  # a bug must still answer JSON and be audited
            LOG.exception("%s %s failed", method, path)
            status, code = 500, "array.internal_error"
            return 500, {"error": {"code": code, "message": f"{type(exc).__name__}: {exc}"}}
        finally:
            if op not in ("audit.read", "replica.data"):
                self.audit.record(
                    user=user,
                    remote=remote,
                    op=op,
                    method=method,
                    object=_object_of(params, body, op),
                    status=status,
                    code=code,
                )


def _object_of(params, body, op):
    if params.get("name"):
        return params["name"]
    if isinstance(body, dict) and not op.startswith("auth."):
        return body.get("name") or body.get("volume")
    return None


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise invalid(f"expected an integer, got {value!r}") from exc


def make_handler(service):
    class Handler(BaseHTTPRequestHandler):
        server_version = "refflash/1"
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            LOG.debug("%s " + fmt, self.address_string(), *args)

        def _handle(self):
            url = urlsplit(self.path)
            if service.faults.unreachable() and not url.path.startswith(API + "/admin/"):
                # An unreachable array answers nothing: drop the connection.
                self.close_connection = True
                self.connection.shutdown(2)
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._send(
                    413, {"error": {"code": "request.too_large", "message": "body too large"}}
                )
                return
            raw = self.rfile.read(length) if length else b""
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            body = None
            if raw and self.headers.get("Content-Type", "").startswith("application/octet-stream"):
                body = raw
            elif raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    self._send(400, invalid("request body is not JSON").as_dict())
                    return
            status, result = service.dispatch(
                self.command,
                url.path.rstrip("/"),
                query,
                body,
                self.headers.get("X-Auth-Token"),
                self.client_address[0],
            )
            self._send(status, result)

        def _send(self, status, result):
            data = json.dumps(result).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    return Handler


class ArrayHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


# Besides loopback, the documentation ranges (RFC 5737): a lab's management
# network inside network namespaces (ci-tools ztsp lab), never a real one.
LISTEN_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in ("127.0.0.0/8", "::1/128", "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
)


def check_listen_host(host):
    """Raise ValueError unless ``host`` is loopback or in a documentation range."""
    if host == "localhost":
        return
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{host!r} is not an IP address") from None
    if not any(addr in net for net in LISTEN_NETWORKS):
        raise ValueError(
            f"{host}: the array simulator listens on loopback or a documentation range "
            "(192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) only"
        )


def make_server(service, port, host="127.0.0.1", tls_cert=None, tls_key=None):
    """The API server; with ``tls_cert``/``tls_key`` (PEM files) it speaks HTTPS only."""
    check_listen_host(host)
    server = ArrayHTTPServer((host, port), make_handler(service))
    if tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(tls_cert, tls_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    return server


def audit_path(data_dir):
    return os.path.join(data_dir, "audit.log")
