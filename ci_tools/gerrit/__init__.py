"""A Gerrit emulator that real clients (Zuul, gertty, git-review, git, OpenSSH) accept.

Split like a Zuul driver, one job per module:

- ``store``: SQLite state (accounts, groups, permissions, projects, grants,
  changes, patch sets, messages, approvals, event history) in the data dir.
- ``passwords``: salted scrypt hashes of the accounts' HTTP passwords.
- ``model``: the JSON shapes upstream Gerrit speaks (SSH query and events, REST).
- ``repos``: the bare git repos and their hooks.
- ``hook``: pre-receive and proc-receive, which hand ``refs/for/*`` to the service.
- ``commit_msg``: the Change-Id hook served over HTTP, scp and SFTP.
- ``events``: fan-out of stream events to every connected client.
- ``service``: the operations (push, review, submit, abandon, restore) shared by
  SSH, REST and admin.
- ``query``: the subset of Gerrit's search language clients use.
- ``sshd``: the paramiko SSH server (``gerrit ...`` commands, git upload/receive-pack).
- ``rest``: the HTTP server (REST with the ``)]}'`` guard, smart HTTP git, admin API).
- ``auth``: HTTP Basic authentication (Gerrit 3.10 offers no digest).
- ``server``: wires the parts together for ``ci-tools gerrit serve``.
- ``fixture``: starts the emulator as a subprocess for tests and the sandbox.
"""
