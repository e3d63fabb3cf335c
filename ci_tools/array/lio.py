"""The array's FC target ports made real: LIO's tcm_fc over FCoE VN2VN.

This module runs in two places. On the host, :func:`port_mac` and
:func:`port_wwpn` give every FC target port of the reference array the MAC
address of one data-plane NIC and the WWPN that the kernel's software FCoE
derives from it (``20:00`` + MAC, as ``fcoe_wwn_from_mac`` does), so the port
list the REST API shows is the list of ports that really log in.

Inside the array's data-plane VM (Debian's kernel: fcoe, libfc, target_core_mod,
tcm_fc; python3-rtslib-fb) ``python3 lio.py --state <share>/state.json`` keeps
the Linux target equal to the array's state, which only the REST API writes:

* each target port is a tcm_fc target (WWPN above, TPG 1) on an FCoE
  controller in VN2VN mode, enabled while its controller is online;
* zoning: an initiator WWPN is let in (a node ACL on every online port) only
  while its host has a volume mapped, as Cinder's zone manager zones it at
  initialize_connection and unzones it at the last terminate_connection;
* masking: the ACL's mapped LUNs are the host's LUN numbers; the volumes are
  fileio backstores on the array's own files (the data dir, shared over
  virtio-9p), so what the initiator writes is in the array's volume file.

tcm_fc has no demo mode and grants the FCP target role at PRLI only to an
initiator that has an ACL at that moment; libfc on the initiator keeps that
answer for as long as it sees the port. So an initiator must be zoned before
it logs in, as a switch's zone set is: the sandbox zones its compute node
through the fabric API before the node's FCoE port comes up.

Stdlib only (rtslib is imported in the VM): the VM runs this file as it is
in the change under test, from a read-only share.
"""

import argparse
import json
import logging
import os
import subprocess
import sys
import time
import uuid

LOG = logging.getLogger("lio")

# Locally administered unicast prefix of the array's data-plane NICs.
MAC_PREFIX = "52:4a:93"
FCOE_SYSFS = "/sys/bus/fcoe"
NET_SYSFS = "/sys/class/net"
TPG_TAG = 1


def port_mac(serial, controller_index, port_index):
    """MAC of the NIC behind one FC target port: prefix, ctrl/port, serial."""
    serial = serial.lower()[:4].rjust(4, "0")
    return f"{MAC_PREFIX}:{controller_index:x}{port_index:x}:{serial[:2]}:{serial[2:4]}"


def port_wwpn(serial, controller_index, port_index):
    """WWPN (16 hex digits) software FCoE gives that NIC's port: 2000 + MAC."""
    return "2000" + port_mac(serial, controller_index, port_index).replace(":", "")


def colon_wwn(wwpn):
    """``2000524a93000001`` -> ``20:00:52:4a:93:00:00:01`` (rtslib's form for tcm_fc)."""
    wwpn = wwpn.replace(":", "").lower()
    return ":".join(wwpn[i : i + 2] for i in range(0, 16, 2))


PORTS_PER_CONTROLLER = 2


def ports_of(state):
    """The array's FC target ports, from its state: what ``fc.target_ports`` lists."""
    ports = []
    for ci, (ctrl, info) in enumerate(sorted(state.get("controllers", {}).items())):
        for pi in range(PORTS_PER_CONTROLLER):
            ports.append(
                {
                    "name": f"{ctrl}.fc{pi}",
                    "controller": ctrl,
                    "mac": port_mac(state["serial"], ci, pi),
                    "wwpn": port_wwpn(state["serial"], ci, pi),
                    "state": info["state"],
                }
            )
    return ports


def _hosts_of(state, mapping):
    if mapping.get("host"):
        return [mapping["host"]]
    return list(state.get("hostgroups", {}).get(mapping.get("hostgroup"), {}).get("hosts", []))


def zoned_initiators(state):
    """Initiator WWPNs let in: the fabric's zone set plus every host with a LUN mapped.

    The fabric logins (``POST /admin/fabric/logins``) stand for a switch's
    zone set, made before the initiator logs in; a host's WWPNs are zoned
    while a volume is mapped to it, as Cinder's zone manager does.
    """
    zoned = {w for w, info in state.get("fabric", {}).items() if info.get("logged_in")}
    for m in state.get("mappings", {}).values():
        for host_name in _hosts_of(state, m):
            zoned |= set(state.get("hosts", {}).get(host_name, {}).get("wwpns", []))
    return zoned


def desired(state, ports, volumes_dir):
    """What LIO must hold for ``state`` (the array's state.json).

    Returns ``{"ports": {wwpn: {"enabled": bool, "acls": {initiator: {lun:
    vol_id}}}}, "volumes": {vol_id: path}}``. Every zoned initiator gets an
    ACL on every online port (empty if nothing is mapped: it logs in and sees
    no LUN); an offline controller's ports are down and hold nothing.
    """
    luns_of = {w: {} for w in zoned_initiators(state)}
    volumes = {}
    for m in state.get("mappings", {}).values():
        vol = state.get("volumes", {}).get(m["volume_id"])
        if not vol:
            continue
        for host_name in _hosts_of(state, m):
            for wwpn in state.get("hosts", {}).get(host_name, {}).get("wwpns", []):
                luns_of.setdefault(wwpn, {})[int(m["lun"])] = vol["id"]
                volumes[vol["id"]] = os.path.join(volumes_dir, vol["id"] + ".img")
    out = {}
    for p in ports:
        online = p["state"] == "online"
        out[p["wwpn"]] = {
            "enabled": online,
            "acls": {w: dict(luns) for w, luns in luns_of.items()} if online else {},
        }
    return {"ports": out, "volumes": volumes}


# -- inside the data-plane VM --------------------------------------------------


def _read(path):
    with open(path) as f:
        return f.read().strip()


def _write(path, value):
    with open(path, "w") as f:
        f.write(value)


class FcoePorts:
    """The VM's FCoE controllers, one per data NIC whose MAC is a port's."""

    def __init__(self):
        self.by_mac = {}  # mac -> netdev name

    def discover(self):
        for dev in sorted(os.listdir(NET_SYSFS)):
            try:
                mac = _read(os.path.join(NET_SYSFS, dev, "address")).lower()
            except OSError:
                continue
            if mac.startswith(MAC_PREFIX):
                self.by_mac[mac] = dev
        return self.by_mac

    def _ctlr(self, dev):
        base = os.path.join(FCOE_SYSFS, "devices")
        for name in sorted(os.listdir(base)) if os.path.isdir(base) else []:
            if not name.startswith("ctlr_"):
                continue
            # ctlr_N's parent device is the netdev it runs on
            real = os.path.realpath(os.path.join(base, name))
            if os.path.basename(os.path.dirname(real)) == dev:
                return os.path.join(base, name)
        return None

    def create(self, dev, mtu=9000):
        """Bring the NIC up and create a disabled VN2VN controller on it."""
        subprocess.run(["ip", "link", "set", dev, "mtu", str(mtu), "up"], check=True)
        ctlr = self._ctlr(dev)
        if ctlr is None:
            _write(os.path.join(FCOE_SYSFS, "ctlr_create"), dev)
            ctlr = self._ctlr(dev)
            _write(os.path.join(ctlr, "mode"), "vn2vn")
        return ctlr

    def set_enabled(self, dev, enabled):
        ctlr = self._ctlr(dev)
        want = "1" if enabled else "0"
        if ctlr and _read(os.path.join(ctlr, "enabled")) != want:
            _write(os.path.join(ctlr, "enabled"), want)
            LOG.info("fcoe %s on %s: enabled=%s", os.path.basename(ctlr), dev, want)


def so_name(vol_id):
    return "refflash-" + vol_id


def _plain(wwn):
    """rtslib's ``naa.2000...`` or ``20:00:...`` -> ``2000...``."""
    return wwn.lower().removeprefix("naa.").replace(":", "")


class LioSync:
    """Applies :func:`desired` to LIO through rtslib-fb, read back from configfs each time."""

    def __init__(self):
        os.makedirs("/etc/rtslib-fb-target", exist_ok=True)  # rtslib's dbroot
        import rtslib_fb  # noqa: PLC0415 - only present in the VM

        self.rts = rtslib_fb
        self.fabric = rtslib_fb.FabricModule("tcm_fc")

    def tpg(self, wwpn):
        target = self.rts.Target(self.fabric, colon_wwn(wwpn), mode="any")
        return self.rts.TPG(target, TPG_TAG, mode="any")

    def _storage_object(self, objects, vol_id, path):
        name = so_name(vol_id)
        if name not in objects:
            try:
                wwn = str(uuid.UUID(vol_id))  # a stable unit serial (by-id, multipath)
            except ValueError:
                wwn = None
            objects[name] = self.rts.FileIOStorageObject(
                name, dev=path, size=os.path.getsize(path), wwn=wwn, write_back=False
            )
        return objects[name]

    def apply(self, want):
        """Make LIO equal to ``want``; returns the ports that got new initiators."""
        objects = {so.name: so for so in self.rts.RTSRoot().storage_objects}
        grown = []
        for wwpn, spec in sorted(want["ports"].items()):
            tpg = self.tpg(wwpn)
            acls = {_plain(a.node_wwn): a for a in tpg.node_acls}
            for ini in sorted(set(acls) - set(spec["acls"])):
                acls.pop(ini).delete()  # unzoned: its session ends with the ACL
            luns = {lun.storage_object.name: lun for lun in tpg.luns}
            needed = {so_name(v) for mapped in spec["acls"].values() for v in mapped.values()}
            for name in sorted(needed - set(luns)):
                vol_id = name.removeprefix("refflash-")
                so = self._storage_object(objects, vol_id, want["volumes"][vol_id])
                luns[name] = self.rts.LUN(tpg, storage_object=so)
            if set(spec["acls"]) - set(acls):
                grown.append(wwpn)
            for ini, mapped in sorted(spec["acls"].items()):
                acl = acls.get(ini) or self.rts.NodeACL(tpg, colon_wwn(ini), mode="create")
                have = {m.mapped_lun: m for m in acl.mapped_luns}
                for n, m in sorted(have.items()):
                    want_name = so_name(mapped[n]) if n in mapped else None
                    if m.tpg_lun.storage_object.name != want_name:
                        m.delete()
                        del have[n]
                for n, vol_id in sorted(mapped.items()):
                    if n not in have:
                        self.rts.MappedLUN(acl, n, luns[so_name(vol_id)])
            for name in sorted(set(luns) - needed):
                luns[name].delete()
        for name, so in sorted(objects.items()):
            if name.startswith("refflash-") and not list(so.attached_luns):
                so.delete()
        return grown


def run(state_path, interval=0.2, once=False):
    """Watch the array's state.json and keep FCoE ports and LIO equal to it."""
    volumes_dir = os.path.join(os.path.dirname(state_path), "volumes")
    fcoe, lio = FcoePorts(), LioSync()
    macs = fcoe.discover()
    last, started = None, False
    while True:
        try:
            st = os.stat(state_path)
            key = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            key = None
        if key is not None and key != last:
            last = key
            try:
                with open(state_path) as f:
                    state = json.load(f)
            except (OSError, ValueError) as exc:
                LOG.warning("state not readable yet: %s", exc)
                last = None
                time.sleep(interval)
                continue
            ports = [p for p in ports_of(state) if p["mac"] in macs]
            if not started:
                # ORDER: the tcm_fc target must exist before the port logs in,
                # or initiators keep it as an initiator only.
                for p in ports:
                    fcoe.create(macs[p["mac"]])
                    lio.tpg(p["wwpn"])
                started = True
            t0 = time.monotonic()
            want = desired(state, ports, volumes_dir)
            try:
                # a port going down leaves the fabric before its ACLs go (so
                # no ACL removal waits on live sessions); one coming up gets
                # its ACLs before it logs in
                for p in ports:
                    if p["state"] != "online":
                        fcoe.set_enabled(macs[p["mac"]], False)
                grown = lio.apply(want)
                for p in ports:
                    fcoe.set_enabled(macs[p["mac"]], p["state"] == "online")
            except Exception:  # noqa: BLE001 - keep serving; retry on the next pass
                LOG.exception("LIO sync failed; retrying")
                last = None
                time.sleep(1.0)
                continue
            if grown:
                # tcm_fc answers PRLI only for initiators with an ACL at that
                # moment: one zoned after its login must log in again.
                LOG.info("ports %s: new initiators zoned", ", ".join(grown))
            # lag: from the API's write of state.json (its mtime, host clock)
            # to LIO holding it (guest clock; both from the same host clock)
            LOG.info(
                "LIO in sync: %d ports, %d initiators, %d volumes, apply %.2fs, lag %.2fs",
                len(ports),
                len({i for p in want["ports"].values() for i in p["acls"]}),
                len(want["volumes"]),
                time.monotonic() - t0,
                time.time() - st.st_mtime,
            )
        if once:
            return
        time.sleep(interval)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state", required=True, help="the array's state.json (shared in)")
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--once", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s lio %(message)s")
    run(args.state, args.interval, args.once)
    return 0


if __name__ == "__main__":
    sys.exit(main())
