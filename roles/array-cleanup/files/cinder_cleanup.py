"""Stop a Tempest run that is still going, then delete every Cinder object.

DevStack-lite gives each run a fresh Cinder database, so every volume,
snapshot, backup and group Cinder knows was created by this run: deleting
all of them (admin, all projects) leaves the array as the run found it, even
after a failure or a timeout. Attachments go first, through Cinder's
attachment API, so the driver unmaps the volume from the host on the array:
a node lost while a volume was attached (its VM killed mid-run) never
detached, and a volume reset to 'error' would keep its mapping on the array
(which refuses to delete a mapped volume), where the replacement node, with
the same initiator, would find it. Stuck objects are reset to 'error' and
deleted again. Prints a JSON report; exits 1 if anything is left after --timeout,
3 when the Cinder API does not answer (nothing could be checked).
"""

import argparse
import json
import os
import signal
import sys
import time

import keystoneauth1.exceptions
import openstack

UNREACHABLE = 3


def descendants(pid):
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            children.append(int(entry))
    found = list(children)
    for child in children:
        found.extend(descendants(child))
    return found


def stop_tempest(pid_file):
    """Kill the shell that ran Tempest and everything below it; return the pids."""
    try:
        with open(pid_file) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return []
    victims = [pid] + descendants(pid)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = []
        for victim in victims:
            try:
                os.kill(victim, sig)
                alive.append(victim)
            except ProcessLookupError:
                pass
        if not alive:
            break
        time.sleep(3)
    os.unlink(pid_file)
    return victims


def leftovers(bs):
    return {
        "backups": [b.id for b in bs.backups(all_projects=True)],
        "snapshots": [s.id for s in bs.snapshots(all_projects=True)],
        "group_snapshots": [g.id for g in bs.group_snapshots(all_projects=True)],
        "groups": [g.id for g in bs.groups(all_projects=True)],
        "volumes": [v.id for v in bs.volumes(all_projects=True)],
    }


def detach_all(bs):
    """Delete every volume attachment (the driver's terminate_connection
    unmaps on the array); returns their ids."""
    done = []
    for attachment in bs.attachments(all_projects=True):
        try:
            bs.delete_attachment(attachment)
            done.append(attachment.id)
        except openstack.exceptions.SDKException:
            pass  # the volume pass resets and retries
    return done


def delete_pass(bs, force):
    """One pass, children first; errors are expected while dependencies go."""
    calls = (
        (bs.backups, lambda o: bs.delete_backup(o, force=force)),
        (bs.snapshots, lambda o: bs.delete_snapshot(o, force=force)),
        (bs.group_snapshots, bs.delete_group_snapshot),
        (bs.groups, lambda o: bs.delete_group(o, delete_volumes=True)),
        (bs.volumes, lambda o: bs.delete_volume(o, force=force, cascade=True)),
    )
    for lister, delete in calls:
        for obj in lister(all_projects=True):
            if obj.status in ("deleting",):
                continue
            try:
                if force and obj.status not in ("available", "error") and lister == bs.volumes:
                    bs.reset_volume_status(obj, "error", "detached", None)
                delete(obj)
            except openstack.exceptions.SDKException:
                pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tempest-pid-file")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    report = {"stopped_pids": stop_tempest(args.tempest_pid_file) if args.tempest_pid_file else []}
    try:
        bs = openstack.connect().block_storage
        report["found"] = leftovers(bs)
    except (openstack.exceptions.SDKException, keystoneauth1.exceptions.ClientException) as exc:
        # Keystone or Cinder does not answer: nothing can be checked through Cinder.
        report.update(found={}, left={}, error=f"Cinder API unreachable: {exc}"[:500])
        print(json.dumps(report, sort_keys=True))
        return UNREACHABLE
    deadline = time.monotonic() + args.timeout
    if report["found"]["volumes"]:
        try:
            report["detached"] = detach_all(bs)
        except (openstack.exceptions.SDKException, keystoneauth1.exceptions.ClientException) as exc:
            report["detached"] = f"attachments not listed: {exc}"[:300]
    attempt = 0
    while True:
        left = leftovers(bs)
        if not any(left.values()) or time.monotonic() > deadline:
            break
        delete_pass(bs, force=attempt >= 2)
        attempt += 1
        time.sleep(3)
    report["left"] = left
    print(json.dumps(report, sort_keys=True))
    return 1 if any(left.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
