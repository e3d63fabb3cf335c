# Copyright 2026 The refflash CI kit authors.
#
#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""The refflash drivers, method by method, against real refflash array
processes.

Runs in the Cinder venv (tools/setup-cinder.sh) with the kit's repo on
PYTHONPATH, which provides the array fixture: two arrays (primary and
replication target) are started once for the module, no responses are mocked.
Volumes and snapshots are real cinder versioned objects, never saved to a
database.
"""

import os
import shutil
import sys
import tempfile
import threading
import time
import unittest
import uuid

from cinder import context as cinder_context
from cinder import coordination
from cinder import exception
from cinder import objects
from cinder.volume import configuration
from oslo_config import cfg

from ci_tools.array.fixture import ArrayFixture

objects.register_all()  # as cinder-volume does before it loads a driver

from refflash_cinder import common  # noqa: E402
from refflash_cinder.fc import RefFlashFCDriver  # noqa: E402
from refflash_cinder.iscsi import RefFlashISCSIDriver  # noqa: E402
from refflash_cinder.tests.features import feature  # noqa: E402

CONF = cfg.CONF
STORAGE_PASSWORD = "storage-role-pw-1"
GIB = 1024**3
ARRAYS = {}


def setUpModule():
    CONF([], project="cinder", default_config_files=[])
    ARRAYS["tmp"] = tempfile.mkdtemp(prefix="refflash-driver-")
    # cinder-volume starts the coordinator before it loads a driver; the
    # driver's per-initiator locks need it (file locks, as on one node)
    CONF.set_override(
        "backend_url", f"file://{ARRAYS['tmp']}/locks", group="coordination"
    )
    coordination.COORDINATOR.start()
    for name in ("primary", "secondary"):
        # the primary exports over iSCSI (its tgtd reports the portals); the DR
        # side
        # only needs its REST API here
        ARRAYS[name] = ArrayFixture(
            os.path.join(ARRAYS["tmp"], name),
            name=name,
            iscsi=name == "primary",
            # an account without the admin role, which may not read CHAP
            users={"ops": ("storage", STORAGE_PASSWORD)},
        )
        ARRAYS[name].start()


def tearDownModule():
    coordination.COORDINATOR.stop()
    for name in ("primary", "secondary"):
        if name in ARRAYS:
            ARRAYS[name].stop()
    shutil.rmtree(ARRAYS["tmp"], ignore_errors=True)


def volume_obj(ctx, **fields):
    fields.setdefault("volume_type_id", None)
    fields.setdefault("host", "node@refflash#pool-a")
    # loaded with the volume by cinder-volume; these objects never see a
    # database
    fields.setdefault(
        "volume_attachment", objects.VolumeAttachmentList(objects=[])
    )
    return objects.Volume(
        context=ctx, status="creating", _name_id=None, **fields
    )


def make_config(group, array, **overrides):
    conf = configuration.Configuration(
        common.refflash_opts, config_group=group
    )
    from cinder.volume import driver as base_driver
    from cinder.volume.drivers.san import san

    conf.append_config_values(base_driver.volume_opts)
    conf.append_config_values(san.san_opts)
    port = array.url.rsplit(":", 1)[1]
    values = {
        "san_ip": "127.0.0.1",
        "san_api_port": int(port),
        "san_login": array.username,
        "san_password": array.password,
        "volume_backend_name": group,
        "max_over_subscription_ratio": "20.0",
        "use_chap_auth": True,
        "refflash_api_timeout": 5,
        "refflash_api_retries": 1,
        **overrides,
    }
    for key, value in values.items():
        CONF.set_override(key, value, group=group)
    return conf


def self_signed_cert(directory):
    """A certificate for 127.0.0.1 and its key (PEM files), made here."""
    import datetime
    import ipaddress

    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives import serialization
    from cryptography import x509
    from cryptography.x509.oid import NameOID
    from oslo_utils import timeutils

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "refflash")])
    now = timeutils.utcnow()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path = os.path.join(directory, "array.pem")
    key_path = os.path.join(directory, "array.key")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return cert_path, key_path


class DriverTestBase(unittest.TestCase):
    driver_class = RefFlashISCSIDriver
    overrides = {}

    def setUp(self):
        self.ctx = cinder_context.get_admin_context()
        self.group = f"refflash-{uuid.uuid4().hex[:8]}"
        self.primary = ARRAYS["primary"]
        self.api = self.primary.session()
        self.conf = make_config(self.group, self.primary, **self.overrides)
        self.driver = self.driver_class(
            configuration=self.conf, host=f"node@{self.group}"
        )
        self.driver.do_setup(self.ctx)
        self.driver.check_for_setup_error()
        self.addCleanup(
            self.api.delete, self.primary.url + "/api/v1/admin/faults"
        )

    def get(self, path, array=None):
        array = array or self.primary
        session = self.api if array is self.primary else array.session()
        return session.get(array.url + "/api/v1" + path, timeout=10)

    def on_array(self, name, array=None):
        r = self.get(f"/volumes/{name}", array)
        return r.json() if r.status_code == 200 else None

    def volume(self, size=1, extra_specs=None, **kw):
        vol_id = str(uuid.uuid4())
        updates = {
            "id": vol_id,
            "size": size,
            "host": f"node@{self.group}#pool-a",
            **kw,
        }
        vol = volume_obj(self.ctx, **updates)
        if extra_specs is not None:
            vtype = objects.VolumeType(
                context=self.ctx,
                id=str(uuid.uuid4()),
                extra_specs=extra_specs,
                qos_specs_id=None,
            )
            vol.volume_type_id = vtype.id
            vol.volume_type = vtype
        return vol

    def created_volume(self, size=1, **kw):
        vol = self.volume(size, **kw)
        self.driver.create_volume(vol)
        self.addCleanup(self._force_delete, vol.name)
        return vol

    def _force_delete(self, name):
        for m in (
            self.api.get(
                self.primary.url + "/api/v1/mappings", params={"volume": name}
            ).json()
            or []
        ):
            self.api.delete(
                self.primary.url + "/api/v1/mappings",
                params={"volume": name, "host": m["host"]},
            )
        self.api.delete(
            self.primary.url + f"/api/v1/volumes/{name}",
            params={"cascade": "true"},
        )

    def snapshot(self, vol):
        snap = objects.Snapshot(
            context=self.ctx,
            id=str(uuid.uuid4()),
            volume_id=vol.id,
            volume_size=vol.size,
        )
        snap.volume = vol
        return snap

    def fault(self, **body):
        r = self.api.post(self.primary.url + "/api/v1/admin/faults", json=body)
        r.raise_for_status()

    def audit(self, since):
        return [
            (e["op"], e["object"], e["status"])
            for e in self.get("/audit").json()
            if e["ts"] >= since
            and not e["op"].endswith((".get", ".list"))
            and e["op"]
            not in (
                "auth.login",
                "admin.faults_set",
                "admin.faults_clear",
                "host.connection",
            )
        ]


class VolumeTest(DriverTestBase):
    @feature("Volume stats")
    def test_stats_report_thin_provisioning_and_oversubscription(self):
        self.created_volume(size=3)
        stats = self.driver.get_volume_stats(refresh=True)
        self.assertEqual("iSCSI", stats["storage_protocol"])
        self.assertEqual("RefFlash", stats["vendor_name"])
        pool = stats["pools"][0]
        self.assertEqual("pool-a", pool["pool_name"])
        self.assertEqual(100.0, pool["total_capacity_gb"])
        self.assertGreaterEqual(pool["provisioned_capacity_gb"], 3)
        self.assertEqual(20.0, pool["max_over_subscription_ratio"])
        self.assertTrue(pool["thin_provisioning_support"])
        self.assertFalse(pool["thick_provisioning_support"])
        self.assertFalse(pool["replication_enabled"])

    @feature("Create / delete / extend volume")
    def test_create_extend_delete(self):
        vol = self.created_volume(size=1)
        self.assertEqual(GIB, self.on_array(vol.name)["size_bytes"])
        self.driver.extend_volume(vol, 3)
        self.assertEqual(3 * GIB, self.on_array(vol.name)["size_bytes"])
        self.driver.delete_volume(vol)
        self.assertIsNone(self.on_array(vol.name))
        self.driver.delete_volume(vol)  # already gone: fine, as Cinder expects

    @feature("Array errors")
    def test_array_restart_is_survived_by_logging_in_again(self):
        vol = self.created_volume(size=1)
        self.primary.stop()
        self.primary.start()  # same data dir and ports; every session is gone
        self.api = self.primary.session()
        self.driver.extend_volume(vol, 2)
        self.assertEqual(2 * GIB, self.on_array(vol.name)["size_bytes"])

    @feature("QoS")
    def test_qos_from_extra_specs(self):
        vol = self.volume(extra_specs={"refflash:max_iops": "500"})
        self.driver.create_volume(vol)
        self.addCleanup(self._force_delete, vol.name)
        self.assertEqual({"max_iops": 500}, self.on_array(vol.name)["qos"])

    @feature("Snapshots, volume from snapshot, clone", "Revert to snapshot")
    def test_snapshot_clone_and_volume_from_snapshot(self):
        vol = self.created_volume(size=1)
        snap = self.snapshot(vol)
        self.driver.create_snapshot(snap)
        self.assertEqual(
            vol.name, self.get(f"/snapshots/{snap.name}").json()["volume"]
        )
        from_snap = self.volume(size=2)
        self.driver.create_volume_from_snapshot(from_snap, snap)
        self.addCleanup(self._force_delete, from_snap.name)
        self.assertEqual(2 * GIB, self.on_array(from_snap.name)["size_bytes"])
        self.assertEqual(
            snap.name, self.on_array(from_snap.name)["source"]["snapshot"]
        )
        clone = self.volume(size=1)
        self.driver.create_cloned_volume(clone, vol)
        self.addCleanup(self._force_delete, clone.name)
        self.assertEqual(
            vol.name, self.on_array(clone.name)["source"]["volume"]
        )
        self.assertRaises(
            exception.VolumeIsBusy, self.driver.delete_volume, vol
        )
        self.driver.revert_to_snapshot(self.ctx, vol, snap)
        self.driver.delete_snapshot(snap)
        self.assertEqual(404, self.get(f"/snapshots/{snap.name}").status_code)
        self.driver.delete_snapshot(snap)  # idempotent
        missing = self.snapshot(vol)
        self.assertRaises(
            exception.SnapshotNotFound,
            self.driver.create_volume_from_snapshot,
            self.volume(),
            missing,
        )

    @feature("Manage / unmanage")
    def test_manage_and_unmanage(self):
        api = self.primary.url + "/api/v1"
        self.api.post(
            api + "/volumes", json={"name": "legacy-data", "size_gb": 1.5}
        )
        self.addCleanup(self._force_delete, "legacy-data")
        vol = self.volume(size=2)
        ref = {"source-name": "legacy-data"}
        self.assertEqual(2, self.driver.manage_existing_get_size(vol, ref))
        self.driver.manage_existing(vol, ref)
        self.addCleanup(self._force_delete, vol.name)
        self.assertEqual(2 * GIB, self.on_array(vol.name)["size_bytes"])
        self.assertRaises(
            exception.ManageExistingInvalidReference,
            self.driver.manage_existing,
            self.volume(),
            {"source-name": "nope"},
        )
        self.driver.unmanage(vol)
        self.addCleanup(self._force_delete, f"unmanaged-{vol.name}")
        self.assertIsNotNone(self.on_array(f"unmanaged-{vol.name}"))
        self.assertIsNone(self.on_array(vol.name))

    @feature("Manage / unmanage")
    def test_manage_and_unmanage_snapshot(self):
        vol = self.created_volume()
        self.api.post(
            self.primary.url + "/api/v1/snapshots",
            json={"name": "old-snap", "volume": vol.name},
        )
        snap = self.snapshot(vol)
        ref = {"source-name": "old-snap"}
        self.assertEqual(
            1, self.driver.manage_existing_snapshot_get_size(snap, ref)
        )
        self.driver.manage_existing_snapshot(snap, ref)
        self.assertEqual(200, self.get(f"/snapshots/{snap.name}").status_code)
        self.driver.unmanage_snapshot(snap)
        self.assertEqual(
            200, self.get(f"/snapshots/unmanaged-{snap.name}").status_code
        )

    @feature("Retype in place")
    def test_retype_changes_qos_in_place(self):
        vol = self.created_volume()
        new_type = {"extra_specs": {"refflash:max_mbps": "200"}}
        diff = {
            "extra_specs": {"refflash:max_mbps": (None, "200")},
            "qos_specs": {},
        }
        result = self.driver.retype(
            self.ctx, vol, new_type, diff, {"host": vol.host}
        )
        self.assertEqual((True, {}), result)
        self.assertEqual({"max_mbps": 200}, self.on_array(vol.name)["qos"])
        other = {"host": "elsewhere@other#pool"}
        self.assertFalse(
            self.driver.retype(self.ctx, vol, new_type, {}, other)
        )


class ISCSIConnectionTest(DriverTestBase):
    connector = {
        "host": "compute-1",
        "initiator": "iqn.1994-05.com.example:compute-1",
    }

    @feature("iSCSI attach")
    def test_initialize_connection_gives_chap_and_all_portals(self):
        vol = self.created_volume()
        info = self.driver.initialize_connection(vol, self.connector)
        data = info["data"]
        self.assertEqual("iscsi", info["driver_volume_type"])
        self.assertEqual("CHAP", data["auth_method"])
        self.assertEqual(16, len(data["auth_password"]))
        host = self.api.get(
            self.primary.url + "/api/v1/hosts",
            params={"iqn": self.connector["initiator"]},
        ).json()[0]
        self.assertEqual(data["target_iqn"], host["target_iqn"])
        self.assertEqual(host["chap"]["username"], data["auth_username"])
        self.assertEqual(1, data["target_lun"])
        # both controllers' portals, for multipath
        self.assertEqual(self.primary.iscsi_portals, data["target_portals"])
        self.assertEqual([data["target_iqn"]] * 2, data["target_iqns"])
        self.assertEqual(self.primary.iscsi_portals[0], data["target_portal"])
        self.driver.terminate_connection(vol, self.connector)
        self.assertEqual(
            [], self.get("/hosts").json()
        )  # host removed with its last volume

    @feature("iSCSI attach")
    def test_portals_follow_controllers(self):
        vol = self.created_volume()
        self.api.post(
            self.primary.url + "/api/v1/admin/controllers/ct0",
            json={"state": "offline"},
        )
        self.addCleanup(
            self.api.post,
            self.primary.url + "/api/v1/admin/controllers/ct0",
            json={"state": "online"},
        )
        data = self.driver.initialize_connection(vol, self.connector)["data"]
        self.assertEqual(
            self.primary.iscsi_portals[1:], data["target_portals"]
        )
        self.driver.terminate_connection(vol, self.connector)

    def attach_on(self, vol, *hosts):
        vol.volume_attachment = objects.VolumeAttachmentList(
            objects=[
                objects.VolumeAttachment(
                    self.ctx,
                    id=str(uuid.uuid4()),
                    volume_id=vol.id,
                    attached_host=h,
                    attach_status="attached",
                )
                for h in hosts
            ]
        )

    def mapped_hosts(self, vol):
        return [
            m["host"] for m in self.get("/mappings?volume=" + vol.name).json()
        ]

    @feature("Multiattach on one host")
    def test_multiattach_detach_of_one_instance_keeps_the_other_mapped(self):
        vol = self.created_volume()
        first = self.driver.initialize_connection(vol, self.connector)["data"]
        second = self.driver.initialize_connection(vol, self.connector)["data"]
        self.assertEqual(
            first["target_lun"], second["target_lun"]
        )  # one LUN, one host
        self.attach_on(vol, "compute-1", "compute-1")
        self.assertTrue(self.driver.terminate_connection(vol, self.connector))
        self.assertEqual(1, len(self.mapped_hosts(vol)))
        self.attach_on(vol, "compute-1")
        self.assertFalse(self.driver.terminate_connection(vol, self.connector))
        self.assertEqual([], self.mapped_hosts(vol))
        self.assertEqual([], self.get("/hosts").json())

    @feature("Concurrent attaches")
    def test_four_parallel_first_attaches_from_a_new_host(self):
        vols = [self.created_volume() for _ in range(4)]
        results, errors = [], []

        def attach(vol):
            try:
                results.append(
                    self.driver.initialize_connection(vol, self.connector)
                )
            # noqa: BLE001 - every failure is reported
            except Exception as exc:
                errors.append(exc)

        threads = [threading.Thread(target=attach, args=(v,)) for v in vols]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual([], errors)
        self.assertEqual(1, len(self.get("/hosts").json()))
        self.assertEqual(
            [1, 2, 3, 4], sorted(r["data"]["target_lun"] for r in results)
        )
        for vol in vols:
            self.driver.terminate_connection(vol, self.connector)
        self.assertEqual([], self.get("/hosts").json())

    @feature("Failed attach undone")
    def test_failed_attach_with_both_controllers_offline_leaves_nothing(self):
        vol = self.created_volume()
        for ct in ("ct0", "ct1"):
            self.api.post(
                self.primary.url + f"/api/v1/admin/controllers/{ct}",
                json={"state": "offline"},
            )
            self.addCleanup(
                self.api.post,
                self.primary.url + f"/api/v1/admin/controllers/{ct}",
                json={"state": "online"},
            )
        with self.assertRaises(exception.VolumeBackendAPIException) as ctx:
            self.driver.initialize_connection(vol, self.connector)
        self.assertIn("no iSCSI portal", str(ctx.exception))
        self.assertEqual([], self.get("/hosts").json())
        self.assertEqual([], self.mapped_hosts(vol))

    @feature("Failed attach undone")
    def test_account_without_admin_role_gets_a_clear_error(self):
        conf = make_config(
            self.group + "-ops",
            self.primary,
            san_login="ops",
            san_password=STORAGE_PASSWORD,
        )
        driver = self.driver_class(configuration=conf, host="node@ops")
        driver.do_setup(self.ctx)
        vol = self.created_volume()
        with self.assertRaises(exception.VolumeBackendAPIException) as ctx:
            driver.initialize_connection(vol, self.connector)
        self.assertIn("admin role", str(ctx.exception))
        self.assertEqual([], self.get("/hosts").json())

    @feature("Force detach")
    def test_force_detach_without_connector(self):
        vol = self.created_volume()
        self.driver.initialize_connection(vol, self.connector)
        self.driver.terminate_connection(vol, None)
        self.assertEqual([], self.on_array(vol.name)["mappings"])


class FCConnectionTest(DriverTestBase):
    driver_class = RefFlashFCDriver
    connector = {
        "host": "compute-2",
        "wwpns": ["10000090FA0B1C2D", "10000090fa0b1c2e"],
    }

    @feature("FC attach and zoning")
    def test_initialize_connection_gives_initiator_target_map(self):
        vol = self.created_volume()
        info = self.driver.initialize_connection(vol, self.connector)
        self.assertEqual("fibre_channel", info["driver_volume_type"])
        data = info["data"]
        ports = self.get("/fc/fabric").json()["ports"]
        self.assertEqual([p["wwpn"] for p in ports], data["target_wwn"])
        self.assertEqual(
            {"10000090fa0b1c2d", "10000090fa0b1c2e"},
            set(data["initiator_target_map"]),
        )
        self.assertEqual(
            "FC", self.driver.get_volume_stats(True)["storage_protocol"]
        )
        info = self.driver.terminate_connection(vol, self.connector)
        # last volume of the host: the zone manager is told which zones to drop
        self.assertEqual(
            data["initiator_target_map"], info["data"]["initiator_target_map"]
        )


class FaultTest(DriverTestBase):
    overrides = {"refflash_api_timeout": 2}

    @feature("Array errors")
    def test_array_error_is_a_clear_cinder_error_and_nothing_is_left(self):
        self.fault(
            op="volume.create", fail_next=1, status=503, code="array.busy"
        )
        vol = self.volume()
        with self.assertRaises(exception.VolumeBackendAPIException) as ctx:
            self.driver.create_volume(vol)
        self.assertIn("array.busy", str(ctx.exception))
        self.assertIsNone(self.on_array(vol.name))

    @feature("Failed attach undone")
    def test_failed_mapping_rolls_back_the_new_host(self):
        vol = self.created_volume()
        since = time.time()
        self.fault(op="mapping.create", fail_next=1)
        connector = {
            "host": "compute-9",
            "initiator": "iqn.1994-05.com.example:compute-9",
        }
        self.assertRaises(
            exception.VolumeBackendAPIException,
            self.driver.initialize_connection,
            vol,
            connector,
        )
        self.assertEqual([], self.get("/hosts").json())
        ops = [(op, status) for op, _, status in self.audit(since)]
        self.assertEqual(
            [
                ("host.create", 200),
                ("mapping.create", 500),
                ("host.delete", 200),
            ],
            ops,
        )

    @feature("Array errors")
    def test_out_of_space_is_reported(self):
        vol = self.created_volume()
        self.fault(
            op="snapshot.create",
            fail_next=1,
            status=507,
            code="pool.out_of_space",
        )
        with self.assertRaises(exception.VolumeBackendAPIException) as ctx:
            self.driver.create_snapshot(self.snapshot(vol))
        self.assertIn("out of space", str(ctx.exception))

    @feature("Array errors")
    def test_unreachable_and_slow_array(self):
        vol = self.created_volume()
        self.fault(unreachable_s=30)
        with self.assertRaises(exception.VolumeBackendAPIException) as ctx:
            self.driver.get_volume_stats(True)
        self.assertIn("did not answer", str(ctx.exception))
        self.api.delete(self.primary.url + "/api/v1/admin/faults")
        self.fault(
            op="volume.update", latency_ms=3000
        )  # the driver's timeout is 2 s
        with self.assertRaises(exception.ExtendVolumeError) as ctx:
            self.driver.extend_volume(vol, 2)
        self.assertIn("ReadTimeout", str(ctx.exception))

    @feature("Array errors")
    def test_wrong_password_is_named_and_not_leaked(self):
        conf = make_config(
            self.group + "-bad", self.primary, san_password="not-the-password"
        )
        driver = RefFlashISCSIDriver(configuration=conf, host="node@bad")
        with self.assertRaises(exception.VolumeBackendAPIException) as ctx:
            driver.do_setup(self.ctx)
        self.assertIn("refused the credentials", str(ctx.exception))
        self.assertNotIn("not-the-password", str(ctx.exception))
        # lift any login throttle of this address for the other tests
        self.api.post(self.primary.url + "/api/v1/admin/unlock", json={})


class ReplicationTest(DriverTestBase):
    def setUp(self):
        self.secondary = ARRAYS["secondary"]
        s = self.secondary
        self.overrides = {
            "refflash_replication_group": f"g{uuid.uuid4().hex[:6]}",
            "replication_device": [
                "backend_id:dr-site,san_ip:127.0.0.1,"
                f"san_api_port:{s.url.rsplit(':', 1)[1]},"
                f"san_login:{s.username},san_password:{s.password}"
            ],
        }
        super().setUp()

    @feature("Replication")
    def test_failover_and_failback(self):
        pool = self.driver.get_volume_stats(True)["pools"][0]
        self.assertTrue(pool["replication_enabled"])
        self.assertEqual(["dr-site"], pool["replication_targets"])
        rep = self.volume(extra_specs={"replication_enabled": "<is> True"})
        self.assertEqual(
            {"replication_status": "enabled"}, self.driver.create_volume(rep)
        )
        self.addCleanup(self._force_delete, rep.name)
        self.addCleanup(self._force_delete_on, self.secondary, rep.name)
        before = self.snapshot(rep)
        self.driver.create_snapshot(before)
        plain = self.created_volume()
        target_id, updates, _ = self.driver.failover_host(
            self.ctx, [rep, plain], "dr-site"
        )
        self.assertEqual("dr-site", target_id)
        by_id = {u["volume_id"]: u["updates"] for u in updates}
        self.assertEqual({"replication_status": "failed-over"}, by_id[rep.id])
        self.assertEqual({"status": "error"}, by_id[plain.id])
        on_dr = self.on_array(rep.name, self.secondary)
        self.assertEqual("source", on_dr["replication"]["role"])
        # the snapshot taken before the failover travelled with its volume
        self.assertEqual([before.name], on_dr["snapshots"])
        from_snap = self.volume()
        self.driver.create_volume_from_snapshot(from_snap, before)
        self.addCleanup(self._force_delete_on, self.secondary, from_snap.name)
        # the failed-over backend now works against the DR array
        snap = self.snapshot(rep)
        self.driver.create_snapshot(snap)
        self.assertEqual(
            sorted([before.name, snap.name]),
            sorted(self.on_array(rep.name, self.secondary)["snapshots"]),
        )
        self.driver.delete_snapshot(snap)
        self.driver.delete_snapshot(before)
        new_rep = self.volume(extra_specs={"replication_enabled": "<is> True"})
        self.driver.create_volume(new_rep)
        self.addCleanup(self._force_delete, new_rep.name)
        self.addCleanup(self._force_delete_on, self.secondary, new_rep.name)
        # from_snap was created on the DR array while failed over, not
        # replicated
        target_id, updates, _ = self.driver.failover_host(
            self.ctx, [rep, new_rep, from_snap], "default"
        )
        self.assertEqual("default", target_id)
        by_id = {u["volume_id"]: u["updates"] for u in updates}
        self.assertEqual(
            {
                rep.id: {"replication_status": "enabled"},
                new_rep.id: {"replication_status": "enabled"},
                from_snap.id: {"status": "error"},
            },
            by_id,
        )
        self.assertEqual(
            "source", self.on_array(rep.name)["replication"]["role"]
        )
        self.assertEqual(
            [], self.on_array(rep.name)["snapshots"]
        )  # deleted while failed over
        self.assertEqual(
            "replica",
            self.on_array(rep.name, self.secondary)["replication"]["role"],
        )
        self.assertEqual(
            "source", self.on_array(new_rep.name)["replication"]["role"]
        )
        # deleting a replicated volume removes its replica on the DR array too
        self.driver.delete_volume(rep)
        self.assertIsNone(self.on_array(rep.name))
        self.assertIsNone(self.on_array(rep.name, self.secondary))

    def _force_delete_on(self, array, name):
        array.session().delete(
            f"{array.url}/api/v1/volumes/{name}", params={"cascade": "true"}
        )

    @feature("Replication")
    def test_failed_group_add_undoes_the_volume(self):
        self.fault(op="replication.group_add", fail_next=1)
        rep = self.volume(extra_specs={"replication_enabled": "<is> True"})
        self.assertRaises(
            exception.VolumeBackendAPIException, self.driver.create_volume, rep
        )
        self.assertIsNone(self.on_array(rep.name))

    @feature("Replication")
    def test_unknown_target_is_refused(self):
        self.assertRaises(
            exception.InvalidReplicationTarget,
            self.driver.failover_host,
            self.ctx,
            [],
            "nowhere",
        )


class TLSTest(unittest.TestCase):
    """driver_ssl_cert_path is what the driver trusts: an HTTPS array."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="refflash-tls-")
        cls.cert, key = self_signed_cert(cls.tmp)
        cls.array = ArrayFixture(
            os.path.join(cls.tmp, "array"),
            name="tls",
            iscsi=False,
            tls=(cls.cert, key),
        )
        cls.array.start()

    @classmethod
    def tearDownClass(cls):
        cls.array.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def driver(self, **tls):
        group = f"refflash-tls-{uuid.uuid4().hex[:8]}"
        conf = make_config(
            group,
            self.array,
            refflash_api_scheme="https",
            refflash_api_retries=0,
            **tls,
        )
        return RefFlashISCSIDriver(configuration=conf, host=f"node@{group}")

    @feature("TLS")
    def test_the_configured_certificate_is_trusted_and_only_it(self):
        ctx = cinder_context.get_admin_context()
        driver = self.driver(
            driver_ssl_cert_verify=True, driver_ssl_cert_path=self.cert
        )
        driver.do_setup(ctx)
        driver.check_for_setup_error()
        self.assertEqual(
            100.0,
            driver.get_volume_stats(True)["pools"][0]["total_capacity_gb"],
        )
        # the system CAs do not know this array's certificate
        untrusting = self.driver(driver_ssl_cert_verify=True)
        with self.assertRaises(exception.VolumeBackendAPIException) as exc:
            untrusting.do_setup(ctx)
        self.assertIn("SSLError", str(exc.exception))
        # verification off: the connection is made (and the option says so)
        self.driver(driver_ssl_cert_verify=False).do_setup(ctx)


if __name__ == "__main__":
    sys.exit(unittest.main())
