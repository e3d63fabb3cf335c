"""The HTTP front end: Gerrit's REST API, smart-HTTP git and the emulator's admin API.

REST answers start with the ``)]}'`` guard line, as upstream. ``/a/...`` needs
HTTP Basic auth (as Gerrit 3.10: no digest); the same paths without ``/a`` are
anonymous reads. Git URLs (``/<project>/info/refs``, ``/a/<project>/git-upload-pack``
...) go to ``git http-backend``. ``/tools/hooks/commit-msg`` is the Change-Id
hook git-review fetches. ``/_emulator/...`` is the admin API for the CLI and
the test fixture, guarded by the token in ``<data-dir>/admin-token``.

Every request body is read (or refused) before any handler runs: a negative or
malformed ``Content-Length`` is a 400, a body over the cap (chunked ones too)
a 413 with the connection closed. So every early answer (401, 403, an injected
5xx) leaves the keep-alive connection clean for the client's retry.
"""

import hmac
import json
import logging
import os
import re
import socket
import subprocess
import threading
import time
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import json5

from ci_tools.gerrit import model
from ci_tools.gerrit.auth import Authenticator
from ci_tools.gerrit.commit_msg import COMMIT_MSG_HOOK
from ci_tools.gerrit.service import GerritError, NotFound

LOG = logging.getLogger(__name__)
GUARD = ")]}'\n"
GIT_PATH_RE = re.compile(
    r"^/(?P<project>.+?)(?:\.git)?/(?P<rest>info/refs|git-upload-pack|git-receive-pack|HEAD)$"
)
# Body caps: REST inputs are small JSON; git bodies carry a push's pack.
MAX_REST_BODY = 4 * 1024 * 1024
MAX_GIT_BODY = 256 * 1024 * 1024


class Faults:
    """REST faults for reliability tests: delay or fail the next N calls."""

    def __init__(self):
        self._lock = threading.Lock()
        self.delay_calls = 0
        self.delay_seconds = 0.0
        self.fail_calls = 0
        self.fail_status = 503

    def set(self, delay_calls=None, delay_seconds=None, fail_calls=None, fail_status=None):
        with self._lock:
            if delay_calls is not None:
                self.delay_calls = int(delay_calls)
            if delay_seconds is not None:
                self.delay_seconds = float(delay_seconds)
            if fail_calls is not None:
                self.fail_calls = int(fail_calls)
            if fail_status is not None:
                self.fail_status = int(fail_status)

    def take(self):
        """(delay seconds, status to fail with or None) for one incoming call."""
        with self._lock:
            delay = 0.0
            if self.delay_calls > 0:
                self.delay_calls -= 1
                delay = self.delay_seconds
            status = None
            if self.fail_calls > 0:
                self.fail_calls -= 1
                status = self.fail_status
            return delay, status

    def state(self):
        with self._lock:
            return {
                "delay_calls": self.delay_calls,
                "delay_seconds": self.delay_seconds,
                "fail_calls": self.fail_calls,
                "fail_status": self.fail_status,
            }


class HTTPError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without this, delayed ACKs add 40 ms
    # to every keep-alive response.
    disable_nagle_algorithm = True
    server_version = "GerritCodeReview/" + model.VERSION
    # A client that stops sending mid-request frees its thread after this long.
    timeout = 120

    @property
    def gerrit(self):
        return self.server.gerrit

    def log_message(self, fmt, *args):
        LOG.debug("%s " + fmt, self.address_string(), *args)

    # -- plumbing --------------------------------------------------------------

    def _body(self):
        return self._request_body

    def _read_body(self, limit):
        """The whole request body, read before any handler; HTTPError when it is
        malformed (400) or over ``limit`` (413)."""
        encoding = self.headers.get("Transfer-Encoding", "").strip().lower()
        lengths = self.headers.get_all("Content-Length") or []
        if encoding:
            if encoding != "chunked" or lengths:
                raise HTTPError(400, "Bad request: unsupported Transfer-Encoding")
            return self._read_chunked(limit)
        if not lengths:
            return b""
        if len(lengths) > 1 or not lengths[0].strip().isdigit():
            raise HTTPError(400, "Bad request: invalid Content-Length")
        length = int(lengths[0].strip())
        if length > limit:
            raise HTTPError(413, f"Request body too large (limit {limit} bytes)")
        data = self.rfile.read(length) if length else b""
        if len(data) != length:
            raise HTTPError(400, "Bad request: body shorter than Content-Length")
        return data

    def _read_chunked(self, limit):
        chunks, total = [], 0
        while True:
            line = self.rfile.readline(1024)
            size_text = line.split(b";")[0].strip()
            if not line.endswith(b"\n") or not re.fullmatch(rb"[0-9A-Fa-f]{1,16}", size_text):
                raise HTTPError(400, "Bad request: invalid chunk size")
            size = int(size_text, 16)
            if size == 0:
                for _ in range(100):  # trailers end with an empty line
                    if self.rfile.readline(8192) in (b"\r\n", b"\n", b""):
                        break
                return b"".join(chunks)
            total += size
            if total > limit:
                raise HTTPError(413, f"Request body too large (limit {limit} bytes)")
            data = self.rfile.read(size)
            if len(data) != size or self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise HTTPError(400, "Bad request: truncated chunk")
            chunks.append(data)

    def _send(self, status, body, content_type="text/plain; charset=UTF-8", headers=None):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _json(self, data, status=200):
        self._send(
            status, GUARD + json.dumps(data, indent=None) + "\n", "application/json; charset=UTF-8"
        )

    def _challenge(self):
        self._send(
            401, "Unauthorized\n", headers={"WWW-Authenticate": self.server.auth.challenge()}
        )

    def _account(self):
        return self.server.auth.authenticate(
            self.headers.get("Authorization"), self.command, self.path
        )

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_PUT(self):
        self._dispatch()

    def do_DELETE(self):
        self._dispatch()

    def do_HEAD(self):
        self._dispatch()

    def _body_limit(self):
        raw_path = self.path.partition("?")[0]
        if raw_path.endswith(("/git-receive-pack", "/git-upload-pack")):
            return MAX_GIT_BODY
        return MAX_REST_BODY

    def handle_expect_100(self):
        # A body announced over the cap gets its 413 instead of "100 Continue".
        lengths = self.headers.get_all("Content-Length") or []
        if len(lengths) == 1 and lengths[0].strip().isdigit():
            if int(lengths[0].strip()) > self._body_limit():
                self._refuse_body(HTTPError(413, "Request body too large"))
                return False
        return super().handle_expect_100()

    def _refuse_body(self, exc):
        """Answer a body we will not read, then close without resetting the
        connection under the answer (read and drop what is in flight, briefly)."""
        self.close_connection = True
        self._send(exc.status, exc.message + "\n", headers={"Connection": "close"})
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(1)
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline and self.connection.recv(65536):
                pass
        except OSError:
            pass

    def _dispatch(self):
        try:
            self._request_body = self._read_body(self._body_limit())
        except HTTPError as exc:
            # What is left of the body cannot be told from the next request.
            self._refuse_body(exc)
            return
        except (OSError, ValueError):
            self.close_connection = True
            return
        try:
            self._route()
        except HTTPError as exc:
            self._send(exc.status, exc.message.rstrip("\n") + "\n")
        except GerritError as exc:
            self._send(exc.status, exc.message.rstrip("\n") + "\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception:
            LOG.exception("%s %s failed", self.command, self.path)
            self._send(500, "Internal server error\n")
        finally:
            self.gerrit.set_request_account(None)

    def _route(self):
        raw_path, _, qs = self.path.partition("?")
        if raw_path.startswith("/_emulator/"):
            return self._admin(raw_path[len("/_emulator/") :], qs)
        if raw_path == "/tools/hooks/commit-msg" and self.command in ("GET", "HEAD"):
            return self._send(200, COMMIT_MSG_HOOK, "application/octet-stream")
        authed = raw_path == "/a" or raw_path.startswith("/a/")
        path = raw_path[2:] if authed else raw_path
        # /p/<project> is Gerrit's older git URL, still gertty's default.
        git_path = urllib.parse.unquote(path)
        git = GIT_PATH_RE.match(
            git_path.removeprefix("/p") if git_path.startswith("/p/") else git_path
        )
        if git and not self.gerrit.store.project(git.group("project")):
            git = None
        if not git:
            # Injected faults hit REST calls only, not git traffic.
            delay, fail = self.server.faults.take()
            if delay:
                time.sleep(delay)
            if fail:
                raise HTTPError(fail, HTTPStatus(fail).phrase)
        account = None
        if authed:
            account = self._account()
            if account is None:
                return self._challenge()
        self.gerrit.set_request_account(account)
        if git:
            return self._git(git.group("project"), git.group("rest"), qs, account)
        if self.command not in ("GET", "HEAD") and account is None:
            return self._challenge()
        segments = [urllib.parse.unquote(s) for s in path.strip("/").split("/")]
        params = urllib.parse.parse_qs(qs, keep_blank_values=True)
        body = None
        if self.command in ("POST", "PUT"):
            body = self._parse_body()
        return self._rest(segments, params, account, body, path.endswith("/"))

    def _parse_body(self):
        raw = self._body()
        if not raw.strip():
            return {}
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            # Gerrit parses request bodies leniently (Gson): single quotes and
            # unquoted names, as in pygerrit2's str(dict) reviews, are accepted.
            try:
                data = json5.loads(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise HTTPError(400, f"Invalid JSON in request: {exc}") from exc
        if not isinstance(data, dict):
            raise HTTPError(400, f"Expected JSON object, got {type(data).__name__}")
        return data

    # -- REST --------------------------------------------------------------------

    def _rest(self, seg, params, account, body, trailing_slash):
        g = self.gerrit
        method = self.command
        head = seg[0] if seg else ""
        if seg == ["config", "server", "version"]:
            return self._json(model.VERSION)
        if seg == ["config", "server", "info"]:
            return self._json(server_info(g))
        if head == "accounts" and len(seg) >= 2:
            return self._accounts(seg, account)
        if head == "projects":
            return self._projects(seg, params)
        if head == "groups":
            return self._groups(seg, account)
        if head == "changes":
            if len(seg) == 1 or (len(seg) == 2 and seg[1] == ""):
                if method != "GET":
                    raise HTTPError(405, "Method not allowed")
                return self._query(params)
            return self._change(seg[1:], params, account, body)
        raise HTTPError(404, "Not found")

    def _accounts(self, seg, account):
        who = seg[1]
        if who == "self":
            if account is None:
                raise HTTPError(403, "Authentication required")
            target = account
        else:
            target = (
                self.gerrit.store.account(int(who))
                if who.isdigit()
                else self.gerrit.store.account_by_username(who)
            )
            if not target:
                raise HTTPError(404, f"Account '{who}' not found")
        if len(seg) == 2 or seg[2] == "detail":
            return self._json(model.account_rest(target))
        store = self.gerrit.store
        if seg[2] == "groups":
            return self._json([model.group_rest(g) for g in store.groups_of(target)])
        if seg[2] == "capabilities":
            if account is None or (account["id"] != target["id"] and not account["is_admin"]):
                raise HTTPError(403, "Authentication required")
            caps = {}
            if target["is_admin"]:
                caps["administrateServer"] = True
            if store.has_permission(target, "streamEvents"):
                caps["streamEvents"] = True
            return self._json(caps)
        if seg[2] == "starred.changes":
            return self._json([])
        raise HTTPError(404, "Not found")

    def _visible_groups(self, account):
        store = self.gerrit.store
        mine = {g["id"] for g in store.groups_of(account)} if account else set()
        return [
            g
            for g in store.groups()
            if g["visible_to_all"] or g["id"] in mine or (account and account["is_admin"])
        ]

    def _groups(self, seg, account):
        """GET /groups/ and /groups/<id>[/detail|/members/], as visible to the caller
        (visible-to-all groups, the caller's own, or all for an administrator)."""
        if self.command not in ("GET", "HEAD"):
            raise HTTPError(405, "Method not allowed")
        visible = self._visible_groups(account)
        if len(seg) == 1 or seg[1] == "":
            return self._json({g["name"]: model.group_rest(g, with_name=False) for g in visible})
        group = self.gerrit.store.group(seg[1].removeprefix("uuid-"))
        if group is None or group["id"] not in {g["id"] for g in visible}:
            raise HTTPError(404, f"Not found: {seg[1]}")
        rest = [s for s in seg[2:] if s]
        if not rest or rest == ["detail"]:
            info = model.group_rest(group)
            if rest:
                members = self.gerrit.store.group_members(group["id"])
                info["members"] = [model.account_rest(a) for a in members]
                info["includes"] = []
            return self._json(info)
        if rest == ["members"]:
            members = self.gerrit.store.group_members(group["id"])
            return self._json([model.account_rest(a) for a in members])
        raise HTTPError(404, "Not found")

    def _projects(self, seg, params):
        g = self.gerrit
        if len(seg) == 1 or seg[1] == "":
            prefix = params.get("p", [""])[0]
            out = {}
            for p in g.store.projects():
                if p["name"].startswith(prefix):
                    entry = {"id": urllib.parse.quote(p["name"], safe=""), "state": "ACTIVE"}
                    if "d" in params and p["description"]:
                        entry["description"] = p["description"]
                    out[p["name"]] = entry
            return self._json(out)
        name = seg[1]
        project = g.store.project(name)
        if not project:
            raise HTTPError(404, f"Not found: {name}")
        if len(seg) == 2:
            info = {
                "id": urllib.parse.quote(name, safe=""),
                "name": name,
                "parent": "All-Projects",
                "state": "ACTIVE",
            }
            if project["description"]:
                info["description"] = project["description"]
            return self._json(info)
        if seg[2] == "HEAD":
            return self._json(g.repos.head(name))
        if seg[2] == "branches":
            branches = g.repos.branches(name)
            if len(seg) > 3 and seg[3]:
                branch = seg[3].removeprefix("refs/heads/")
                if branch not in branches:
                    raise HTTPError(404, f"Not found: {seg[3]}")
                return self._json({"ref": f"refs/heads/{branch}", "revision": branches[branch]})
            head = g.repos.head(name).removeprefix("refs/heads/")
            out = [{"ref": "HEAD", "revision": head}]
            out += [
                {"ref": f"refs/heads/{b}", "revision": sha} for b, sha in sorted(branches.items())
            ]
            return self._json(out)
        raise HTTPError(404, "Not found")

    def _query(self, params):
        queries = params.get("q") or ["status:open"]
        opts = set(params.get("o", []))
        limit = int(params.get("n", params.get("limit", ["500"]))[0] or 500)
        start = int(params.get("start", params.get("S", ["0"]))[0] or 0)
        results = []
        for q in queries:
            try:
                changes, more = self.gerrit.query(q, start, limit)
            except GerritError as exc:
                raise HTTPError(400, exc.message) from exc
            batch = [model.change_info(self.gerrit, c, opts) for c in changes]
            if more and batch:
                batch[-1]["_more_changes"] = True
            results.append(batch)
        return self._json(results[0] if len(queries) == 1 else results)

    def _change(self, seg, params, account, body):
        g = self.gerrit
        change = g.find_change(seg[0])
        opts = set(params.get("o", []))
        method = self.command
        rest = seg[1:]
        if not rest or rest == ["detail"]:
            return self._json(model.change_info(g, change, opts, detail=rest == ["detail"]))
        if rest == ["messages"]:
            return self._json(
                [model.message_rest(g, m) for m in g.store.messages(change["number"])]
            )
        if rest in (["comments"], ["robotcomments"], ["drafts"]):
            return self._json({})
        if rest in (["topic"],) and method == "GET":
            return self._json(change["topic"] or "")
        if rest == ["submit"] and method == "POST":
            return self._json(model.change_info(g, g.submit(change, account)))
        if rest == ["abandon"] and method == "POST":
            message = _text(body, "message")
            return self._json(model.change_info(g, g.abandon(change, account, message)))
        if rest == ["restore"] and method == "POST":
            message = _text(body, "message")
            return self._json(model.change_info(g, g.restore(change, account, message)))
        if rest[0] == "revisions" and len(rest) >= 2:
            ps = g.find_patchset(change, rest[1])
            sub = rest[2:]
            if sub == ["review"] and method == "POST":
                return self._review(change, ps, account, body)
            if sub == ["related"]:
                return self._json(model.related_rest(g, change, ps))
            if sub == ["files"] or sub == ["files", ""]:
                return self._json(model.files_rest(g.files(change["project"], ps["revision"])))
            if sub == ["commit"]:
                return self._json(
                    model.commit_rest(g.commit(change["project"], ps["revision"]), with_sha=True)
                )
            if sub in (["comments"], ["robotcomments"], ["drafts"]):
                return self._json({})
            if sub == ["review"] and method == "GET":
                return self._json(model.change_info(g, change, {"CURRENT_REVISION"}, detail=True))
        raise HTTPError(404, "Not found")

    def _review(self, change, ps, account, body):
        message = _text(body, "message")
        tag = _text(body, "tag")
        labels = body.get("labels") or {}
        if not isinstance(labels, dict):
            raise HTTPError(400, "labels must be an object of label name -> value")
        for name, value in labels.items():
            if not isinstance(value, (int, str)) or isinstance(value, bool):
                raise HTTPError(400, f"label {name}: value must be a number")
        for key in ("comments", "robot_comments"):
            if key in body and not isinstance(body[key], dict):
                raise HTTPError(400, f"{key} must be an object of file path -> list")
        strict = body.get("strict_labels", True) is not False
        result = self.gerrit.review(change, ps, account, message, labels, tag, strict=strict)
        return self._json(result)

    # -- git over HTTP -----------------------------------------------------------

    def _git(self, project, rest, qs, account):
        wants_push = rest == "git-receive-pack" or "service=git-receive-pack" in qs
        if wants_push and account is None:
            return self._challenge()
        g = self.gerrit
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": g.repos.root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": f"/{project}.git/{rest}",
            "REQUEST_METHOD": self.command,
            "QUERY_STRING": qs,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "REMOTE_ADDR": self.client_address[0],
            **g.hook_env(project, account),
        }
        if account:
            env["REMOTE_USER"] = account["username"]
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        body = self._body() if self.command == "POST" else b""
        env["CONTENT_LENGTH"] = str(len(body))
        if rest == "git-receive-pack" and self.command == "POST":
            # The push's changes exist before the client sees the end of the reply.
            with g.project_lock(project):
                before = g.repos.refs(project)
                self._cgi(env, body, after=lambda: g.process_push(project, account, before))
        else:
            self._cgi(env, body)

    def _cgi(self, env, body, after=None):
        """Run git http-backend and stream its reply (packs can be large) chunked;
        ``after`` runs once the backend has exited, before the last chunk."""
        proc = subprocess.Popen(
            ["git", "http-backend"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )

        def feed():
            try:
                proc.stdin.write(body)
                proc.stdin.close()
            except OSError:
                pass

        errors = []
        threading.Thread(target=feed, daemon=True).start()
        threading.Thread(target=lambda: errors.append(proc.stderr.read()), daemon=True).start()
        status, headers = 200, {}
        for raw in iter(proc.stdout.readline, b""):
            line = raw.decode("latin-1").strip()
            if not line:
                break
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.split()[0])
            else:
                headers[key.strip()] = value.strip()
        else:
            proc.wait()
            message = b"".join(errors).decode(errors="replace") or "git http-backend failed"
            raise HTTPError(500, message)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in iter(lambda: proc.stdout.read1(65536), b""):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        proc.wait()
        if after:
            after()
        self.wfile.write(b"0\r\n\r\n")

    # -- admin API -------------------------------------------------------------------

    def _admin(self, action, qs):
        token = self.headers.get("X-Emulator-Token", "")
        if not hmac.compare_digest(token, self.server.admin_token):
            raise HTTPError(403, "bad or missing X-Emulator-Token")
        g = self.gerrit
        body = self._parse_body() if self.command == "POST" else {}
        if action == "health":
            return self._json({"ok": True, "stream_clients": g.bus.subscriber_count})
        if action == "events":
            since = int(urllib.parse.parse_qs(qs).get("since", ["0"])[0])
            return self._json([{"seq": s, "event": e} for s, e in g.store.events(since)])
        if action == "faults":
            if self.command == "POST":
                if body.get("drop_streams"):
                    body["dropped"] = g.bus.drop_all()
                if "pause_events" in body:
                    g.bus.pause() if body["pause_events"] else g.bus.resume()
                self.server.faults.set(
                    **{
                        k: body[k]
                        for k in ("delay_calls", "delay_seconds", "fail_calls", "fail_status")
                        if k in body
                    }
                )
            return self._json(
                {
                    **self.server.faults.state(),
                    "paused": g.bus.paused,
                    "stream_clients": g.bus.subscriber_count,
                }
            )
        if action == "push" and self.command == "POST":
            account = self._admin_account(body)
            change = g.find_change(body["change"]) if body.get("change") else None
            files = body.get("files") or {}
            if not isinstance(files, dict) or not all(
                isinstance(v, str) or v is None for v in files.values()
            ):
                raise HTTPError(400, "files must be an object of path -> text (or null)")
            if not change and not body.get("project"):
                raise HTTPError(400, "project is required for a new change")
            result = g.upload_files(
                body.get("project") or (change and change["project"]),
                body.get("branch", "master"),
                files,
                body.get("message", ""),
                account,
                change,
            )
            return self._json(result)
        if action == "receive" and self.command == "POST":
            # The proc-receive hook of a push in progress (which holds the project lock).
            account = self._admin_account(body)
            commands = body.get("commands") or []
            push_options = body.get("push_options") or []
            return self._json(g.receive(body.get("project", ""), account, commands, push_options))
        if action == "comment" and self.command == "POST":
            account = self._admin_account(body)
            change = g.find_change(body.get("change", ""))
            ps = g.find_patchset(change, body.get("patchset"))
            labels = body.get("labels") or {}
            g.review(change, ps, account, _text(body, "message"), labels, strict=True)
            return self._json({"number": change["number"], "patchset": ps["number"]})
        raise HTTPError(404, f"unknown admin action {action}")

    def _admin_account(self, body):
        username = body.get("account")
        account = self.gerrit.store.account_by_username(username) if username else None
        if not account:
            raise HTTPError(400, f"unknown account {username!r}")
        return account


def _text(body, key):
    value = (body or {}).get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise HTTPError(400, f"{key} must be a string")
    return value


def server_info(g):
    return {
        "accounts": {"visibility": "ALL", "default_display_name": "FULL_NAME"},
        "auth": {
            "auth_type": "HTTP",
            "use_contributor_agreements": False,
            "editable_account_fields": ["FULL_NAME", "REGISTER_NEW_EMAIL"],
            "git_basic_auth_policy": "HTTP",
        },
        "change": {
            "allow_blame": True,
            "update_delay": 300,
            "submit_whole_topic": False,
            "mergeability_computation_behavior": "NEVER",
        },
        "download": {
            "schemes": {
                "anonymous http": {"url": f"{g.base_url}/${{project}}", "is_auth_required": False},
                "http": {"url": f"{g.base_url}/a/${{project}}", "is_auth_required": True},
                "ssh": {
                    "url": f"ssh://{g.ssh_host}:{g.ssh_port}/${{project}}",
                    "is_auth_required": True,
                },
            },
            "archives": [],
        },
        "gerrit": {"all_projects": "All-Projects", "all_users": "All-Users", "doc_search": False},
        "note_db_enabled": True,
        "sshd": {},
        "suggest": {"from": 0},
        "user": {"anonymous_coward_name": "Name of user not set"},
        "receive": {"enable_signed_push": False},
    }


class RESTServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, gerrit, admin_token, host="127.0.0.1", port=8080):
        super().__init__((host, port), Handler)
        self.gerrit = gerrit
        self.auth = Authenticator(gerrit.store)
        self.faults = Faults()
        self.admin_token = admin_token


__all__ = ["RESTServer", "Faults", "NotFound"]
