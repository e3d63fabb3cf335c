"""Load a generated history into the running Gerrit emulator, with its original dates.

Accounts and projects go through the emulator's fixture, as any test's do.
Changes, patch sets and messages are written through the emulator's own
store (``ci_tools.gerrit.store.Store``) with its clock set to each item's
date: the emulator's admin API stamps everything "now", and a month of
history cannot wait a month. Every patch set is a real commit in the
project's bare repo (``git commit-tree`` on the branch head), so the
emulator's REST answers are built exactly as for pushed changes.
"""

import datetime
import os
import subprocess
from unittest import mock

from ci_tools.gerrit import store as store_module
from ci_tools.gerrit.repos import Repos
from tests.functional.people import history

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Jane Developer",
    "GIT_AUTHOR_EMAIL": "jane@example.org",
    "GIT_COMMITTER_NAME": "Jane Developer",
    "GIT_COMMITTER_EMAIL": "jane@example.org",
}


def _epoch(gerrit_time):
    when = datetime.datetime.strptime(gerrit_time[:19], "%Y-%m-%d %H:%M:%S")
    return when.replace(tzinfo=datetime.UTC).timestamp()


def _git(path, *args):
    env = dict(os.environ, **GIT_ENV)
    return subprocess.run(
        ["git", *args], cwd=path, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


def load(gerrit, changes):
    """Write ``changes`` (history.generate's REST shapes) into ``gerrit``."""
    ids = {}
    for account in history.ACCOUNTS.values():
        row = gerrit.add_account(account.username, account.name, f"{account.username}@example.org")
        ids[account.id] = row["id"]
    for project, branches in history.BRANCHES.items():
        gerrit.add_project(project, branches=sorted(set(branches) - {"master"}))
    repos = Repos(gerrit.data_dir)
    store = store_module.Store(gerrit.data_dir)
    owner = ids[history.ACCOUNTS["human"].id]
    try:
        for change in changes:
            path = repos.path(change["project"])
            head = repos.branches(change["project"])[change["branch"]]
            tree = _git(path, "rev-parse", f"{head}^{{tree}}")
            change_id = change["id"].rsplit("~", 1)[1]
            uploads = {
                m["_revision_number"]: _epoch(m["date"])
                for m in change["messages"]
                if m["message"].startswith("Uploaded patch set")
            }

            def commit(ps, change=change, path=path, head=head, tree=tree, change_id=change_id):
                text = f"{change['subject']} (patch set {ps})\n\nChange-Id: {change_id}\n"
                return _git(path, "commit-tree", tree, "-p", head, "-m", text)

            with mock.patch.object(store_module, "now", lambda t=uploads[1]: t):
                number = store.create_change(
                    change["project"], change["branch"], change_id, owner, change["subject"],
                    commit(1),
                )  # fmt: skip
            for ps in sorted(uploads)[1:]:
                with mock.patch.object(store_module, "now", lambda t=uploads[ps]: t):
                    store.add_patchset(number, commit(ps), owner, change["subject"])
            for message in change["messages"]:
                with mock.patch.object(store_module, "now", lambda t=_epoch(message["date"]): t):
                    store.add_message(
                        number,
                        message["_revision_number"],
                        ids[message["author"]["_account_id"]],
                        message["message"],
                    )
    finally:
        store.close()
