#!/usr/bin/env python3
"""The data-path tests, run on the compute node as Nova attaches: Cinder's API + os-brick.

  data_path_tests.py OUTPUT.json [TEST ...]

Each test creates its volumes through Cinder, attaches them the way Nova does
(os-brick's connector properties -> attachment create -> connect_volume ->
attachment complete; detach in reverse), moves bytes through the kernel's
block device and checks the node holds nothing afterwards. Results go to
OUTPUT.json as a list of {id, status, seconds, details}; the role turns them
into subunit next to Tempest's. Credentials come from the environment
(OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME, OS_VOLUME_URL), never
from the command line. os-brick is whatever imports: the image's, or the
change's tree first on PYTHONPATH.
"""

import json
import os
import socket
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import brick_volume  # noqa: E402

PREFIX = "data_path."
MICROVERSION = "3.44"  # attachments API with attachment_complete, as Nova uses
MIB = 16


class Skip(Exception):
    pass


class DataPath:
    def __init__(self, multipath):
        from cinderclient import client as cinder_client
        from keystoneauth1 import loading, session

        auth = loading.get_plugin_loader("password").load_from_options(
            auth_url=os.environ["OS_AUTH_URL"],
            username=os.environ["OS_USERNAME"],
            password=os.environ["OS_PASSWORD"],
            project_name=os.environ["OS_PROJECT_NAME"],
            user_domain_name="Default",
            project_domain_name="Default",
        )
        sess = session.Session(auth=auth)
        self.cinder = cinder_client.Client(
            MICROVERSION, session=sess, endpoint_override=os.environ.get("OS_VOLUME_URL")
        )
        self.multipath = multipath
        self.connector_props = brick_volume._brick().get_connector_properties(
            "sudo", socket.gethostname(), multipath, False
        )
        self.cleanups = []

    # -- Cinder, as Nova calls it ------------------------------------------------

    def wait(self, volume, status, timeout=300):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            volume = self.cinder.volumes.get(volume.id)
            if volume.status == status:
                return volume
            if volume.status.startswith("error"):
                raise AssertionError(f"volume {volume.id} went {volume.status}")
            time.sleep(1)
        raise AssertionError(f"volume {volume.id} not {status} after {timeout}s: {volume.status}")

    def volume(self, name, size=1, **kw):
        vol = self.cinder.volumes.create(size, name=f"data-path-{name}", **kw)
        self.cleanups.append(lambda: self.cinder.volumes.delete(vol.id))
        return self.wait(vol, "available")

    def attach(self, volume, tamper=None):
        """attachment create -> connect_volume -> attachment complete; returns the state."""
        start = time.monotonic()
        attachment = self.cinder.attachments.create(
            volume.id, self.connector_props, instance_id=None, mode="rw"
        )
        info = attachment.connection_info
        if tamper:
            tamper(info)
        connection_info = {"driver_volume_type": info.get("driver_volume_type", "iscsi"),
                           "data": info}  # fmt: skip
        try:
            device = self._connector().connect_volume(connection_info["data"])
        except Exception:
            self.cinder.attachments.delete(attachment.id)
            raise
        self.cinder.attachments.complete(attachment.id)
        path = os.path.realpath(device["path"])
        return {"attachment": attachment.id, "conn": connection_info, "device": device,
                "path": path, "seconds": time.monotonic() - start}  # fmt: skip

    def detach(self, state):
        start = time.monotonic()
        self._connector().disconnect_volume(state["conn"]["data"], state["device"], force=False)
        self.cinder.attachments.delete(state["attachment"])
        return time.monotonic() - start

    def _connector(self):
        brick = brick_volume._brick()
        return brick.InitiatorConnector.factory(
            "ISCSI", "sudo", use_multipath=self.multipath, device_scan_attempts=5
        )

    def assert_clean(self):
        left = brick_volume.leftovers()
        if any(left.values()):
            raise AssertionError(f"left on the node after detach: {left}")

    # -- tests ------------------------------------------------------------------

    def test_attach_write_read_detach(self, details):
        vol = self.volume("rw")
        state = self.attach(vol)
        details["attach_s"] = round(state["seconds"], 2)
        wrote = brick_volume._direct_io(state["path"], MIB, seed="data-path-rw")
        details["write_mb_s"] = wrote["mb_per_s"]
        read = brick_volume._direct_io(state["path"], MIB)
        details["read_mb_s"] = read["mb_per_s"]
        if read["sha256"] != wrote["sha256"]:
            raise AssertionError("read back differs from what was written")
        details["detach_s"] = round(self.detach(state), 2)
        self.assert_clean()
        # A second attach reads the blocks back from the array, not a cache.
        state = self.attach(vol)
        again = brick_volume._direct_io(state["path"], MIB)
        self.detach(state)
        if again["sha256"] != wrote["sha256"]:
            raise AssertionError("after re-attach the array returned other data")
        self.assert_clean()

    def test_volume_from_snapshot_holds_its_data(self, details):
        vol = self.volume("snap-src")
        state = self.attach(vol)
        wrote = brick_volume._direct_io(state["path"], 4, seed="data-path-snap")
        self.detach(state)
        snap = self.cinder.volume_snapshots.create(vol.id, name="data-path-snap")
        self.cleanups.append(lambda: self.cinder.volume_snapshots.delete(snap.id))
        deadline = time.monotonic() + 300
        while self.cinder.volume_snapshots.get(snap.id).status != "available":
            if time.monotonic() > deadline:
                raise AssertionError("snapshot not available after 300s")
            time.sleep(1)
        clone = self.volume("from-snap", snapshot_id=snap.id)
        state = self.attach(clone)
        read = brick_volume._direct_io(state["path"], 4)
        self.detach(state)
        if read["sha256"] != wrote["sha256"]:
            raise AssertionError("the volume from the snapshot does not hold the snapshot's data")
        self.assert_clean()

    def test_chap_wrong_secret_fails_cleanly(self, details):
        vol = self.volume("chap")

        def wrong(info):
            if info.get("auth_method") != "CHAP":
                raise Skip("the backend does not use CHAP (use_chap_auth is off)")
            info["auth_password"] = "not-the-secret-0123"

        try:
            state = self.attach(vol, tamper=wrong)
        except Skip:
            raise
        except Exception as exc:
            details["error"] = f"{type(exc).__name__}: {exc}"[:300]
        else:
            self.detach(state)
            raise AssertionError("attach with a wrong CHAP secret succeeded")
        self.assert_clean()

    def run(self, names):
        results = []
        for name in names:
            details = {}
            start = time.monotonic()
            status = "success"
            try:
                getattr(self, name)(details)
            except Skip as exc:
                status, details["reason"] = "skip", str(exc)
            except Exception:
                status, details["traceback"] = "fail", traceback.format_exc()[-4000:]
            for cleanup in reversed(self.cleanups):
                try:
                    cleanup()
                except Exception as exc:  # keep cleaning; the array-cleanup role sweeps too
                    details.setdefault("cleanup_errors", []).append(str(exc)[:200])
            self.cleanups = []
            results.append({"id": PREFIX + name, "status": status,
                            "seconds": round(time.monotonic() - start, 2),
                            "details": details})  # fmt: skip
            print(f"{PREFIX}{name}: {status} ({results[-1]['seconds']}s)", flush=True)
        return results


ALL = [
    "test_attach_write_read_detach",
    "test_volume_from_snapshot_holds_its_data",
    "test_chap_wrong_secret_fails_cleanly",
]


def main(argv):
    output = argv[0]
    names = argv[1:] or ALL
    multipath = os.environ.get("DATA_PATH_MULTIPATH", "0") == "1"
    try:
        results = DataPath(multipath).run(names)
    except Exception:
        # Setup failed (Cinder unreachable, os-brick not importable): every test fails
        # with the reason, so the report names them.
        tb = traceback.format_exc()[-4000:]
        results = [{"id": PREFIX + n, "status": "fail", "seconds": 0,
                    "details": {"traceback": tb}} for n in names]  # fmt: skip
    with open(output, "w") as f:
        json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
