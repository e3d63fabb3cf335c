"""TEST-ONLY zuul-web stand-in: the read-only endpoints ``ci-tools health`` uses.

Shapes as Zuul 14's zuul-web answers them: ``/api/components`` maps a
component kind to ``[{hostname, state, version}]`` (a stopped component is
absent), ``/api/tenant/<t>/status`` has ``pipelines[].change_queues[].heads``
and the tenant's event queue lengths; ``/api/tenant/<t>/buildsets`` answers ``[]``
as Zuul does before any periodic canary ran. The real stack is exercised in
test_health.py's real-Zuul test; this one makes the states cheap to flip.
"""

import http.server
import json
import threading


class TestOnlyZuulWeb:
    def __init__(self, tenant):
        self.tenant = tenant
        self.components = {
            kind: [{"hostname": "ci.example.org", "state": "running", "version": "14.3.0"}]
            for kind in ("scheduler", "executor", "merger", "web", "launcher")
        }
        self.queued_items = 0
        self.trigger_events = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, fmt, *args):
                pass

            def do_GET(self):
                if self.path == "/api/components":
                    body = server.components
                elif self.path == f"/api/tenant/{server.tenant}/status":
                    body = server.status()
                elif self.path.startswith(f"/api/tenant/{server.tenant}/buildsets"):
                    body = []  # as Zuul answers when no build matches (no canary ran yet)
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def status(self):
        heads = [[{"id": f"{n},1"}] for n in range(self.queued_items)]
        return {
            "zuul_version": "14.3.0",
            "trigger_event_queue": {"length": self.trigger_events},
            "management_event_queue": {"length": 0},
            "pipelines": [{"name": "check", "change_queues": [{"name": "q", "heads": heads}]}],
        }

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
