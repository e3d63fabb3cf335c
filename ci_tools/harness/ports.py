"""Free loopback ports for services that cannot bind port 0 themselves."""

import random
import socket
import threading
import time

# Ports handed out below the kernel's ephemeral range: a port bound to 0 and
# released comes from that range, where any outgoing connection on a busy host
# (pip, ssh, ZooKeeper clients) may take it before the service binds it; one
# CI run lost a Zuul executor to that ("Address already in use").
FIRST = 20000
_given = set()
_lock = threading.Lock()


def _ephemeral_low(path="/proc/sys/net/ipv4/ip_local_port_range"):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port(host="127.0.0.1"):
    """A TCP port that was free a moment ago on ``host``, never one this
    process gave out before.

    Picked at random between FIRST and the ephemeral range (the kernel's
    choice when that range starts too low to leave room). There is still a
    window before the service binds it, which is why callers start services
    right after asking.
    """
    high = _ephemeral_low()
    with _lock:
        if high - FIRST >= 1000:
            for _ in range(200):
                port = random.randrange(FIRST, high)
                if port not in _given and check_free(port, host) and _unused(port, host):
                    _given.add(port)
                    return port
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = sock.getsockname()[1]
        _given.add(port)
        return port


def _unused(port, host):
    """Nothing answers on it (check_free's SO_REUSEADDR bind succeeds beside a
    socket in TIME_WAIT, and on some kernels beside a listener on 0.0.0.0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) != 0


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
