"""Drive gertty's own sync code headless against a Gerrit; print what it stored.

Runs inside gertty's venv (``$CI_KIT_ROOT/gertty/bin/python gertty_sync.py
CONFIG PROJECT``), not ours. It builds the parts of gertty's App that
``gertty.sync.Sync`` uses (config, database, search), runs gertty's tasks one
by one exactly as its sync thread would (version, own account, project list,
subscribe PROJECT, clone, branches, project changes with every change's
detail, comments and git refs), and, given REVIEW, saves and uploads a
review with Code-Review +1 through gertty's upload task; then prints one
JSON summary read back from gertty's database. Exit 1 if any gertty task failed.
"""

import json
import os
import sys
import threading

import gertty.app
from gertty import config, db, search, sync


class _Quiet:
    def update(self, **kw):
        pass

    def clear(self, *args):
        pass


class HeadlessApp:
    # gertty's own code for turning a review into a pending upload.
    saveReviews = gertty.app.App.saveReviews
    _saveReview = gertty.app.App._saveReview

    def __init__(self, path):
        self.config = config.Config(None, "default", "default", path)
        self.project_cache = _Quiet()
        self.status = _Quiet()
        self.fetch_missing_refs = False
        self.search = search.SearchCompiler(self.config.username)
        self.db = db.Database(self, self.config.dburi, self.search)


def main(path, project_name, review=None):
    import logging

    app = HeadlessApp(path)
    logging.basicConfig(filename=app.config.log_file, level=logging.DEBUG)
    s = sync.Sync(app, disable_background_sync=True)
    read_fd, write_fd = os.pipe()
    threading.Thread(
        target=lambda: [os.read(read_fd, 4096) for _ in iter(int, 1)], daemon=True
    ).start()
    failed = []

    def drain():
        while s.queue.qsize():
            task = s.queue.get()
            s.queue.queues[task.priority].appendleft(task)
            s.queue.incomplete.remove(task)
            if s._run(write_fd) is not None:
                raise SystemExit(f"gertty went offline running {task}")
            if task.succeeded is False:
                failed.append(repr(task))

    drain()  # GetVersionTask, SyncOwnAccountTask
    s.submitTask(sync.SyncProjectListTask(sync.HIGH_PRIORITY))
    drain()
    with app.db.getSession() as session:
        project = session.getProjectByName(project_name)
        if project is None:
            raise SystemExit(f"project list sync did not create {project_name}")
        project.subscribed = True
    s.submitTask(sync.CheckReposTask(sync.HIGH_PRIORITY))
    s.submitTask(sync.SyncProjectBranchesTask(project_name, sync.HIGH_PRIORITY))
    s.submitTask(sync.SyncSubscribedProjectsTask(sync.NORMAL_PRIORITY))
    drain()

    if review:
        # As if the user pressed "r", voted Code-Review +1, typed REVIEW and saved.
        with app.db.getSession() as session:
            change = session.getProjectByName(project_name).changes[0]
            revision_key = change.revisions[-1].key
        for key in app.saveReviews([revision_key], {"Code-Review": 1}, review, True, False):
            s.submitTask(sync.UploadReviewTask(key, sync.HIGH_PRIORITY))
        drain()

    out = {"version": list(s.version), "account_id": s.account_id, "failed": failed}
    with app.db.getSession() as session:
        out["projects"] = sorted(p.name for p in session.getProjects())
        project = session.getProjectByName(project_name)
        out["branches"] = sorted(b.name for b in project.branches)
        out["changes"] = []
        for change in project.changes:
            out["changes"].append(
                {
                    "number": change.number,
                    "change_id": change.change_id,
                    "subject": change.subject,
                    "status": change.status,
                    "owner": change.owner.username,
                    "revisions": [
                        {
                            "number": r.number,
                            "commit": r.commit,
                            "files": sorted(f.path for f in r.files),
                            "messages": [m.message for m in r.messages],
                        }
                        for r in change.revisions
                    ],
                    "approvals": sorted(
                        (a.category, a.value, a.reviewer.username) for a in change.approvals
                    ),
                }
            )
    print(json.dumps(out))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
