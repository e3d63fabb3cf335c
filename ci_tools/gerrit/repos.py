"""The projects' bare git repos and the git plumbing the emulator needs.

Projects are real bare repos under ``<data-dir>/git/<name>.git``, served by
``git upload-pack``/``git receive-pack`` (SSH) and ``git http-backend`` (HTTP).
A push to ``refs/for/<branch>`` lands as a plain ref; the pre-receive hook
(``ci_tools.gerrit.hook``) first refuses what upstream refuses, and afterwards
the service turns the ref into changes and deletes it.
"""

import os
import re
import stat
import subprocess
import sys
import tempfile

from ci_tools.errors import UsageError

CHANGE_ID_RE = re.compile(r"^Change-Id:\s*(I[0-9a-f]{8,40})\s*$", re.MULTILINE)
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
PROJECT_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


class GitError(Exception):
    pass


def git(git_dir, *args, input=None, env=None):
    full_env = dict(os.environ, GIT_TERMINAL_PROMPT="0", **(env or {}))
    proc = subprocess.run(
        ["git", f"--git-dir={git_dir}", *args],
        input=input,
        capture_output=True,
        env=full_env,
    )
    if proc.returncode:
        raise GitError(f"git {' '.join(args)}: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout.decode()


def validate_project_name(name):
    if not PROJECT_NAME_RE.match(name) or name.endswith(".git") or ".." in name:
        raise UsageError(f"invalid project name {name!r}")


class Repos:
    def __init__(self, data_dir):
        self.root = os.path.join(os.path.abspath(data_dir), "git")
        self.hooks = os.path.join(os.path.abspath(data_dir), "hooks")

    def path(self, project):
        return os.path.join(self.root, project + ".git")

    def exists(self, project):
        return os.path.isdir(self.path(project))

    def install_hooks(self):
        """(Re)write the shared hooks dir; the interpreter may change between runs."""
        os.makedirs(self.hooks, exist_ok=True)
        for name in ("pre-receive", "proc-receive"):
            hook = os.path.join(self.hooks, name)
            with open(hook, "w") as f:
                f.write(f'#!/bin/sh\nexec "{sys.executable}" -m ci_tools.gerrit.hook {name}\n')
            os.chmod(hook, os.stat(hook).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)

    def create(self, project, source=None, description=""):
        """A bare repo for ``project``: every branch of ``source`` (a git repo or a
        plain directory, committed as is) or, like ``create-project --empty-commit``,
        one empty commit on master."""
        validate_project_name(project)
        path = self.path(project)
        if not os.path.isdir(path):
            os.makedirs(path)
            git(path, "init", "-q", "--bare")
            git(path, "symbolic-ref", "HEAD", "refs/heads/master")
        git(path, "config", "core.hooksPath", self.hooks)
        git(path, "config", "http.receivepack", "true")
        git(path, "config", "uploadpack.allowAnySHA1InWant", "true")
        git(path, "config", "receive.advertisePushOptions", "true")
        # refs/for/* goes to the proc-receive hook (see ci_tools.gerrit.hook).
        git(path, "config", "receive.procReceiveRefs", "refs/for")
        if description:
            with open(os.path.join(path, "description"), "w") as f:
                f.write(description + "\n")
        if source:
            self._seed(path, source)
        if not self.branches(project):
            commit = commit_tree(path, EMPTY_TREE, [], "Initial empty repository\n")
            git(path, "update-ref", "refs/heads/master", commit)
        heads = self.branches(project)
        if "master" not in heads and heads:
            git(path, "symbolic-ref", "HEAD", f"refs/heads/{sorted(heads)[0]}")
        return path

    def _seed(self, path, source):
        source = os.path.abspath(source)
        if not os.path.isdir(source):
            raise UsageError(f"source {source} is not a directory")
        is_repo = (
            subprocess.run(
                ["git", "-C", source, "rev-parse", "--git-dir"], capture_output=True
            ).returncode
            == 0
            and subprocess.run(
                ["git", "-C", source, "rev-parse", "--verify", "-q", "HEAD"], capture_output=True
            ).returncode
            == 0
        )
        if is_repo:
            git(path, "fetch", "-q", source, "+refs/heads/*:refs/heads/*")
            return
        with tempfile.TemporaryDirectory() as tmp:
            env = {"GIT_INDEX_FILE": os.path.join(tmp, "index"), "GIT_WORK_TREE": source}
            git(path, "add", "-A", ".", env=env)
            tree = git(path, "write-tree", env=env).strip()
        commit = commit_tree(path, tree, [], f"Import {os.path.basename(source)}\n")
        git(path, "update-ref", "refs/heads/master", commit)

    def branches(self, project):
        out = git(
            self.path(project), "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads/"
        )
        return {
            ref[len("refs/heads/") :]: sha
            for ref, sha in (line.split() for line in out.splitlines())
        }

    def refs(self, project):
        out = git(self.path(project), "for-each-ref", "--format=%(refname) %(objectname)")
        return dict(line.split() for line in out.splitlines())

    def head(self, project):
        return git(self.path(project), "symbolic-ref", "HEAD").strip()


def commit_tree(git_dir, tree, parents, message, author=None):
    """A commit object; ``author`` is (name, email) and is also the committer."""
    name, email = author or ("Gerrit Code Review", "gerrit@example.invalid")
    env = {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }
    args = ["commit-tree", tree]
    for p in parents:
        args += ["-p", p]
    return git(git_dir, *args, input=message.encode(), env=env).strip()


def make_commit(git_dir, parents, files, message, author=None, tree_from=None):
    """A commit on ``parents`` whose tree is ``tree_from`` (default: first parent)
    with ``files`` ({path: text or None to delete}) applied."""
    base = tree_from or (parents[0] if parents else None)
    with tempfile.TemporaryDirectory() as tmp:
        env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
        if base:
            git(git_dir, "read-tree", base, env=env)
        else:
            git(git_dir, "read-tree", "--empty", env=env)
        for path, content in sorted(files.items()):
            if content is None:
                git(git_dir, "update-index", "--force-remove", path, env=env)
                continue
            data = content.encode() if isinstance(content, str) else content
            blob = git(git_dir, "hash-object", "-w", "--stdin", input=data).strip()
            git(git_dir, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
        tree = git(git_dir, "write-tree", env=env).strip()
    return commit_tree(git_dir, tree, parents, message, author)


def commit_info(git_dir, sha):
    """Parsed commit: tree, parents, author/committer (name, email, time, tz), message."""
    raw = git(git_dir, "cat-file", "commit", sha)
    header, _, message = raw.partition("\n\n")
    info = {"commit": sha, "parents": [], "message": message}
    for line in header.splitlines():
        key, _, value = line.partition(" ")
        if key == "tree":
            info["tree"] = value
        elif key == "parent":
            info["parents"].append(value)
        elif key in ("author", "committer"):
            m = re.match(r"^(.*) <(.*)> (\d+) ([+-]\d{4})$", value)
            if m:
                info[key] = {
                    "name": m.group(1),
                    "email": m.group(2),
                    "time": int(m.group(3)),
                    "tz": m.group(4),
                }
    return info


def subject_of(message):
    return message.strip().splitlines()[0] if message.strip() else ""


def change_id_of(message):
    """The last Change-Id footer, as Gerrit reads it, or None."""
    found = CHANGE_ID_RE.findall(message)
    return found[-1] if found else None


def file_stats(git_dir, sha, parent=None):
    """{path: {status, lines_inserted, lines_deleted, binary}} against ``parent``
    (the first parent by default; the empty tree for a root commit)."""
    if parent is None:
        parents = commit_info(git_dir, sha)["parents"]
        parent = parents[0] if parents else EMPTY_TREE
    names = git(git_dir, "diff-tree", "-r", "-z", "--no-renames", "--name-status", parent, sha)
    parts = names.split("\0")
    files = {}
    for status, path in zip(parts[0::2], parts[1::2], strict=False):
        if path:
            files[path] = {"status": status[0], "lines_inserted": 0, "lines_deleted": 0}
    nums = git(git_dir, "diff-tree", "-r", "-z", "--no-renames", "--numstat", parent, sha)
    for entry in nums.split("\0"):
        fields = entry.split("\t")
        if len(fields) == 3 and fields[2] in files:
            if fields[0] == "-":
                files[fields[2]]["binary"] = True
            else:
                files[fields[2]]["lines_inserted"] = int(fields[0])
                files[fields[2]]["lines_deleted"] = int(fields[1])
    return files


def is_ancestor(git_dir, ancestor, descendant):
    proc = subprocess.run(
        ["git", f"--git-dir={git_dir}", "merge-base", "--is-ancestor", ancestor, descendant],
        capture_output=True,
    )
    return proc.returncode == 0


def change_ref(number, patchset):
    return f"refs/changes/{number % 100:02d}/{number}/{patchset}"
