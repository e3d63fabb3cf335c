"""The Gerrit operations shared by the SSH server, REST and the admin API.

Pushes become changes, reviews become messages, votes and ``comment-added``
events, submits move branches and emit ``change-merged``/``ref-updated``.
Errors carry the HTTP status upstream would answer with; the SSH front end
turns them into ``fatal:``/``error:`` lines and exit code 1.
"""

import collections
import secrets
import subprocess
import threading
import urllib.parse

from ci_tools.gerrit import model, query
from ci_tools.gerrit.events import EventBus
from ci_tools.gerrit.repos import (
    GitError,
    Repos,
    change_id_of,
    change_ref,
    commit_info,
    file_stats,
    git,
    is_ancestor,
    make_commit,
    subject_of,
)
from ci_tools.gerrit.store import LABELS, Store


class GerritError(Exception):
    status = 400

    def __init__(self, message, status=None):
        super().__init__(message)
        self.message = message
        if status:
            self.status = status


class NotFound(GerritError):
    status = 404


class Forbidden(GerritError):
    status = 403


class Conflict(GerritError):
    status = 409


class Gerrit:
    def __init__(
        self, data_dir, base_url="http://127.0.0.1:8080", ssh_host="127.0.0.1", ssh_port=29418
    ):
        self.data_dir = data_dir
        self.store = Store(data_dir)
        self.repos = Repos(data_dir)
        self.bus = EventBus(self.store)
        self.base_url = base_url.rstrip("/")
        self.ssh_host = ssh_host
        self.ssh_port = ssh_port
        self._cache = {}
        self._project_locks = collections.defaultdict(threading.Lock)
        self._local = threading.local()

    # -- per-request context --------------------------------------------------

    @property
    def request_account(self):
        return getattr(self._local, "account", None)

    def set_request_account(self, account):
        self._local.account = account

    # -- lookups ---------------------------------------------------------------

    def change_url(self, change):
        return f"{self.base_url}/c/{change['project']}/+/{change['number']}"

    def current_patchset(self, number):
        return self.store.patchsets(number)[-1]

    def commit(self, project, sha):
        key = ("commit", sha)
        if key not in self._cache:
            self._cache[key] = commit_info(self.repos.path(project), sha)
        return self._cache[key]

    def files(self, project, sha):
        key = ("files", sha)
        if key not in self._cache:
            self._cache[key] = file_stats(self.repos.path(project), sha)
        return self._cache[key]

    def hook_env(self, project, account):
        """What the proc-receive hook needs to hand a push back to this server."""
        return {
            "GERRIT_EMULATOR_URL": self.base_url,
            "GERRIT_EMULATOR_DATA": self.data_dir,
            "GERRIT_EMULATOR_PROJECT": project,
            "GERRIT_EMULATOR_USER": account["username"] if account else "",
            "GERRIT_EMULATOR_ADMIN": "1" if account and account["is_admin"] else "0",
        }

    def project_lock(self, project):
        return self._project_locks[project]

    def find_change(self, ident):
        """A change by number, ``project~branch~Change-Id``, ``project~number`` or Change-Id."""
        ident = str(ident)
        change = None
        if ident.isdigit():
            change = self.store.change(int(ident))
        elif ident.count("~") == 2:
            change = self.store.change_by_key(*ident.split("~"))
        elif ident.count("~") == 1:
            project, number = ident.split("~")
            change = self.store.change(int(number)) if number.isdigit() else None
            if change and change["project"] != project:
                change = None
        else:
            found = self.store.changes_by_change_id(ident)
            if len(found) > 1:
                raise GerritError(f"Multiple changes found for {ident}")
            change = found[0] if found else None
        if not change:
            raise NotFound(f"Not found: {ident}")
        return change

    def find_patchset(self, change, revision):
        patchsets = self.store.patchsets(change["number"])
        if revision in (None, "", "current"):
            return patchsets[-1]
        revision = str(revision)
        # A patch set number wins over a commit that happens to start with its digits.
        for ps in patchsets:
            if str(ps["number"]) == revision:
                return ps
        if len(revision) >= 4:
            for ps in patchsets:
                if ps["revision"].startswith(revision):
                    return ps
        raise NotFound(f"Not found: {revision}")

    def owner_matches(self, change, who):
        account = self.store.account(change["owner_id"])
        if who == "self":
            me = self.request_account
            return bool(me) and me["id"] == account["id"]
        return who in (account["username"], account["email"], str(account["id"]))

    def related(self, change, ps):
        """(ancestors, descendants) as [(change, patchset)] among open changes."""
        path = self.repos.path(change["project"])
        parents = []
        sha = ps["revision"]
        for _ in range(100):
            commit_parents = self.commit(change["project"], sha)["parents"]
            if not commit_parents:
                break
            found = self.store.patchset_by_revision(commit_parents[0])
            if not found:
                break
            parent_change = self.store.change(found["change_number"])
            if parent_change["status"] != "NEW" or parent_change["project"] != change["project"]:
                break
            parents.append((parent_change, found))
            sha = found["revision"]
        children = []
        frontier = {ps["revision"]}
        for other in self.store.changes():
            if other["number"] == change["number"] or other["status"] != "NEW":
                continue
            if other["project"] != change["project"] or other["branch"] != change["branch"]:
                continue
            cur = self.current_patchset(other["number"])
            if any(is_ancestor(path, f, cur["revision"]) for f in frontier):
                children.append((other, cur))
        return parents, children

    def query(self, text, start=0, limit=None):
        try:
            pred, qlimit = query.compile_query(text)
        except query.QueryError as exc:
            raise GerritError(exc.args[0]) from exc
        limit = min(x for x in (limit, qlimit, 500) if x is not None)
        matched = [c for c in self.store.changes() if pred(c, self)]
        page = matched[start : start + limit]
        return page, len(matched) > start + limit

    # -- pushes ----------------------------------------------------------------

    def process_push(self, project, account, before):
        """After a push: report branch updates (refs/for/* never become refs: the
        proc-receive hook hands them to ``receive``)."""
        after = self.repos.refs(project)
        for ref, new in sorted(after.items()):
            if ref.startswith("refs/heads/") and before.get(ref) != new:
                self.publish_ref_updated(project, ref, before.get(ref), new, account)

    def receive(self, project, account, commands, push_options=()):
        """The refs/for/<branch>[%options] part of a push, as Gerrit's
        ReceiveCommits: one result per command (ok, or ng with Gerrit's reason)
        and the lines Gerrit prints back (the ``SUCCESS`` block with change URLs,
        or a hint for a missing Change-Id)."""
        results, done, hints = [], [], []
        for _old, new, ref in commands:
            try:
                uploaded = self._receive_ref(project, account, ref, new, push_options)
            except GerritError as exc:
                results.append({"ref": ref, "ok": False, "reason": exc.message})
                if "missing Change-Id" in exc.message:
                    hints += missing_change_id_hint(self.base_url)
                continue
            results.append({"ref": ref, "ok": True})
            done += uploaded
        lines = []
        if done:
            lines += ["", "SUCCESS", ""]
            for item in done:
                tags = [" [NEW]"] if item["patchset"] == 1 else []
                if item.get("wip"):
                    tags.append(" [WIP]")
                lines.append(f"  {item['url']} {item['subject']}{''.join(tags)}")
            lines.append("")
        return {"results": results, "messages": lines + hints}

    def _receive_ref(self, project, account, ref, new, push_options=()):
        if not ref.startswith("refs/for/"):
            raise GerritError(f"prohibited by Gerrit: not permitted: create {ref}")
        target, _, text = ref[len("refs/for/") :].partition("%")
        options = parse_push_options(text, push_options)
        if new == "0" * 40:
            raise GerritError(f"cannot delete {ref}")
        if target.startswith("refs/heads/"):
            target = target[len("refs/heads/") :]
        if target not in self.repos.branches(project):
            raise GerritError(f"branch {target} not found")
        path = self.repos.path(project)
        commits = git(
            path, "rev-list", "--reverse", new, "--not", "--branches", "--glob=refs/changes/*"
        ).split()
        if not commits:
            raise GerritError("no new changes")
        # Check every commit before anything is created, as Gerrit does.
        for sha in commits:
            message = self.commit(project, sha)["message"]
            change_id = change_id_of(message)
            if not change_id:
                raise GerritError(f"commit {sha[:7]}: missing Change-Id in message footer")
            existing = self.store.change_by_key(project, target, change_id)
            if existing and existing["status"] != "NEW":
                raise GerritError(f"change {existing['number']} closed")
        uploaded = []
        for sha in commits:
            result = self._upload(
                project, target, sha, account, options.get("topic"), options["hashtags"]
            )
            if result:
                result["wip"] = options.get("wip", False)
                uploaded.append(result)
        return uploaded

    def _upload(self, project, branch, sha, account, topic=None, hashtags=()):
        path = self.repos.path(project)
        if self.store.patchset_by_revision(sha):
            return None
        commit = self.commit(project, sha)
        change_id = change_id_of(commit["message"])
        subject = subject_of(commit["message"])
        change = self.store.change_by_key(project, branch, change_id)
        if change and change["status"] != "NEW":
            raise Conflict(f"change {change['number']} closed")
        if change:
            previous = self.current_patchset(change["number"])
            kind = self.patchset_kind(project, previous["revision"], sha)
            ps = self.store.add_patchset(change["number"], sha, account["id"], subject, kind)
            number = change["number"]
            if topic is not None or hashtags:
                self.store.update_change(number, topic, hashtags)
        else:
            number = self.store.create_change(
                project, branch, change_id, account["id"], subject, sha, topic, hashtags
            )
            ps = 1
        git(path, "update-ref", change_ref(number, ps), sha)
        change = self.store.change(number)
        self.store.add_message(
            number,
            ps,
            account["id"],
            f"Uploaded patch set {ps}.",
            tag="autogenerated:gerrit:newPatchSet",
        )
        patchset = self.find_patchset(change, ps)
        self.bus.publish(
            {
                "uploader": model.account_ssh(account),
                "patchSet": model.patchset_attr(self, change, patchset),
                "change": model.change_attr(self, change),
                "project": project,
                "refName": f"refs/heads/{branch}",
                "changeKey": {"id": change_id},
                "type": "patchset-created",
            }
        )
        return {
            "number": number,
            "patchset": ps,
            "revision": sha,
            "url": self.change_url(change),
            "subject": subject,
        }

    def patchset_kind(self, project, previous, sha):
        """Gerrit's ChangeKind of ``sha`` as the patch set after ``previous``."""
        old, new = self.commit(project, previous), self.commit(project, sha)
        if old["tree"] == new["tree"] and old["parents"] == new["parents"]:
            return "NO_CHANGE" if old["message"] == new["message"] else "NO_CODE_CHANGE"
        if len(old["parents"]) == len(new["parents"]) == 1 and old["parents"] != new["parents"]:
            # The same diff on another parent: a rebase that needed no conflict
            # resolution (Gerrit redoes the merge; equal patch ids say the same).
            path = self.repos.path(project)
            if patch_id(path, old["parents"][0], previous) == patch_id(
                path, new["parents"][0], sha
            ):
                if old["message"] == new["message"]:
                    return "TRIVIAL_REBASE"
                return "TRIVIAL_REBASE_WITH_MESSAGE_UPDATE"
        return "REWORK"

    def publish_ref_updated(self, project, ref, old, new, account=None):
        event = {
            "refUpdate": {
                "oldRev": old or "0" * 40,
                "newRev": new,
                "refName": ref,
                "project": project,
            },
            "type": "ref-updated",
        }
        if account:
            event["submitter"] = model.account_ssh(account)
        self.bus.publish(event)

    def upload_files(self, project, branch, files, message, account, change=None):
        """A new change (or a new patch set of ``change``) made on the server,
        the way ``ci-tools gerrit push`` acts as an upstream developer."""
        if not self.repos.exists(project):
            raise NotFound(f"Project not found: {project}")
        path = self.repos.path(project)
        author = (account["name"] or account["username"], account["email"] or "")
        with self.project_lock(project):
            if change is None:
                branches = self.repos.branches(project)
                if branch not in branches:
                    raise GerritError(f"branch {branch} not found")
                if not change_id_of(message):
                    message = message.rstrip("\n") + "\n\nChange-Id: I" + _random_hex(40) + "\n"
                sha = make_commit(path, [branches[branch]], files, message, author)
                target = branch
            else:
                current = self.current_patchset(change["number"])
                commit = self.commit(project, current["revision"])
                message = message or commit["message"]
                if change_id_of(message) != change["change_id"]:
                    message = message.rstrip("\n") + f"\n\nChange-Id: {change['change_id']}\n"
                sha = make_commit(
                    path, commit["parents"], files, message, author, tree_from=current["revision"]
                )
                target = change["branch"]
            result = self._upload(project, target, sha, account)
        if not result:
            raise Conflict("no new changes")
        result.pop("subject", None)
        return result

    # -- reviews ---------------------------------------------------------------

    def review(
        self, change, ps, account, message="", labels=None, tag=None, strict=True, submit=False
    ):
        labels = dict(labels or {})
        applied = {}
        for label, raw in labels.items():
            if label not in LABELS:
                if strict:
                    raise GerritError(f'label "{label}" is not a configured label')
                continue
            try:
                value = int(str(raw).strip().lstrip("+"))
            except ValueError as exc:
                raise GerritError(f"label {label}: {raw!r} is not a valid value") from exc
            if value not in LABELS[label]:
                raise GerritError(f'label "{label}": {value} is not a valid value')
            rng = self.store.label_range(account, label, change["project"])
            if not rng or not rng[0] <= value <= rng[1]:
                if strict:
                    raise Forbidden(f'Applying label "{label}": {value} is restricted')
                continue
            applied[label] = value
        current = self.current_patchset(change["number"])
        if applied and (change["status"] != "NEW" or ps["number"] != current["number"]):
            raise Conflict(f"change {change['number']} is closed or patch set is not current")
        approvals = []
        for label, value in applied.items():
            old = self.store.set_approval(
                change["number"], ps["number"], account["id"], label, value
            )
            entry = {"type": label, "description": label, "value": str(value)}
            if old is not None and old != value:
                entry["oldValue"] = str(old)
            elif old is None:
                entry["oldValue"] = "0"
            approvals.append(entry)
        votes = " ".join(
            f"{k}{model.format_value(v)}" if v else f"-{k}" for k, v in applied.items()
        )
        text = f"Patch Set {ps['number']}:" + (f" {votes}" if votes else "")
        if message:
            text += "\n\n" + message
        if message or applied:
            self.store.add_message(change["number"], ps["number"], account["id"], text, tag)
            change = self.store.change(change["number"])
            self.bus.publish(
                {
                    "author": model.account_ssh(account),
                    "approvals": approvals,
                    "comment": text,
                    "patchSet": model.patchset_attr(self, change, ps),
                    "change": model.change_attr(self, change),
                    "project": change["project"],
                    "refName": f"refs/heads/{change['branch']}",
                    "changeKey": {"id": change["change_id"]},
                    "type": "comment-added",
                }
            )
        if submit:
            self.submit(change, account)
        return {"labels": applied}

    def submit(self, change, account):
        if change["status"] != "NEW":
            raise Conflict(f"change is {change['status'].lower()}")
        if not account["is_admin"]:
            records = model.submit_records(self, change, self.current_patchset(change["number"]))
            if records[0]["status"] != "OK":
                raise Conflict("submit requirement not fulfilled")
        project, branch = change["project"], change["branch"]
        path = self.repos.path(project)
        ps = self.current_patchset(change["number"])
        with self.project_lock(project):
            old = self.repos.branches(project).get(branch)
            if old and not is_ancestor(path, old, ps["revision"]):
                try:
                    tree = git(path, "merge-tree", "--write-tree", old, ps["revision"]).split()[0]
                except GitError as exc:
                    raise Conflict(f"change {change['number']}: merge conflict") from exc
                from ci_tools.gerrit.repos import commit_tree

                new = commit_tree(
                    path, tree, [old, ps["revision"]], f'Merge "{change["subject"]}"\n'
                )
            else:
                new = ps["revision"]
            git(path, "update-ref", f"refs/heads/{branch}", new)
        self.store.set_status(change["number"], "MERGED")
        self.store.add_message(
            change["number"],
            ps["number"],
            account["id"],
            "Change has been successfully merged",
            tag="autogenerated:gerrit:merged",
        )
        change = self.store.change(change["number"])
        self.bus.publish(
            {
                "submitter": model.account_ssh(account),
                "newRev": new,
                "patchSet": model.patchset_attr(self, change, ps),
                "change": model.change_attr(self, change),
                "project": project,
                "refName": f"refs/heads/{branch}",
                "changeKey": {"id": change["change_id"]},
                "type": "change-merged",
            }
        )
        self.publish_ref_updated(project, f"refs/heads/{branch}", old, new, account)
        return change

    def may_abandon(self, change, account):
        """Gerrit's rule for abandon and restore: the change owner, or the Abandon
        permission on the project (administrators hold every permission)."""
        return bool(account) and (
            account["id"] == change["owner_id"]
            or self.store.has_permission(account, "abandon", change["project"])
        )

    def abandon(self, change, account, message=""):
        if not self.may_abandon(change, account):
            raise Forbidden("abandon not permitted")
        if change["status"] != "NEW":
            raise Conflict(f"change is {change['status'].lower()}")
        self.store.set_status(change["number"], "ABANDONED")
        ps = self.current_patchset(change["number"])
        self.store.add_message(
            change["number"],
            ps["number"],
            account["id"],
            "Abandoned" + (f"\n\n{message}" if message else ""),
        )
        change = self.store.change(change["number"])
        self.bus.publish(
            {
                "abandoner": model.account_ssh(account),
                "reason": message,
                "patchSet": model.patchset_attr(self, change, ps),
                "change": model.change_attr(self, change),
                "project": change["project"],
                "refName": f"refs/heads/{change['branch']}",
                "changeKey": {"id": change["change_id"]},
                "type": "change-abandoned",
            }
        )
        return change

    def restore(self, change, account, message=""):
        if not self.may_abandon(change, account):
            raise Forbidden("restore not permitted")
        if change["status"] != "ABANDONED":
            raise Conflict(f"change is {change['status'].lower()}")
        self.store.set_status(change["number"], "NEW")
        ps = self.current_patchset(change["number"])
        self.store.add_message(
            change["number"],
            ps["number"],
            account["id"],
            "Restored" + (f"\n\n{message}" if message else ""),
        )
        change = self.store.change(change["number"])
        self.bus.publish(
            {
                "restorer": model.account_ssh(account),
                "reason": message,
                "patchSet": model.patchset_attr(self, change, ps),
                "change": model.change_attr(self, change),
                "project": change["project"],
                "refName": f"refs/heads/{change['branch']}",
                "changeKey": {"id": change["change_id"]},
                "type": "change-restored",
            }
        )
        return change


# Options of refs/for/<branch>%opt,opt=value as Gerrit and git-review send them.
FLAG_OPTIONS = {"wip", "work-in-progress", "ready", "private", "remove-private", "publish-comments"}
VALUE_OPTIONS = {"topic", "hashtag", "t", "r", "cc", "notify", "m", "message", "base", "l", "label"}


def parse_push_options(text, push_options=()):
    """{"topic": ..., "hashtags": [...], "wip": bool, ...} from ``topic=x,hashtag=y``
    in the ref and from ``git push -o`` options (one option each)."""
    options = {"hashtags": []}
    for item in [*filter(None, text.split(",")), *push_options]:
        name, sep, value = item.partition("=")
        if name in FLAG_OPTIONS and not sep:
            options["wip" if name == "work-in-progress" else name] = True
            continue
        if name not in VALUE_OPTIONS or not sep:
            raise GerritError(f'"--{name}" is not a valid option')
        value = urllib.parse.unquote_plus(value)
        if name in ("hashtag", "t"):
            options["hashtags"].append(value.lstrip("#"))
        else:
            options[name] = value
    return options


def missing_change_id_hint(base_url):
    return [
        "ERROR: commit: missing Change-Id in message footer",
        "",
        "Hint: to automatically insert a Change-Id, install the hook:",
        f"  gitdir=$(git rev-parse --git-dir); curl -o ${{gitdir}}/hooks/commit-msg "
        f"{base_url}/tools/hooks/commit-msg ; chmod +x ${{gitdir}}/hooks/commit-msg",
        "and then amend the commit:",
        "  git commit --amend --no-edit",
        "Finally, push your changes again",
        "",
    ]


def patch_id(git_dir, parent, sha):
    diff = git(git_dir, "diff-tree", "-p", "--no-renames", parent, sha)
    proc = subprocess.run(
        ["git", f"--git-dir={git_dir}", "patch-id", "--stable"],
        input=diff.encode(),
        capture_output=True,
    )
    return proc.stdout.split()[0].decode() if proc.stdout.split() else ""


def _random_hex(n):
    return secrets.token_hex(n // 2)
