"""Service harness: the real services Zuul needs, started and stopped in one work dir.

Used by the functional tests, the sandbox and ``ci-tools config check``. Every
service listens on loopback only, writes its log under ``<work>/logs/`` and is
started in its own process group so stopping it leaves nothing behind.
"""
