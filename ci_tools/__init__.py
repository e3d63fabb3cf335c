"""Third-party CI kit for OpenStack Cinder storage drivers.

The ``ci-tools`` CLI serves the people around a vendor's Cinder CI: config
checks against a real Zuul, a Gerrit emulator, a reference flash array with
its Cinder driver, status and recheck tools, and zero-touch provisioning.
"""
