"""The JSON shapes upstream Gerrit speaks, built from the store.

Two dialects: the SSH one (``gerrit query --format JSON`` rows and
``stream-events`` attributes: camelCase, epoch seconds, values as strings in
approvals) and the REST one (ChangeInfo, RevisionInfo, AccountInfo:
snake_case, ``_number``, timestamps as ``2024-01-02 03:04:05.000000000``).
Field names follow Gerrit 3.x's documentation and what Zuul's and gertty's
code reads.
"""

import datetime
import json

from ci_tools.gerrit.repos import change_ref, subject_of
from ci_tools.gerrit.store import LABELS

VERSION = "3.10.0"


def rest_time(ts):
    dt = datetime.datetime.fromtimestamp(ts, datetime.UTC)
    return dt.strftime("%Y-%m-%d %H:%M:%S.") + f"{dt.microsecond * 1000:09d}"


def hashtags(change):
    return json.loads(change.get("hashtags") or "[]")


def format_value(value):
    return f"+{value}" if value > 0 else str(value)


def label_values(label):
    return {f"{format_value(v) if v else ' 0'}": text for v, text in sorted(LABELS[label].items())}


# -- accounts ---------------------------------------------------------------


def account_ssh(account):
    if not account:
        return {"name": "Gerrit Code Review"}
    out = {"name": account["name"] or account["username"], "username": account["username"]}
    if account["email"]:
        out["email"] = account["email"]
    return out


def account_rest(account, detailed=True):
    if not account:
        return {}
    out = {"_account_id": account["id"]}
    if detailed:
        out["name"] = account["name"] or account["username"]
        if account["email"]:
            out["email"] = account["email"]
        out["username"] = account["username"]
    return out


# -- SSH dialect --------------------------------------------------------------


def change_attr(svc, change):
    """The ``change`` attribute of events and the head of a query row."""
    current = svc.current_patchset(change["number"])
    commit = svc.commit(change["project"], current["revision"])
    attr = {
        "project": change["project"],
        "branch": change["branch"],
        "id": change["change_id"],
        "number": change["number"],
        "subject": change["subject"],
        "owner": account_ssh(svc.store.account(change["owner_id"])),
        "url": svc.change_url(change),
        "commitMessage": commit["message"],
        "createdOn": int(change["created"]),
        "status": change["status"],
    }
    if change["topic"]:
        attr["topic"] = change["topic"]
    if hashtags(change):
        attr["hashtags"] = hashtags(change)
    return attr


def patchset_attr(svc, change, ps, approvals=False, files=False):
    commit = svc.commit(change["project"], ps["revision"])
    stats = svc.files(change["project"], ps["revision"])
    attr = {
        "number": ps["number"],
        "revision": ps["revision"],
        "parents": commit["parents"],
        "ref": change_ref(change["number"], ps["number"]),
        "uploader": account_ssh(svc.store.account(ps["uploader_id"])),
        "createdOn": int(ps["created"]),
        "author": {"name": commit["author"]["name"], "email": commit["author"]["email"]},
        "kind": ps.get("kind") or "REWORK",
        "sizeInsertions": sum(f["lines_inserted"] for f in stats.values()),
        "sizeDeletions": -sum(f["lines_deleted"] for f in stats.values()),
    }
    if approvals:
        attr["approvals"] = [
            approval_attr(svc, a)
            for a in svc.store.approvals(change["number"], ps["number"])
            if a["value"] != 0
        ]
    if files:
        attr["files"] = [{"file": "/COMMIT_MSG", "type": "ADDED", "insertions": 0, "deletions": 0}]
        kinds = {"A": "ADDED", "M": "MODIFIED", "D": "DELETED", "R": "RENAMED"}
        for path, f in sorted(stats.items()):
            attr["files"].append(
                {
                    "file": path,
                    "type": kinds.get(f["status"], "MODIFIED"),
                    "insertions": f["lines_inserted"],
                    "deletions": -f["lines_deleted"],
                }
            )
    return attr


def approval_attr(svc, approval, old_value=None):
    out = {
        "type": approval["label"],
        "description": approval["label"],
        "value": str(approval["value"]),
        "grantedOn": int(approval["date"]),
        "by": account_ssh(svc.store.account(approval["account_id"])),
    }
    if old_value is not None:
        out["oldValue"] = str(old_value)
    return out


def submit_records(svc, change, ps):
    labels = []
    ok = True
    for label in LABELS:
        values = [
            a["value"]
            for a in svc.store.approvals(change["number"], ps["number"])
            if a["label"] == label
        ]
        if values and min(values) == min(LABELS[label]):
            status = "REJECT"
        elif values and max(values) == max(LABELS[label]):
            status = "OK"
        else:
            status = "NEED"
        ok = ok and status == "OK"
        labels.append({"label": label, "status": status})
    if change["status"] == "MERGED":
        return [{"status": "CLOSED", "labels": labels}]
    return [{"status": "OK" if ok else "NOT_READY", "labels": labels}]


def query_row(svc, change, opts):
    """One ``gerrit query --format JSON`` row; ``opts`` is a set of option names."""
    row = change_attr(svc, change)
    if "commit-message" not in opts:
        row.pop("commitMessage")
    row["lastUpdated"] = int(change["updated"])
    row["open"] = change["status"] == "NEW"
    patchsets = svc.store.patchsets(change["number"])
    current = patchsets[-1]
    with_approvals = "all-approvals" in opts
    with_files = "files" in opts
    if "patch-sets" in opts or with_approvals:
        row["patchSets"] = [
            patchset_attr(svc, change, ps, approvals=with_approvals, files=with_files)
            for ps in patchsets
        ]
    if "current-patch-set" in opts:
        row["currentPatchSet"] = patchset_attr(
            svc, change, current, approvals=True, files=with_files
        )
    if "comments" in opts:
        row["comments"] = [
            {
                "timestamp": int(m["date"]),
                "reviewer": account_ssh(svc.store.account(m["author_id"])),
                "message": m["message"],
            }
            for m in svc.store.messages(change["number"])
        ]
    if "dependencies" in opts:
        parents, children = svc.related(change, current)
        if parents:
            row["dependsOn"] = [_dep(svc, c, ps) for c, ps in parents[:1]]
        if children:
            row["neededBy"] = [_dep(svc, c, ps) for c, ps in children]
    if "submit-records" in opts:
        row["submitRecords"] = submit_records(svc, change, current)
    return row


def _dep(svc, change, ps):
    return {
        "id": change["change_id"],
        "number": change["number"],
        "revision": ps["revision"],
        "ref": change_ref(change["number"], ps["number"]),
        "isCurrentPatchSet": ps["number"] == svc.current_patchset(change["number"])["number"],
    }


# -- REST dialect -------------------------------------------------------------


def triplet(change):
    return f"{change['project']}~{change['branch']}~{change['change_id']}"


def commit_rest(commit, with_sha=False):
    def person(p):
        return {
            "name": p["name"],
            "email": p["email"],
            "date": rest_time(p["time"]),
            "tz": _tz_minutes(p["tz"]),
        }

    out = {
        "parents": [{"commit": p, "subject": ""} for p in commit["parents"]],
        "author": person(commit["author"]),
        "committer": person(commit["committer"]),
        "subject": subject_of(commit["message"]),
        "message": commit["message"],
    }
    if with_sha:
        out = {"commit": commit["commit"], **out}
    return out


def _tz_minutes(tz):
    sign = -1 if tz.startswith("-") else 1
    return sign * (int(tz[1:3]) * 60 + int(tz[3:5]))


def files_rest(stats):
    out = {"/COMMIT_MSG": {"status": "A", "lines_inserted": 0, "size_delta": 0, "size": 0}}
    for path, f in sorted(stats.items()):
        entry = {}
        if f["status"] != "M":
            entry["status"] = f["status"]
        if f.get("binary"):
            entry["binary"] = True
        else:
            if f["lines_inserted"]:
                entry["lines_inserted"] = f["lines_inserted"]
            if f["lines_deleted"]:
                entry["lines_deleted"] = f["lines_deleted"]
        entry["size_delta"] = 0
        entry["size"] = 0
        out[path] = entry
    return out


def revision_rest(svc, change, ps, opts, current):
    project = change["project"]
    ref = change_ref(change["number"], ps["number"])
    rev = {
        "kind": ps.get("kind") or "REWORK",
        "_number": ps["number"],
        "created": rest_time(ps["created"]),
        "uploader": account_rest(svc.store.account(ps["uploader_id"]), "DETAILED_ACCOUNTS" in opts),
        "ref": ref,
        "fetch": {
            "anonymous http": {"url": f"{svc.base_url}/{project}", "ref": ref},
            "http": {"url": f"{svc.base_url}/a/{project}", "ref": ref},
            "ssh": {"url": f"ssh://{svc.ssh_host}:{svc.ssh_port}/{project}", "ref": ref},
        },
    }
    if opts & {"CURRENT_COMMIT", "ALL_COMMITS"} and (current or "ALL_COMMITS" in opts):
        rev["commit"] = commit_rest(svc.commit(project, ps["revision"]))
    if opts & {"CURRENT_FILES", "ALL_FILES"} and (current or "ALL_FILES" in opts):
        rev["files"] = files_rest(svc.files(project, ps["revision"]))
    if "CURRENT_ACTIONS" in opts and current:
        rev["actions"] = {}
    return rev


def labels_rest(svc, change, opts):
    ps = svc.current_patchset(change["number"])
    approvals = svc.store.approvals(change["number"], ps["number"])
    detailed = "DETAILED_LABELS" in opts
    out = {}
    for label, values in LABELS.items():
        votes = [a for a in approvals if a["label"] == label]
        info = {}
        lo, hi = min(values), max(values)
        for kind, val in (("rejected", lo), ("approved", hi)):
            who = [a for a in votes if a["value"] == val]
            if who:
                info[kind] = account_rest(svc.store.account(who[0]["account_id"]))
        if votes and "approved" not in info and "rejected" not in info:
            top = max(votes, key=lambda a: abs(a["value"]))
            if top["value"]:
                kind = "recommended" if top["value"] > 0 else "disliked"
                info[kind] = account_rest(svc.store.account(top["account_id"]))
                info["value"] = top["value"]
        if detailed:
            info["all"] = [
                {
                    **account_rest(svc.store.account(a["account_id"])),
                    "value": a["value"],
                    "date": rest_time(a["date"]),
                }
                for a in votes
            ]
            info["values"] = label_values(label)
        info["default_value"] = 0
        out[label] = info
    return out


def message_rest(svc, message):
    out = {
        "id": message["id"],
        "date": rest_time(message["date"]),
        "message": message["message"],
        "_revision_number": message["patchset"],
    }
    if message["author_id"]:
        author = account_rest(svc.store.account(message["author_id"]))
        out["author"] = author
        out["real_author"] = author
    if message["tag"]:
        out["tag"] = message["tag"]
    return out


def change_info(svc, change, opts=frozenset(), detail=False):
    opts = set(opts)
    if detail:
        opts |= {"LABELS", "DETAILED_LABELS", "DETAILED_ACCOUNTS", "MESSAGES"}
    patchsets = svc.store.patchsets(change["number"])
    current = patchsets[-1]
    stats = svc.files(change["project"], current["revision"])
    info = {
        "id": triplet(change),
        "triplet_id": triplet(change),
        "project": change["project"],
        "branch": change["branch"],
        "hashtags": hashtags(change),
        "change_id": change["change_id"],
        "subject": change["subject"],
        "status": change["status"],
        "created": rest_time(change["created"]),
        "updated": rest_time(change["updated"]),
        "submit_type": "MERGE_IF_NECESSARY",
        "mergeable": change["status"] == "NEW",
        "insertions": sum(f["lines_inserted"] for f in stats.values()),
        "deletions": sum(f["lines_deleted"] for f in stats.values()),
        "total_comment_count": 0,
        "unresolved_comment_count": 0,
        "has_review_started": True,
        "meta_rev_id": current["revision"],
        "_number": change["number"],
        "owner": account_rest(svc.store.account(change["owner_id"]), "DETAILED_ACCOUNTS" in opts),
        "requirements": [],
    }
    if change["topic"]:
        info["topic"] = change["topic"]
    if change["status"] == "MERGED":
        info["submitted"] = rest_time(change["updated"])
    if opts & {"LABELS", "DETAILED_LABELS"}:
        info["labels"] = labels_rest(svc, change, opts)
    if "DETAILED_LABELS" in opts:
        account = svc.request_account
        info["permitted_labels"] = {}
        if account and change["status"] == "NEW":
            for label in LABELS:
                rng = svc.store.label_range(account, label, change["project"])
                if rng:
                    info["permitted_labels"][label] = [
                        format_value(v) if v else " 0" for v in range(rng[0], rng[1] + 1)
                    ]
        info["removable_reviewers"] = []
        info["reviewers"] = {"REVIEWER": _reviewers(svc, change)}
    if "MESSAGES" in opts:
        info["messages"] = [message_rest(svc, m) for m in svc.store.messages(change["number"])]
    if opts & {"CURRENT_REVISION", "ALL_REVISIONS"}:
        info["current_revision"] = current["revision"]
        info["current_revision_number"] = current["number"]
        shown = patchsets if "ALL_REVISIONS" in opts else [current]
        info["revisions"] = {
            ps["revision"]: revision_rest(svc, change, ps, opts, ps is current) for ps in shown
        }
    if "SUBMIT_REQUIREMENTS" in opts:
        info["submit_requirements"] = []
    if "SUBMITTABLE" in opts:
        info["submittable"] = submit_records(svc, change, current)[0]["status"] == "OK"
    return info


def _reviewers(svc, change):
    seen = {}
    for a in svc.store.approvals(change["number"]):
        seen.setdefault(a["account_id"], account_rest(svc.store.account(a["account_id"])))
    return list(seen.values())


def related_rest(svc, change, ps):
    """``{"changes": [...]}``: the chain through this patch set, newest first,
    including this change, or ``[]`` when it stands alone (as Gerrit does)."""
    parents, children = svc.related(change, ps)
    if not parents and not children:
        return {"changes": []}
    chain = list(reversed(children)) + [(change, ps)] + parents
    out = []
    for c, p in chain:
        commit = svc.commit(c["project"], p["revision"])
        out.append(
            {
                "project": c["project"],
                "change_id": c["change_id"],
                "commit": {
                    "commit": p["revision"],
                    "parents": [{"commit": x} for x in commit["parents"]],
                    "author": {
                        "name": commit["author"]["name"],
                        "email": commit["author"]["email"],
                    },
                    "subject": subject_of(commit["message"]),
                },
                "_change_number": c["number"],
                "_revision_number": p["number"],
                "_current_revision_number": svc.current_patchset(c["number"])["number"],
                "status": c["status"],
            }
        )
    return {"changes": out}


# -- groups -------------------------------------------------------------------


def group_rest(group, with_name=True):
    """GroupInfo: ``id`` is the URL-encoded UUID, ``group_id`` the legacy number."""
    out = {
        "id": group["uuid"],
        "url": f"#/admin/groups/uuid-{group['uuid']}",
        "options": {"visible_to_all": True} if group["visible_to_all"] else {},
        "description": group["description"],
        "group_id": group["id"],
        "owner": "Administrators",
        "created_on": rest_time(group["created"]),
    }
    if with_name:
        out = {"id": out.pop("id"), "name": group["name"], **out}
    return out
