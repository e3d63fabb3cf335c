"""tgtd's management socket, spoken directly: for requests that carry a secret.

``tgtadm --op new --mode account --user U --password P`` would put the CHAP
secret on a command line, readable by every local user in ``ps`` and
``/proc/<pid>/cmdline`` while it runs. tgtadm itself is only a client of
tgtd's management socket (``/var/run/tgtd/socket.<control port>``, or
``$TGT_IPC_SOCKET.<port>``): it writes a fixed ``struct tgtadm_req`` header
followed by ``key=value,...`` parameters ending in a NUL, and reads back
``struct tgtadm_rsp`` (error code, length) and any text. This module sends
the same bytes itself, so the secret only ever crosses a root-owned unix
socket. Layout from tgt's usr/tgtadm.h (1.0.8x, as Debian 12 ships).
"""

import os
import socket
import struct

# struct tgtadm_req: mode, op, lld[64], len, tid, sid, lun, cid, host_no,
# device_type, ac_dir, pack, force (natural alignment: 120 bytes)
REQ = struct.Struct("=ii64sIiQQIIIIII")
RSP = struct.Struct("=II")
OP_NEW = 0
MODE_ACCOUNT = 7
ERRORS = {  # enum tgtadm_errno
    14: "user already exists",
    15: "no such user",
    16: "too many users",
    17: "invalid request",
}


class TgtIPCError(Exception):
    pass


def socket_path(control_port):
    base = os.environ.get("TGT_IPC_SOCKET", "/var/run/tgtd/socket")
    return f"{base}.{int(control_port)}"


def request(control_port, mode, op, params, lld="iscsi", tid=-1, timeout=30.0):
    """Send one management request; returns tgtd's text answer or raises TgtIPCError."""
    body = params.encode() + b"\0"
    header = REQ.pack(mode, op, lld.encode(), REQ.size + len(body), tid, 0, 0, 0, 0, 0, 0, 0, 0)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(socket_path(control_port))
            sock.sendall(header + body)
            rsp = _recv_exactly(sock, RSP.size)
            err, length = RSP.unpack(rsp)
            text = _recv_exactly(sock, length - RSP.size) if length > RSP.size else b""
        except OSError as exc:
            raise TgtIPCError(f"tgtd management socket {socket_path(control_port)}: {exc}") from exc
    if err:
        raise TgtIPCError(f"tgtd refused the request: {ERRORS.get(err, f'error {err}')}")
    return text.rstrip(b"\0").decode(errors="replace")


def _recv_exactly(sock, size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise OSError("tgtd closed the socket")
        data += chunk
    return data


def new_account(control_port, user, password):
    """tgtadm --op new --mode account --user USER --password PASSWORD, off argv."""
    if "," in user or "\0" in user or "\0" in password:
        raise TgtIPCError("CHAP user names hold no ',' and neither part a NUL")
    request(control_port, MODE_ACCOUNT, OP_NEW, f"user={user},password={password}")
