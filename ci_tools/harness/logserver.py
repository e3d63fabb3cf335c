"""A static HTTP server on loopback for published build logs.

Production sites serve their log root with Apache or nginx; the sandbox
only needs the links Zuul reports to open, so the stdlib server does. Like
a production log server it allows any origin to read (CORS): zuul-web's
build page fetches zuul-manifest.json and the files from the browser.
"""

import functools
import http.server
import threading


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args):  # keep test output readable
        pass

    def end_headers(self):
        self.send_header("Access-Control-Allow-Origin", "*")
        super().end_headers()


class LogServer:
    def __init__(self, root, port=0):
        self.root = root
        handler = functools.partial(_QuietHandler, directory=root)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.port = self.httpd.server_address[1]
        self.thread = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/"

    def start(self):
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
