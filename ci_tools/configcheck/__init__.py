"""``ci-tools config check``: prove this repo's Zuul config with a real Zuul, offline.

A real zuul-scheduler, executor (as merger) and zuul-web boot against a
snapshot of the working tree and a tenant file; every error Zuul reports on
``/api/tenant/<t>/config-errors`` is printed with its file and line. The
nodepool config, YAML and Ansible linters run alongside.
"""
