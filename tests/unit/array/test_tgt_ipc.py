"""tgtd's management protocol as tgt_ipc speaks it, against a fake tgtd socket."""

import os
import socket
import struct
import threading

import fixtures
import testtools

from ci_tools.array import tgt_ipc


class FakeTgtd:
    """Accepts one request on $TGT_IPC_SOCKET.<port>, records it, answers ``err``."""

    def __init__(self, base, port, err=0):
        self.path = f"{base}.{port}"
        self.err = err
        self.request = None
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(1)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conn, _ = self.sock.accept()
        with conn:
            header = conn.recv(tgt_ipc.REQ.size, socket.MSG_WAITALL)
            fields = tgt_ipc.REQ.unpack(header)
            body = conn.recv(fields[3] - tgt_ipc.REQ.size, socket.MSG_WAITALL)
            self.request = (fields, body)
            conn.sendall(struct.pack("=II", self.err, 8))

    def close(self):
        self.thread.join(5)
        self.sock.close()


class TgtIPCTest(testtools.TestCase):
    def setUp(self):
        super().setUp()
        tmp = self.useFixture(fixtures.TempDir()).path
        self.base = os.path.join(tmp, "socket")
        self.useFixture(fixtures.EnvironmentVariable("TGT_IPC_SOCKET", self.base))

    def test_header_layout_is_tgtadm_req(self):
        # 2 enums, lld[64], len, tid, sid, lun, cid, host_no, device_type, ac_dir, pack, force
        self.assertEqual(120, tgt_ipc.REQ.size)

    def test_new_account_sends_user_and_password_in_the_body(self):
        tgtd = FakeTgtd(self.base, 4242)
        tgt_ipc.new_account(4242, "host-chap", "s3cret-s3cret")
        tgtd.close()
        fields, body = tgtd.request
        mode, op, lld, length, tid = fields[:5]
        self.assertEqual((tgt_ipc.MODE_ACCOUNT, tgt_ipc.OP_NEW, -1), (mode, op, tid))
        self.assertEqual(b"iscsi", lld.rstrip(b"\0"))
        self.assertEqual(b"user=host-chap,password=s3cret-s3cret\0", body)
        self.assertEqual(tgt_ipc.REQ.size + len(body), length)

    def test_tgtd_errors_are_named(self):
        tgtd = FakeTgtd(self.base, 4243, err=14)
        with testtools.ExpectedException(tgt_ipc.TgtIPCError, ".*user already exists"):
            tgt_ipc.new_account(4243, "u", "p" * 12)
        tgtd.close()

    def test_no_tgtd_is_an_error_not_a_hang(self):
        with testtools.ExpectedException(tgt_ipc.TgtIPCError, ".*socket"):
            tgt_ipc.new_account(4244, "u", "p" * 12)

    def test_separators_in_names_are_refused(self):
        self.assertRaises(tgt_ipc.TgtIPCError, tgt_ipc.new_account, 1, "a,b", "p" * 12)
