"""Run zuul-executor with its log streamer bound to loopback.

zuul-executor hard-codes its finger log streamer to listen on ``::`` (every
interface) and offers no option for it. The sandbox promises loopback only,
so this wrapper, run with the Zuul venv's python, narrows that one bind and
then hands over to Zuul's own entry point. It imports nothing of ours so it
runs in Zuul's venv unchanged.
"""

import sys

import zuul.cmd.executor
import zuul.lib.log_streamer

_LogStreamer = zuul.lib.log_streamer.LogStreamer


class LoopbackLogStreamer(_LogStreamer):
    def __init__(self, host, port, jobdir_root):
        super().__init__("127.0.0.1", port, jobdir_root)


zuul.lib.log_streamer.LogStreamer = LoopbackLogStreamer

if __name__ == "__main__":
    sys.argv[0] = "zuul-executor"
    sys.exit(zuul.cmd.executor.main())
