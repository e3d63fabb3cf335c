"""Free ports: outside the range outgoing connections draw from, never given twice."""

import socket

import testtools

from ci_tools.harness import ports


class TestFreePort(testtools.TestCase):
    def test_ports_are_below_the_ephemeral_range_distinct_and_bindable(self):
        high = ports._ephemeral_low()
        given = [ports.free_port() for _ in range(50)]
        self.assertEqual(len(given), len(set(given)))
        for port in given:
            self.assertGreaterEqual(port, ports.FIRST)
            self.assertLess(port, high)
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", port))

    def test_a_listening_port_is_never_given(self):
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            taken = busy.getsockname()[1]
            self.assertFalse(ports.check_free(taken))
            self.assertFalse(ports._unused(taken, "127.0.0.1"))

    def test_a_range_too_small_falls_back_to_the_kernels_choice(self):
        self.patch(ports, "_ephemeral_low", lambda: ports.FIRST + 10)
        port = ports.free_port()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))

    def test_unreadable_range_means_linux_default(self):
        self.assertEqual(32768, ports._ephemeral_low("/nonexistent/ip_local_port_range"))
