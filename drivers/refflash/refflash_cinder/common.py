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

"""What the refflash iSCSI and FC drivers share: volumes, snapshots, stats,
replication.

Array errors become the Cinder exceptions the volume manager acts on, with
the array's code in the message; an operation that needs more than one array
call undoes what it did when a later call fails, so a failed request leaves
nothing half-created on the array (the array's audit log shows the undo).
"""

import math
import re
import secrets

from cinder import coordination
from cinder import exception
from cinder.i18n import _
from cinder.objects import fields
from cinder.volume import driver
from cinder.volume.drivers.san import san
from cinder.volume import volume_types
from cinder.volume import volume_utils
from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import excutils

import refflash_cinder
from refflash_cinder.client import ArrayAPIError
from refflash_cinder.client import ArrayUnreachable
from refflash_cinder.client import RefFlashClient

LOG = logging.getLogger(__name__)
GIB = 1024**3
IQN_RE = re.compile(r"^(iqn\.\d{4}-\d{2}\.\S+|eui\.[0-9A-Fa-f]{16})$")

refflash_opts = [
    cfg.StrOpt(
        "refflash_pool", default="pool-a", help="Array pool the backend uses."
    ),
    cfg.StrOpt(
        "refflash_api_scheme",
        default="http",
        choices=["http", "https"],
        help="Scheme of the array's REST API (san_ip and san_api_port "
        "give the rest).",
    ),
    cfg.IntOpt(
        "refflash_api_timeout",
        default=30,
        min=1,
        help="Seconds to wait for one REST call before the array counts "
        "as down.",
    ),
    cfg.IntOpt(
        "refflash_api_retries",
        default=2,
        min=0,
        help="Retries of read-only calls that got no answer.",
    ),
    cfg.StrOpt(
        "refflash_replication_group",
        default="cinder",
        help="Array volume group that holds this backend's replicated "
        "volumes.",
    ),
    cfg.IntOpt(
        "refflash_replication_interval",
        default=60,
        min=1,
        help="Seconds between async replication syncs of the group.",
    ),
]

CONF = cfg.CONF
CONF.register_opts(refflash_opts, group="backend_defaults")

QOS_KEYS = {"maxIOPS": "max_iops", "maxMBps": "max_mbps"}


def _api_url(scheme, ip, port):
    return f"{scheme}://{ip}:{port}" if port else f"{scheme}://{ip}"


class RefFlashBaseDriver(driver.VolumeDriver):
    """Everything but the connection protocol; subclasses add iSCSI or FC."""

    VERSION = refflash_cinder.__version__
    VENDOR = "RefFlash"  # tempest-config/<protocol>/tempest.yaml: vendor_name
    CI_WIKI_NAME = "RefFlash_CI"
    SUPPORTS_ACTIVE_ACTIVE = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.configuration.append_config_values(san.san_opts)
        self.configuration.append_config_values(refflash_opts)
        self._active_backend_id = kwargs.get("active_backend_id")
        self._primary = None
        self._target = None  # (backend_id, client) of the replication target
        self.client = None
        self._stats = {}

    @staticmethod
    def get_driver_options():
        return refflash_opts + [
            o
            for o in san.san_opts
            if o.name
            in ("san_ip", "san_login", "san_password", "san_api_port")
        ]

    # -- setup ----------------------------------------------------------------

    def _client(self, ip, port, login, password):
        return RefFlashClient(
            _api_url(self.configuration.refflash_api_scheme, ip, port),
            login,
            password,
            timeout=self.configuration.refflash_api_timeout,
            retries=self.configuration.refflash_api_retries,
            verify=self._tls_verify(),
        )

    def _tls_verify(self):
        """The ``verify`` of requests: False, True or a CA bundle path."""
        conf = self.configuration
        if not conf.safe_get("driver_ssl_cert_verify"):
            return False
        return conf.safe_get("driver_ssl_cert_path") or True

    def do_setup(self, context):
        conf = self.configuration
        for key in ("san_ip", "san_login", "san_password"):
            if not conf.safe_get(key):
                raise exception.InvalidConfigurationValue(
                    option=key, value=None
                )
        self._primary = self._client(
            conf.san_ip,
            conf.safe_get("san_api_port"),
            conf.san_login,
            conf.san_password,
        )
        devices = conf.safe_get("replication_device") or []
        if len(devices) > 1:
            raise exception.InvalidConfigurationValue(
                option="replication_device",
                value=f"{len(devices)} targets (one is supported)",
            )
        if devices:
            dev = devices[0]
            missing = [
                k
                for k in ("backend_id", "san_ip", "san_login", "san_password")
                if not dev.get(k)
            ]
            if missing:
                raise exception.InvalidConfigurationValue(
                    option="replication_device",
                    value=f"missing {', '.join(missing)}",
                )
            self._target = (
                dev["backend_id"],
                self._client(
                    dev["san_ip"],
                    dev.get("san_api_port"),
                    dev["san_login"],
                    dev["san_password"],
                ),
            )
        failed_over = (
            self._target and self._active_backend_id == self._target[0]
        )
        self.client = self._target[1] if failed_over else self._primary
        self._call(self.client.login)
        if self._target and not failed_over:
            self._setup_replication()

    def _setup_replication(self):
        """Pair the arrays both ways; make sure the primary has the group."""
        target_id, target = self._target
        group = self.configuration.refflash_replication_group
        try:
            self._primary.set_peer(
                target.url, target.username, target._password
            )
            target.set_peer(
                self._primary.url,
                self._primary.username,
                self._primary._password,
            )
            try:
                self._primary.replication_group(group)
            except ArrayAPIError as exc:
                if exc.status != 404:
                    raise
                self._primary.create_replication_group(
                    group, self.configuration.refflash_replication_interval
                )
        except (ArrayAPIError, ArrayUnreachable) as exc:
            raise exception.VolumeDriverException(
                message=_(
                    "refflash replication setup with %(t)s failed: %(e)s"
                )
                % {"t": target_id, "e": exc}
            ) from exc

    def check_for_setup_error(self):
        pool = self.configuration.refflash_pool
        self._call(
            self.client.pool,
            pool,
            not_found=exception.InvalidConfigurationValue(
                option="refflash_pool", value=pool
            ),
        )

    # -- error translation ----------------------------------------------------

    def _call(self, func, *args, not_found=None, **kwargs):
        """Run one array call; array errors become Cinder exceptions."""
        try:
            return func(*args, **kwargs)
        except (ArrayAPIError, ArrayUnreachable) as exc:
            raise self._translate(exc, not_found) from exc

    def _translate(self, exc, not_found=None):
        if isinstance(exc, ArrayUnreachable):
            return exception.VolumeBackendAPIException(data=str(exc))
        if exc.status == 404 and not_found is not None:
            return not_found
        if exc.status in (401, 403):
            return exception.VolumeBackendAPIException(
                data=_("the array refused the credentials of %(u)s: %(c)s")
                % {"u": self.configuration.san_login, "c": exc.code}
            )
        if exc.code == "pool.out_of_space":
            return exception.VolumeBackendAPIException(
                data=_("array pool is out of space: %s") % exc.message
            )
        return exception.VolumeBackendAPIException(data=str(exc))

    # -- stats ----------------------------------------------------------------

    def get_volume_stats(self, refresh=False):
        if refresh or not self._stats:
            self._update_volume_stats()
        return self._stats

    def _update_volume_stats(self):
        conf = self.configuration
        pool = self._call(self.client.pool, conf.refflash_pool)
        ratio = volume_utils.get_max_over_subscription_ratio(
            conf.max_over_subscription_ratio, supports_auto=True
        )
        backend = (
            conf.safe_get("volume_backend_name") or self.__class__.__name__
        )
        pool_stats = {
            "pool_name": conf.refflash_pool,
            "total_capacity_gb": round(pool["capacity_bytes"] / GIB, 2),
            "free_capacity_gb": round(pool["free_bytes"] / GIB, 2),
            "provisioned_capacity_gb": round(
                pool["provisioned_bytes"] / GIB, 2
            ),
            "max_over_subscription_ratio": ratio,
            "reserved_percentage": conf.reserved_percentage,
            "thin_provisioning_support": True,
            "thick_provisioning_support": False,
            "QoS_support": True,
            "multiattach": True,
            "consistent_group_snapshot_enabled": False,
            "replication_enabled": bool(self._target),
        }
        if self._target:
            pool_stats.update(
                replication_type=["async"],
                replication_count=1,
                replication_targets=[self._target[0]],
            )
        self._stats = {
            "volume_backend_name": backend,
            "vendor_name": self.VENDOR,
            "driver_version": self.VERSION,
            "storage_protocol": self.PROTOCOL,
            "replication_enabled": bool(self._target),
            "pools": [pool_stats],
        }

    # -- volumes --------------------------------------------------------------

    def _qos(self, volume):
        """QoS of the volume's type (see _qos_of_type)."""
        vtype = volume.volume_type if volume.volume_type_id else None
        if vtype is None:
            return {}
        return self._qos_of_type(
            vtype.id, vtype.extra_specs, vtype.qos_specs_id
        )

    @staticmethod
    def _qos_of_type(type_id, extra_specs, qos_specs_id):
        """QoS from extra specs refflash:*, then back-end qos specs.

        Extra specs ``refflash:max_iops``/``refflash:max_mbps``; qos specs
        ``maxIOPS``/``maxMBps`` with consumer back-end or both.
        """
        qos = {}
        for key, value in (extra_specs or {}).items():
            if key.startswith("refflash:") and key[9:] in (
                "max_iops",
                "max_mbps",
            ):
                qos[key[9:]] = value
        if qos_specs_id:
            specs = (
                volume_types.get_volume_type_qos_specs(type_id)["qos_specs"]
                or {}
            )
            if specs.get("consumer") in ("back-end", "both"):
                for key, value in specs.get("specs", {}).items():
                    if key in QOS_KEYS:
                        qos[QOS_KEYS[key]] = value
        try:
            return {k: int(v) for k, v in qos.items()}
        except ValueError as exc:
            raise exception.InvalidVolumeType(
                reason=_("refflash QoS must be integers: %s") % qos
            ) from exc

    def _replicated(self, volume):
        vtype = volume.volume_type if volume.volume_type_id else None
        return bool(
            vtype and volume_utils.is_replicated_spec(vtype.extra_specs or {})
        )

    def _finish_create(self, volume):
        """Add a replicated volume to the group; undo the create on failure."""
        if not self._replicated(volume):
            return None
        if not self._target:
            self._rollback_volume(volume.name)
            raise exception.InvalidVolumeType(
                reason=_(
                    "replication requested but no replication_device is "
                    "configured"
                )
            )
        try:
            self._call(
                self.client.add_to_group,
                self.configuration.refflash_replication_group,
                volume.name,
            )
        except exception.VolumeBackendAPIException:
            self._rollback_volume(volume.name)
            raise
        return {"replication_status": "enabled"}

    def _rollback_volume(self, name):
        try:
            self.client.delete_volume(name)
        except (ArrayAPIError, ArrayUnreachable) as exc:
            LOG.error("refflash: could not undo creation of %s: %s", name, exc)

    def create_volume(self, volume):
        self._call(
            self.client.create_volume,
            volume.name,
            size_gb=volume.size,
            pool=self.configuration.refflash_pool,
            qos=self._qos(volume),
        )
        return self._finish_create(volume)

    def create_volume_from_snapshot(self, volume, snapshot):
        self._call(
            self.client.create_volume,
            volume.name,
            size_gb=volume.size,
            pool=self.configuration.refflash_pool,
            qos=self._qos(volume),
            source_snapshot=snapshot.name,
            not_found=exception.SnapshotNotFound(snapshot_id=snapshot.id),
        )
        return self._finish_create(volume)

    def create_cloned_volume(self, volume, src_vref):
        self._call(
            self.client.create_volume,
            volume.name,
            size_gb=volume.size,
            pool=self.configuration.refflash_pool,
            qos=self._qos(volume),
            source_volume=src_vref.name,
            not_found=exception.VolumeNotFound(volume_id=src_vref.id),
        )
        return self._finish_create(volume)

    def delete_volume(self, volume):
        try:
            self.client.delete_volume(volume.name)
        except ArrayAPIError as exc:
            if exc.status != 404:
                if exc.code == "volume.has_snapshots":
                    raise exception.VolumeIsBusy(
                        volume_name=volume.name
                    ) from exc
                if exc.code == "volume.mapped":
                    raise exception.VolumeIsBusy(
                        message=_("volume %s is still mapped to a host")
                        % volume.name
                    ) from exc
                raise self._translate(exc) from exc
            LOG.info("refflash: volume %s is already gone", volume.name)
        except ArrayUnreachable as exc:
            raise exception.VolumeBackendAPIException(data=str(exc)) from exc
        self._delete_replica(volume)

    def _delete_replica(self, volume):
        """Remove the replica on the other array now, not at the next sync.

        The array also drops replicas that left the group at its next sync, so
        a failure here is logged, not raised: the volume itself is gone.
        """
        status = (
            volume.replication_status
            if volume.obj_attr_is_set("replication_status")
            else None
        )
        if not self._target or not (
            self._replicated(volume) or status == "enabled"
        ):
            return
        other = (
            self._primary
            if self.client is self._target[1]
            else self._target[1]
        )
        try:
            other.delete_volume(volume.name, cascade=True)
        except ArrayAPIError as exc:
            if exc.status != 404:
                LOG.warning(
                    "refflash: replica of %s on %s stays until the next "
                    "sync: %s",
                    volume.name,
                    other.url,
                    exc,
                )
        except ArrayUnreachable as exc:
            LOG.warning(
                "refflash: replica of %s on %s stays until the next sync: %s",
                volume.name,
                other.url,
                exc,
            )

    def extend_volume(self, volume, new_size):
        try:
            self._call(
                self.client.update_volume,
                volume.name,
                size_gb=new_size,
                not_found=exception.VolumeNotFound(volume_id=volume.id),
            )
        except exception.VolumeBackendAPIException as exc:
            raise exception.ExtendVolumeError(reason=exc.msg) from exc

    def revert_to_snapshot(self, context, volume, snapshot):
        self._call(
            self.client.revert_volume,
            volume.name,
            snapshot.name,
            not_found=exception.SnapshotNotFound(snapshot_id=snapshot.id),
        )

    def retype(self, context, volume, new_type, diff, host):
        """Change QoS and replication in place; the rest needs migration.

        Only what ``diff`` says changed is touched: QoS is sent only when a
        refflash:* extra spec or the qos specs changed (and then in full, from
        the new type, back-end qos specs included), so a retype that only
        renames a type never wipes QoS the array already holds.
        """
        if volume_utils.extract_host(
            host["host"], "backend"
        ) != volume_utils.extract_host(volume.host, "backend"):
            return False
        new_specs = new_type.get("extra_specs") or {}
        if new_specs.get("provisioning:type") == "thick" or str(
            new_specs.get("thick_provisioning_support", "")
        ).replace(" ", "").lower() in ("<is>true", "true"):
            LOG.info(
                "refflash: %s cannot become thick; this array is thin only",
                volume.name,
            )
            return False
        if (diff or {}).get("encryption"):
            return (
                False  # the array cannot re-encrypt in place: Cinder migrates
            )
        was = self._replicated(volume)
        now = volume_utils.is_replicated_spec(new_specs)
        if now and not self._target:
            return False
        changed_specs = set((diff or {}).get("extra_specs") or {})
        qos_changed = bool((diff or {}).get("qos_specs")) or any(
            k.startswith("refflash:") for k in changed_specs
        )
        if qos_changed:
            qos = self._qos_of_type(
                new_type.get("id"), new_specs, new_type.get("qos_specs_id")
            )
            self._call(
                self.client.update_volume,
                volume.name,
                qos=qos,
                not_found=exception.VolumeNotFound(volume_id=volume.id),
            )
        group = self.configuration.refflash_replication_group
        update = {}
        if now and not was:
            self._call(self.client.add_to_group, group, volume.name)
            update["replication_status"] = "enabled"
        elif was and not now:
            self._call(self.client.remove_from_group, group, volume.name)
            update["replication_status"] = "disabled"
        return True, update

    def update_migrated_volume(
        self, ctxt, volume, new_volume, original_volume_status
    ):
        """Give the migrated volume its original name, when that is free.

        Otherwise Cinder keeps pointing at the new name through ``_name_id``.
        """
        try:
            self.client.update_volume(new_volume.name, name=volume.name)
        except (ArrayAPIError, ArrayUnreachable) as exc:
            LOG.info(
                "refflash: %s keeps its name %s after migration (%s)",
                volume.id,
                new_volume.name,
                exc,
            )
            return {"_name_id": new_volume._name_id or new_volume.id}
        return {"_name_id": None}

    # -- snapshots ------------------------------------------------------------

    def create_snapshot(self, snapshot):
        self._call(
            self.client.create_snapshot,
            snapshot.name,
            snapshot.volume_name,
            not_found=exception.VolumeNotFound(volume_id=snapshot.volume_id),
        )

    def delete_snapshot(self, snapshot):
        try:
            self.client.delete_snapshot(snapshot.name)
        except ArrayAPIError as exc:
            if exc.status == 404:
                LOG.info(
                    "refflash: snapshot %s is already gone", snapshot.name
                )
                return
            raise exception.VolumeBackendAPIException(data=str(exc)) from exc
        except ArrayUnreachable as exc:
            raise exception.VolumeBackendAPIException(data=str(exc)) from exc

    # -- exports: masking happens in initialize_connection
    # ---------------------

    def create_export(self, context, volume, connector):
        pass

    def ensure_export(self, context, volume):
        pass

    def remove_export(self, context, volume):
        pass

    # -- connections: masking, under one lock per initiator
    # ---------------------
    #
    # Every change to an array host (create, delete) and to its mappings runs
    # under a coordination lock named after the connector's initiator, so
    # parallel first attaches from a new compute node find (instead of racing
    # to create) its array host, and deleting a host left empty cannot race a
    # concurrent map to it.

    def _host_args(self, connector):
        """The connector's initiators: {"iqns": [..]} or {"wwpns": [..]}.

        Raises InvalidConnectorException when they are missing or malformed.
        """
        raise NotImplementedError()

    @staticmethod
    def _lock_key(iqns=(), wwpns=(), **_other):
        return (list(iqns or ()) or sorted(wwpns or ()))[0]

    def _host_for(self, connector, iqns=(), wwpns=(), chap=False):
        """The connector's array host, made if needed: (name, created)."""
        host = self._find_host(iqns, wwpns)
        if host:
            if chap and not host.get("chap"):
                self._call(
                    self.client.update_host,
                    host["name"],
                    chap=self._new_chap(host["name"]),
                )
            return host["name"], False
        base = "".join(
            c if c.isalnum() or c in "-_." else "-" for c in connector["host"]
        )
        # two nodes may share a hostname
        name = f"{base[:40]}-{secrets.token_hex(3)}"
        try:
            self.client.create_host(
                name,
                iqns=iqns,
                wwpns=wwpns,
                chap=self._new_chap(name) if chap else None,
            )
        except ArrayAPIError as exc:
            # another cinder-volume (not under our lock) created it first: use
            # theirs
            if exc.code != "host.initiator_in_use":
                raise self._translate(exc) from exc
            host = self._find_host(iqns, wwpns)
            if not host:
                raise self._translate(exc) from exc
            return host["name"], False
        except ArrayUnreachable as exc:
            raise self._translate(exc) from exc
        return name, True

    def _find_host(self, iqns=(), wwpns=()):
        return self._call(
            self.client.find_host,
            iqn=iqns[0] if iqns else None,
            wwpn=sorted(wwpns)[0] if wwpns else None,
        )

    @staticmethod
    def _new_chap(host_name):
        return {
            "username": host_name[:60],
            "secret": volume_utils.generate_password(16),
        }

    def _connect(self, volume, connector, build_info, **host_args):
        """Map the volume to the connector's host; return build_info().

        When mapping or build_info fails (no portal online, say), whatever this
        call added is undone: the mapping, and the host if this call created
        it.
        """
        return self._connect_locked(
            self._lock_key(**host_args),
            volume,
            connector,
            build_info,
            host_args,
        )

    @coordination.synchronized("refflash-initiator-{key}")
    def _connect_locked(self, key, volume, connector, build_info, host_args):
        host, created = self._host_for(connector, **host_args)
        # a second attachment on the same host reuses the mapping: never undo
        # that one
        was_mapped = not created and bool(
            self._call(self.client.mappings, volume=volume.name, host=host)
        )
        maybe_mapped = False
        try:
            try:
                mapping = self.client.map(volume.name, host)
            except ArrayAPIError as exc:
                raise self._translate(
                    exc, exception.VolumeNotFound(volume_id=volume.id)
                ) from exc
            except ArrayUnreachable as exc:
                maybe_mapped = True  # no answer: the mapping may exist
                raise self._translate(exc) from exc
            maybe_mapped = True
            return build_info(host, mapping["lun"])
        except Exception:
            with excutils.save_and_reraise_exception():
                self._undo_connect(
                    volume.name,
                    host,
                    unmap=maybe_mapped and not was_mapped,
                    delete_host=created,
                )

    def _undo_connect(self, volume_name, host, unmap, delete_host):
        steps = (
            [(self.client.unmap, (volume_name, host))] if unmap else []
        ) + ([(self.client.delete_host, (host,))] if delete_host else [])
        for func, args in steps:
            try:
                func(*args)
            except ArrayAPIError as exc:
                if exc.status != 404:
                    LOG.error(
                        "refflash: could not undo %s%s: %s",
                        func.__name__,
                        args,
                        exc,
                    )
            except ArrayUnreachable as exc:
                LOG.error(
                    "refflash: could not undo %s%s: %s",
                    func.__name__,
                    args,
                    exc,
                )

    @staticmethod
    def _attachments_on_host(volume, connector):
        """Attachments of the volume on the connector's compute host.

        During a detach the attachment being removed is still in the list, so
        more than one means another instance on that host still uses the LUN
        (multiattach) and its mapping must stay.
        """
        host = (connector or {}).get("host")
        return [
            a
            for a in (volume.volume_attachment or [])
            if a.attach_status == fields.VolumeAttachStatus.ATTACHED
            and a.attached_host == host
        ]

    def _disconnect(self, volume, connector, before_unmap=None):
        """Unmap from the connector's host (or all hosts); drop emptied hosts.

        Returns (emptied, shared): hosts removed because no volume is left on
        them, and whether another attachment on the same host keeps the
        mapping.
        before_unmap(host) runs under the host's lock before the unmap (FC
        reads
        the host's zones there).
        """
        if connector is None:  # force detach: every mapping of the volume goes
            emptied = []
            for m in self._call(self.client.mappings, volume=volume.name):
                if not m.get("host"):
                    continue
                try:
                    host = self._call(self.client.host, m["host"])
                except exception.VolumeBackendAPIException:
                    LOG.warning(
                        "refflash: host %s vanished during force detach",
                        m["host"],
                    )
                    continue
                key = self._lock_key(
                    iqns=host.get("iqns"), wwpns=host.get("wwpns")
                )
                emptied += self._disconnect_locked(
                    key, volume, host["name"], before_unmap
                )
            return emptied, False
        if len(self._attachments_on_host(volume, connector)) > 1:
            LOG.info(
                "refflash: %s stays mapped to %s for its other "
                "attachments there",
                volume.name,
                connector.get("host"),
            )
            return [], True
        host_args = self._host_args(connector)
        key = self._lock_key(**host_args)
        return self._disconnect_locked(
            key, volume, None, before_unmap, host_args
        ), False

    @coordination.synchronized("refflash-initiator-{key}")
    def _disconnect_locked(
        self, key, volume, host, before_unmap, host_args=None
    ):
        if host is None:
            found = self._find_host(**host_args)
            if not found:
                return []
            host = found["name"]
        if before_unmap:
            before_unmap(host)
        try:
            self.client.unmap(volume.name, host)
        except ArrayAPIError as exc:
            if exc.status != 404:
                raise self._translate(exc) from exc
        except ArrayUnreachable as exc:
            raise self._translate(exc) from exc
        if self._call(self.client.mappings, host=host):
            return []
        try:
            self.client.delete_host(host)
        except ArrayAPIError as exc:
            if exc.status != 404:
                raise self._translate(exc) from exc
        except ArrayUnreachable as exc:
            raise self._translate(exc) from exc
        return [host]

    # -- manage / unmanage ----------------------------------------------------

    def _existing(self, getter, existing_ref):
        name = existing_ref.get("source-name")
        if not name:
            raise exception.ManageExistingInvalidReference(
                existing_ref=existing_ref, reason=_("source-name is required")
            )
        try:
            return getter(name)
        except ArrayAPIError as exc:
            if exc.status == 404:
                raise exception.ManageExistingInvalidReference(
                    existing_ref=existing_ref,
                    reason=_("no such object on the array"),
                ) from exc
            raise exception.VolumeBackendAPIException(data=str(exc)) from exc
        except ArrayUnreachable as exc:
            raise exception.VolumeBackendAPIException(data=str(exc)) from exc

    def manage_existing_get_size(self, volume, existing_ref):
        vol = self._existing(self.client.volume, existing_ref)
        return int(math.ceil(vol["size_bytes"] / GIB))

    def manage_existing(self, volume, existing_ref):
        vol = self._existing(self.client.volume, existing_ref)
        if vol["mappings"]:
            raise exception.ManageExistingInvalidReference(
                existing_ref=existing_ref,
                reason=_("the volume is mapped to a host; unmap it"),
            )
        size_gb = int(math.ceil(vol["size_bytes"] / GIB))
        changes = {"name": volume.name}
        if size_gb * GIB != vol["size_bytes"]:
            changes["size_gb"] = size_gb  # Cinder counts whole GiB
        self._call(self.client.update_volume, vol["name"], **changes)
        return None

    def unmanage(self, volume):
        self._call(
            self.client.update_volume,
            volume.name,
            name=f"unmanaged-{volume.name}",
            not_found=exception.VolumeNotFound(volume_id=volume.id),
        )

    def manage_existing_snapshot_get_size(self, snapshot, existing_ref):
        snap = self._existing(self.client.snapshot, existing_ref)
        return int(math.ceil(snap["size_bytes"] / GIB))

    def manage_existing_snapshot(self, snapshot, existing_ref):
        snap = self._existing(self.client.snapshot, existing_ref)
        if snap["volume"] != snapshot.volume_name:
            raise exception.ManageExistingInvalidReference(
                existing_ref=existing_ref,
                reason=_("the snapshot belongs to %s, not this volume")
                % snap["volume"],
            )
        self._call(self.client.rename_snapshot, snap["name"], snapshot.name)
        return None

    def unmanage_snapshot(self, snapshot):
        self._call(
            self.client.rename_snapshot,
            snapshot.name,
            f"unmanaged-{snapshot.name}",
            not_found=exception.SnapshotNotFound(snapshot_id=snapshot.id),
        )

    def get_manageable_volumes(
        self, cinder_volumes, marker, limit, offset, sort_keys, sort_dirs
    ):
        """Array volumes Cinder could manage; why the others are unsafe."""
        in_cinder = {v.name: v.id for v in cinder_volumes}
        entries = []
        for vol in self._call(self.client.volumes):
            reason = None
            if vol["name"] in in_cinder:
                reason = _("already managed by Cinder")
            elif vol.get("mappings"):
                reason = _("mapped to a host")
            elif (vol.get("replication") or {}).get("role") == "replica":
                reason = _("a replication target")
            elif vol.get("pool") != self.configuration.refflash_pool:
                reason = _("in pool %s, not this backend's") % vol.get("pool")
            entries.append(
                {
                    "reference": {"source-name": vol["name"]},
                    "size": int(math.ceil(vol["size_bytes"] / GIB)),
                    "safe_to_manage": reason is None,
                    "reason_not_safe": reason,
                    "cinder_id": in_cinder.get(vol["name"]),
                    "extra_info": None,
                }
            )
        return volume_utils.paginate_entries_list(
            entries, marker, limit, offset, sort_keys, sort_dirs
        )

    def get_manageable_snapshots(
        self, cinder_snapshots, marker, limit, offset, sort_keys, sort_dirs
    ):
        """Array snapshots Cinder could manage (of volumes Cinder has)."""
        in_cinder = {s.name: s.id for s in cinder_snapshots}
        entries = []
        for snap in self._call(self.client.snapshots):
            reason = None
            if snap["name"] in in_cinder:
                reason = _("already managed by Cinder")
            elif not snap.get("volume"):
                reason = _("its volume is gone")
            entries.append(
                {
                    "reference": {"source-name": snap["name"]},
                    "size": int(math.ceil(snap["size_bytes"] / GIB)),
                    "safe_to_manage": reason is None,
                    "reason_not_safe": reason,
                    "cinder_id": in_cinder.get(snap["name"]),
                    "extra_info": None,
                    "source_reference": {"source-name": snap.get("volume")},
                }
            )
        return volume_utils.paginate_entries_list(
            entries, marker, limit, offset, sort_keys, sort_dirs
        )

    # -- replication ----------------------------------------------------------

    def failover_host(self, context, volumes, secondary_id=None, groups=None):
        if not self._target:
            raise exception.InvalidReplicationTarget(
                reason=_("no replication_device configured")
            )
        target_id, target = self._target
        group = self.configuration.refflash_replication_group
        if secondary_id == "default":
            return self._failback(volumes, group)
        if secondary_id not in (None, target_id):
            raise exception.InvalidReplicationTarget(
                reason=_("unknown target %(s)s; configured: %(t)s")
                % {"s": secondary_id, "t": target_id}
            )
        if self.client is target:
            raise exception.InvalidReplicationTarget(
                reason=_("already failed over")
            )
        # last sync while the primary still answers; in a disaster it will not
        try:
            self._primary.group_action(group, "sync")
        except (ArrayAPIError, ArrayUnreachable) as exc:
            LOG.warning(
                "refflash: final sync before failover failed (%s); the "
                "target has "
                "the data of the last completed sync",
                exc,
            )
        try:
            promoted = target.group_action(group, "promote")
        except (ArrayAPIError, ArrayUnreachable) as exc:
            raise exception.UnableToFailOver(reason=str(exc)) from exc
        self.client = target
        self._active_backend_id = target_id
        members = set(promoted["volumes"])
        updates = []
        for vol in volumes:
            if vol.name in members:
                updates.append(
                    {
                        "volume_id": vol.id,
                        "updates": {"replication_status": "failed-over"},
                    }
                )
            else:
                updates.append(
                    {"volume_id": vol.id, "updates": {"status": "error"}}
                )
        return target_id, updates, []

    def _failback(self, volumes, group):
        target_id, target = self._target
        if self.client is self._primary:
            raise exception.InvalidReplicationTarget(
                reason=_("not failed over")
            )
        try:
            self._primary.group_action(group, "demote")
            target.group_action(group, "sync")
            target.group_action(group, "demote")
            promoted = self._primary.group_action(group, "promote")
        except (ArrayAPIError, ArrayUnreachable) as exc:
            raise exception.UnableToFailOver(
                reason=f"failback: {exc}"
            ) from exc
        self.client = self._primary
        self._active_backend_id = None
        members = set(promoted["volumes"])
        on_primary = {v["name"] for v in self._call(self._primary.volumes)}
        updates = []
        for vol in volumes:
            if vol.name in members:
                updates.append(
                    {
                        "volume_id": vol.id,
                        "updates": {"replication_status": "enabled"},
                    }
                )
            elif vol.name not in on_primary:
                # created on the target while failed over, not replicated: it
                # stays there, out of reach of this backend from now on
                LOG.warning(
                    "refflash: %s exists only on %s; it is not replicated and "
                    "cannot fail back",
                    vol.name,
                    target_id,
                )
                updates.append(
                    {"volume_id": vol.id, "updates": {"status": "error"}}
                )
        return "default", updates, []

    def failover(self, context, volumes, secondary_id=None, groups=None):
        return self.failover_host(context, volumes, secondary_id, groups)

    def failover_completed(self, context, active_backend_id=None):
        pass
