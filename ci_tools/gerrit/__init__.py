"""A Gerrit emulator that real clients (Zuul, gertty, git, OpenSSH) accept.

Split like a Zuul driver, one job per module:

- ``store``: SQLite state (accounts, projects, grants, changes, patch sets,
  messages, approvals, event history) in the data dir.
- ``model``: the JSON shapes upstream Gerrit speaks (SSH query and events, REST).
- ``repos``: the bare git repos and what a push to ``refs/for/<branch>`` does.
- ``events``: fan-out of stream events to every connected client.
- ``service``: the operations (push, review, submit) shared by SSH, REST and admin.
- ``query``: the subset of Gerrit's search language clients use.
- ``sshd``: the paramiko SSH server (``gerrit ...`` commands, git upload/receive-pack).
- ``rest``: the HTTP server (REST with the ``)]}'`` guard, smart HTTP git, admin API).
- ``auth``: basic and digest HTTP authentication.
- ``server``: wires the parts together for ``ci-tools gerrit serve``.
- ``fixture``: starts the emulator as a subprocess for tests and the sandbox.
"""
