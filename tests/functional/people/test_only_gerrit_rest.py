"""TEST-ONLY Gerrit REST server on loopback, until the Gerrit emulator can be populated.

Speaks the shapes ``ci-tools status`` and ``recheck`` use: the ``)]}'``
guard, ``GET [/a]/changes/?q=&n=&S=&o=`` with ``_more_changes`` on a page's
last change (sorted by ``updated``, newest first, as Gerrit does), project,
branch and ``-age:Nd`` terms of the query, basic auth under ``/a/``, and
``POST /a/changes/<id>/revisions/<rev>/review``. Faults for the retry tests:
``faults`` is a queue taken one per request: ``"503"`` answers Service
Unavailable, a number holds the request that many seconds (longer than the
client's timeout) before answering.
"""

import base64
import datetime
import http.server
import json
import re
import threading
import time
import urllib.parse

GUARD = ")]}'\n"


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # clients that timed out on purpose close early; not worth a traceback


class TestOnlyGerritREST:
    def __init__(self, changes, now, users=None):
        self.changes = sorted(changes, key=lambda c: c["updated"], reverse=True)
        self.now = now
        self.users = users or {}
        self.requests = []
        self.reviews = []
        self.faults = []
        self.lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, fmt, *args):
                pass

            def do_GET(self):
                server.handle(self, "GET")

            def do_POST(self):
                server.handle(self, "POST")

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- request handling ------------------------------------------------------

    def _reply(self, handler, code, body=None, raw=None):
        data = raw if raw is not None else (GUARD + json.dumps(body)).encode()
        handler.send_response(code)
        handler.send_header("Content-Type", "application/json; charset=UTF-8")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _authorized(self, handler):
        header = handler.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return self.users.get(user) == password

    def handle(self, handler, method):
        url = urllib.parse.urlsplit(handler.path)
        with self.lock:
            self.requests.append((method, handler.path, time.monotonic()))
            fault = self.faults.pop(0) if self.faults else None
        if fault == "503":
            return self._reply(handler, 503, raw=b"Service Unavailable")
        if fault is not None:
            time.sleep(fault)  # the client has given up by now; its retry comes next
            return
        path = url.path
        if path.startswith("/a/"):
            if not self._authorized(handler):
                return self._reply(handler, 401, raw=b"Unauthorized")
            path = path[2:]
        if method == "GET" and path == "/changes/":
            return self._reply(handler, 200, self.query(urllib.parse.parse_qs(url.query)))
        match = re.fullmatch(r"/changes/([^/]+)/revisions/([^/]+)/review", path)
        if method == "POST" and match and url.path.startswith("/a/"):
            body = json.loads(handler.rfile.read(int(handler.headers["Content-Length"])))
            with self.lock:
                self.reviews.append((urllib.parse.unquote(match.group(1)), match.group(2), body))
            return self._reply(handler, 200, {"labels": body.get("labels", {})})
        return self._reply(handler, 404, raw=b"Not found")

    def query(self, params):
        q = params.get("q", [""])[0]
        n = int(params.get("n", ["500"])[0])
        start = int(params.get("S", ["0"])[0])
        projects = re.findall(r"project:(\S+?)\)?(?:\s|$)", q)
        branches = re.findall(r"branch:(\S+?)\)?(?:\s|$)", q)
        age = re.search(r"-age:(\d+)d", q)
        since = self.now - datetime.timedelta(days=int(age.group(1))) if age else None
        hits = []
        for change in self.changes:
            if projects and change["project"] not in projects:
                continue
            if branches and change["branch"] not in branches:
                continue
            updated = datetime.datetime.strptime(change["updated"][:19], "%Y-%m-%d %H:%M:%S")
            if since and updated.replace(tzinfo=datetime.UTC) < since:
                continue
            hits.append(dict(change))
        page = hits[start : start + n]
        if page and start + n < len(hits):
            page[-1]["_more_changes"] = True
        if "MESSAGES" not in params.get("o", []):
            for change in page:
                change.pop("messages", None)
        return page
