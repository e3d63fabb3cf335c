"""The compute node's view of the FC fabric: which array ports it sees as targets."""

import testtools

from ci_tools.harness.compute_node import online_fcp_targets

# /sys/class/fc_remote_ports as ComputeNode.fcoe_targets lists it
LISTING = """\
2:0-0|0x2000524a93000001|Online|FCP Target, FCP Initiator
2:0-1|0x2000524a93010001|Online|FCP Target
2:0-2|0x2000524a93100001|Online|FCP Initiator
2:0-3|0x2000524a93110001|Blocked|FCP Target
3:0-0|0x2000524a93000001|Online|FCP Target
garbage
"""


class OnlineTargetsTest(testtools.TestCase):
    def test_only_online_fcp_targets_of_that_host(self):
        # an unzoned login answers as an initiator only; a blocked port is not there
        self.assertEqual({"2000524a93000001", "2000524a93010001"},
                         online_fcp_targets(LISTING, "host2"))  # fmt: skip
        self.assertEqual({"2000524a93000001"}, online_fcp_targets(LISTING, "host3"))
        self.assertEqual(set(), online_fcp_targets("", "host2"))
