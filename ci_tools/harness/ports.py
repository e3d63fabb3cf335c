"""Free loopback ports for services that cannot bind port 0 themselves."""

import socket
import time


def free_port(host="127.0.0.1"):
    """A TCP port that was free a moment ago on ``host``.

    The kernel picks it; there is an unavoidable window before the service
    binds it, which is why callers start services right after asking.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_for_port(port, host="127.0.0.1", timeout=30.0):
    """True once something accepts TCP connections on host:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def check_free(port, host="127.0.0.1"):
    """True when ``port`` can be bound on ``host`` right now (SO_REUSEADDR, as servers do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True
