"""refflash: the kit's reference flash array, a simulator a Cinder driver can manage.

``model`` holds the array's objects and rules (pools, thin volumes as sparse
files, snapshots, hosts, masking, replication); ``server`` puts the versioned
REST API, sessions and fault injection in front of it; ``tgt`` exports mapped
volumes over real iSCSI through Debian's userspace target ``tgtd``; ``fc``
emulates the Fibre Channel side (no data moves over FC); ``fixture`` runs the
whole array as a subprocess for tests and the sandbox.
"""
