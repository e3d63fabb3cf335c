"""The sandbox: the whole CI loop on one machine.

Gerrit emulator -> real Zuul (scheduler, executor, web, launcher) -> the
loopback static node -> DevStack-lite + Tempest on the reference array ->
the CI's comment back on the emulated change. ``ci-tools sandbox up`` runs it.
"""
