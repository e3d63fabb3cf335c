"""The SSH front end (paramiko): ``gerrit ...`` commands, git, and the commit-msg hook.

Public-key auth against the accounts' keys; one thread per connection
(paramiko's transport) and one per command. Git commands run the real
``git upload-pack``/``git receive-pack`` on the project's bare repo; the
``gerrit`` commands answer like upstream, including its error text and exit
codes (1 for ``fatal:``) for unknown commands and options. ``hooks/commit-msg``
is served as Gerrit serves it: to ``scp -O`` (the old scp protocol, ``scp -f``)
and to the SFTP subsystem newer OpenSSH's scp uses by default.
"""

import argparse
import json
import logging
import os
import shlex
import socket
import subprocess
import threading
import time

import paramiko

from ci_tools.gerrit import model
from ci_tools.gerrit.commit_msg import COMMIT_MSG_HOOK
from ci_tools.gerrit.service import GerritError

# What scp and SFTP clients may read: Gerrit serves exactly this one file.
SCP_FILES = {"hooks/commit-msg": COMMIT_MSG_HOOK.encode()}

LOG = logging.getLogger(__name__)

QUERY_OPTIONS = (
    "current-patch-set",
    "patch-sets",
    "all-approvals",
    "files",
    "comments",
    "commit-message",
    "dependencies",
    "submit-records",
    "all-reviewers",
)


class CommandError(Exception):
    def __init__(self, message, code=1):
        super().__init__(message)
        self.message = message
        self.code = code


class _Parser(argparse.ArgumentParser):
    """argparse that reports like args4j does in Gerrit, without exiting."""

    def error(self, message):
        if "unrecognized arguments" in message:
            bad = message.split(":", 1)[1].split()[0]
            raise CommandError(f'fatal: "{bad}" is not a valid option')
        raise CommandError(f"fatal: {message}")


class _Server(paramiko.ServerInterface):
    def __init__(self, gerrit):
        self.gerrit = gerrit
        self.username = None
        self.env = {}

    def get_allowed_auths(self, username):
        return "publickey"

    def check_auth_publickey(self, username, key):
        if self.gerrit.store.account_has_key(username, key.get_name(), key.get_base64()):
            self.username = username
            return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def check_channel_request(self, kind, chanid):
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_env_request(self, channel, name, value):
        if name == b"GIT_PROTOCOL" or name == "GIT_PROTOCOL":
            self.env["GIT_PROTOCOL"] = value.decode() if isinstance(value, bytes) else value
            return True
        return False

    def check_channel_pty_request(self, *args):
        return True

    def check_channel_shell_request(self, channel):
        threading.Thread(target=self._banner, args=(channel,), daemon=True).start()
        return True

    def _banner(self, channel):
        channel.sendall_stderr(
            b"\r\n  ****    Welcome to Gerrit Code Review    ****\r\n\r\n"
            b"  Hi " + self.username.encode() + b", you have successfully connected over SSH."
            b"\r\n\r\n  Unfortunately, interactive shells are disabled.\r\n\r\n"
        )
        channel.send_exit_status(127)
        channel.close()

    def check_channel_exec_request(self, channel, command):
        command = command.decode("utf-8", "replace")
        handler = CommandHandler(self.gerrit, self.username, channel, command, dict(self.env))
        threading.Thread(target=handler.run, name=f"ssh-{command[:30]}", daemon=True).start()
        return True


class CommandHandler:
    def __init__(self, gerrit, username, channel, command, env):
        self.gerrit = gerrit
        self.account = gerrit.store.account_by_username(username)
        self.channel = channel
        self.command = command
        self.env = env

    def out(self, text):
        self.channel.sendall(text.encode() if isinstance(text, str) else text)

    def err(self, text):
        self.channel.sendall_stderr(text.encode() if isinstance(text, str) else text)

    def run(self):
        code = 0
        try:
            code = self.dispatch() or 0
        except CommandError as exc:
            self.err(exc.message.rstrip("\n") + "\n")
            code = exc.code
        except GerritError as exc:
            self.err(f"fatal: {exc.message}\n")
            code = 1
        except (OSError, EOFError, paramiko.SSHException) as exc:
            LOG.debug("ssh command %r ended: %s", self.command, exc)
            code = 255
        except Exception:
            LOG.exception("ssh command %r failed", self.command)
            self.err("fatal: internal server error\n")
            code = 1
        try:
            self.channel.send_exit_status(code)
            self.channel.shutdown_write()
            self.channel.close()
        except (OSError, EOFError, paramiko.SSHException):
            pass

    def dispatch(self):
        try:
            argv = shlex.split(self.command)
        except ValueError as exc:
            raise CommandError(f"fatal: {exc}") from exc
        if not argv:
            raise CommandError("fatal: Gerrit Code Review: no command given")
        name = argv[0]
        if name in ("git-upload-pack", "git-receive-pack"):
            return self.git(name[len("git-") :], argv[1:])
        if name == "git" and len(argv) > 1 and argv[1] in ("upload-pack", "receive-pack"):
            return self.git(argv[1], argv[2:])
        if name == "scp":
            return self.scp(argv[1:])
        if name != "gerrit":
            raise CommandError(f"fatal: Gerrit Code Review: {name}: not found")
        if len(argv) < 2:
            raise CommandError("fatal: gerrit: no command given")
        sub = argv[1]
        method = getattr(self, "cmd_" + sub.replace("-", "_"), None)
        if method is None:
            raise CommandError(f"fatal: gerrit: {sub}: not found")
        return method(argv[2:])

    # -- gerrit commands ----------------------------------------------------

    def cmd_version(self, args):
        _Parser(prog="gerrit version", add_help=False).parse_args(args)
        self.out(f"gerrit version {model.VERSION}\n")

    def cmd_ls_projects(self, args):
        parser = _Parser(prog="gerrit ls-projects", add_help=False)
        parser.add_argument(
            "--format", default="text", type=str.lower, choices=("text", "json", "json_compact")
        )
        parser.add_argument("-d", "--description", action="store_true")
        parser.add_argument("-p", "--prefix", default="")
        parser.add_argument("--type", default="all")
        opts = parser.parse_args(args)
        projects = [p for p in self.gerrit.store.projects() if p["name"].startswith(opts.prefix)]
        if opts.format == "text":
            for p in projects:
                line = p["name"]
                if opts.description and p["description"]:
                    line += " - " + p["description"]
                self.out(line + "\n")
        else:
            data = {p["name"]: {"id": p["name"], "state": "ACTIVE"} for p in projects}
            if opts.description:
                for p in projects:
                    if p["description"]:
                        data[p["name"]]["description"] = p["description"]
            self.out(json.dumps(data) + "\n")

    def cmd_ls_groups(self, args):
        parser = _Parser(prog="gerrit ls-groups", add_help=False)
        parser.add_argument("-v", "--verbose", action="store_true")
        parser.add_argument("--visible-to-all", action="store_true")
        parser.add_argument("-u", "--user")
        parser.add_argument("-q", "--query")
        opts = parser.parse_args(args)
        store = self.gerrit.store
        for group in self._visible_groups():
            if opts.visible_to_all and not group["visible_to_all"]:
                continue
            if opts.user:
                member = store.account_by_username(opts.user)
                if not member or group["id"] not in {g["id"] for g in store.groups_of(member)}:
                    continue
            if opts.query and opts.query.lower() not in group["name"].lower():
                continue
            if opts.verbose:
                fields = [
                    group["name"],
                    group["uuid"],
                    group["description"],
                    "Administrators",
                    "",
                    "true" if group["visible_to_all"] else "false",
                ]
                self.out("\t".join(fields) + "\n")
            else:
                self.out(group["name"] + "\n")

    def cmd_ls_members(self, args):
        parser = _Parser(prog="gerrit ls-members", add_help=False)
        parser.add_argument("--recursive", action="store_true")
        parser.add_argument("group", nargs="+")
        opts = parser.parse_args(args)
        name = " ".join(opts.group)
        group = self.gerrit.store.group(name)
        if group is None or group["id"] not in {g["id"] for g in self._visible_groups()}:
            raise CommandError(f"Group not found or not visible: {name}")
        self.out("id\tusername\tfull name\temail\n")
        for a in self.gerrit.store.group_members(group["id"]):
            fields = [str(a["id"]), a["username"], a["name"] or "n/a", a["email"] or "n/a"]
            self.out("\t".join(fields) + "\n")

    def _visible_groups(self):
        store = self.gerrit.store
        mine = {g["id"] for g in store.groups_of(self.account)}
        return [
            g
            for g in store.groups()
            if self.account["is_admin"] or g["visible_to_all"] or g["id"] in mine
        ]

    def cmd_stream_events(self, args):
        parser = _Parser(prog="gerrit stream-events", add_help=False)
        parser.add_argument("-s", "--subscribe", action="append", default=[])
        opts = parser.parse_args(args)
        # Gerrit's global capability, granted to an account or (usually) a group.
        if not self.gerrit.store.has_permission(self.account, "streamEvents"):
            raise CommandError("fatal: not permitted: stream events")
        sub = self.gerrit.bus.subscribe(opts.subscribe)
        transport = self.channel.get_transport()
        sub.on_drop = transport.close
        sub.alive = lambda: not self.channel.closed and transport.is_active()
        # A client ends the stream by closing the channel or sending Ctrl-C.
        threading.Thread(target=self._watch_stdin, args=(sub,), daemon=True).start()
        try:
            while not sub.closed.is_set():
                try:
                    line = sub.get(timeout=1)
                except Exception:  # queue.Empty: check whether the client went away
                    if self.channel.closed or not transport.is_active():
                        break
                    continue
                if line is None:
                    break
                self.out(line)
        finally:
            sub.close()
        if not transport.is_active():
            raise OSError("stream dropped")
        return 0

    def _watch_stdin(self, sub):
        # End of input (ssh -n, a closed stdin) does not end the stream, as upstream.
        try:
            while True:
                data = self.channel.recv(1024)
                if not data:
                    return
                if b"\x03" in data:
                    break
        except (OSError, EOFError, paramiko.SSHException):
            pass
        sub.close()

    def cmd_query(self, args):
        parser = _Parser(prog="gerrit query", add_help=False)
        parser.add_argument("--format", default="text", type=str.lower, choices=("text", "json"))
        for opt in QUERY_OPTIONS:
            parser.add_argument(f"--{opt}", action="store_true")
        parser.add_argument("-S", "--start", type=int, default=0)
        parser.add_argument("--limit", type=int, default=None)
        parser.add_argument("query", nargs="+")
        opts = parser.parse_args(args)
        started = time.monotonic()
        text = " ".join(opts.query)
        try:
            changes, more = self.gerrit.query(text, opts.start, opts.limit)
        except GerritError as exc:
            if opts.format == "json":
                self.out(json.dumps({"type": "error", "message": exc.message}) + "\n")
                return 1
            raise
        wanted = {o for o in QUERY_OPTIONS if getattr(opts, o.replace("-", "_"))}
        rows = [model.query_row(self.gerrit, c, wanted) for c in changes]
        stats = {
            "type": "stats",
            "rowCount": len(rows),
            "runTimeMilliseconds": int((time.monotonic() - started) * 1000),
            "moreChanges": more,
        }
        if opts.format == "json":
            for row in rows:
                self.out(json.dumps(row) + "\n")
            self.out(json.dumps(stats) + "\n")
        else:
            for row in rows:
                self.out("change " + row["id"] + "\n")
                for key in ("project", "branch", "number", "subject", "url", "status"):
                    self.out(f"  {key}: {row[key]}\n")
                self.out("\n")
            self.out(f"type: stats\nrowCount: {len(rows)}\n")
        return 0

    def cmd_review(self, args):
        parser = _Parser(prog="gerrit review", add_help=False)
        parser.add_argument("-p", "--project")
        parser.add_argument("-b", "--branch")
        parser.add_argument("-m", "--message", default="")
        parser.add_argument("-l", "--label", action="append", default=[])
        parser.add_argument("-t", "--tag")
        parser.add_argument("-n", "--notify")
        parser.add_argument("-s", "--submit", action="store_true")
        parser.add_argument("--abandon", action="store_true")
        parser.add_argument("--restore", action="store_true")
        parser.add_argument("--json", "-j", action="store_true")
        for label in ("verified", "code-review", "workflow"):
            parser.add_argument(f"--{label}", type=int)
        parser.add_argument("changes", nargs="+", metavar="{COMMIT | CHANGE,PATCHSET}")
        opts = parser.parse_args(args)
        labels = {}
        for item in opts.label:
            name, sep, value = item.partition("=")
            if not sep:
                raise CommandError(f'fatal: "{item}" is not a valid label: use NAME=VALUE')
            labels[name] = value
        for label in ("verified", "code-review", "workflow"):
            value = getattr(opts, label.replace("-", "_"))
            if value is not None:
                labels["-".join(w.capitalize() for w in label.split("-"))] = value
        failed = False
        for target in opts.changes:
            change, ps = self._resolve(target, opts.project, opts.branch)
            try:
                if opts.abandon:
                    self.gerrit.abandon(change, self.account, opts.message)
                    continue
                if opts.restore:
                    self.gerrit.restore(change, self.account, opts.message)
                    continue
                self.gerrit.review(
                    change, ps, self.account, opts.message, labels, opts.tag, submit=opts.submit
                )
            except GerritError as exc:
                self.err(f"error: {exc.message}\n")
                failed = True
        if failed:
            raise CommandError("fatal: one or more approvals failed; review output above")
        return 0

    def _resolve(self, target, project, branch):
        if "," in target:
            number, _, ps = target.partition(",")
            if not number.isdigit() or not ps.isdigit():
                raise CommandError(f'fatal: "{target}" is not a valid patch set')
            change = self.gerrit.store.change(int(number))
            if not change or (project and change["project"] != project):
                raise CommandError(f'fatal: "{target}" no such change')
            try:
                return change, self.gerrit.find_patchset(change, ps)
            except GerritError as exc:
                raise CommandError(f'fatal: "{target}" no such patch set') from exc
        found = self.gerrit.store.patchset_by_revision(target) if len(target) == 40 else None
        if found:
            change = self.gerrit.store.change(found["change_number"])
            if not project or change["project"] == project:
                return change, found
        raise CommandError(f'fatal: "{target}" no such patch set')

    # -- scp -f (the protocol of ``scp -O``) ------------------------------------

    def scp(self, args):
        paths = [a for a in args if not a.startswith("-")]
        if "-f" not in args or len(paths) != 1:
            raise CommandError("fatal: scp: only 'scp -f hooks/commit-msg' is served")
        path = paths[0].lstrip("/")
        data = SCP_FILES.get(path)
        self._scp_ack()
        if data is None:
            self.out(f"\x01scp: {paths[0]}: No such file or directory\n")
            return 1
        if "-p" in args:
            stamp = int(time.time())
            self.out(f"T{stamp} 0 {stamp} 0\n")
            self._scp_ack()
        self.out(f"C0755 {len(data)} {os.path.basename(path)}\n")
        self._scp_ack()
        self.out(data + b"\0")
        self._scp_ack()
        return 0

    def _scp_ack(self):
        byte = self.channel.recv(1)
        if byte != b"\0":
            raise CommandError("scp: protocol error", code=1)

    # -- git ------------------------------------------------------------------

    def git(self, service, args):
        if len(args) != 1:
            raise CommandError(f"fatal: usage: git-{service} PROJECT")
        project = args[0].strip("/").removesuffix(".git")
        if not self.gerrit.store.project(project) or not self.gerrit.repos.exists(project):
            raise CommandError(f"fatal: Project not found: {project}")
        path = self.gerrit.repos.path(project)
        env = dict(os.environ, **self.env, **self.gerrit.hook_env(project, self.account))
        if service == "upload-pack":
            return self._pump(["git", "upload-pack", path], env)
        with self.gerrit.project_lock(project):
            before = self.gerrit.repos.refs(project)
            code = self._pump(["git", "receive-pack", path], env)
            self.gerrit.process_push(project, self.account, before)
        return code

    def _pump(self, argv, env):
        proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )

        def feed():
            try:
                while True:
                    data = self.channel.recv(65536)
                    if not data:
                        break
                    proc.stdin.write(data)
                    proc.stdin.flush()
            except (OSError, EOFError, ValueError, paramiko.SSHException):
                pass
            try:
                proc.stdin.close()
            except OSError:
                pass

        def errors():
            for chunk in iter(lambda: proc.stderr.read1(65536), b""):
                self.err(chunk)

        threads = [
            threading.Thread(target=feed, daemon=True),
            threading.Thread(target=errors, daemon=True),
        ]
        for t in threads:
            t.start()
        try:
            for chunk in iter(lambda: proc.stdout.read1(65536), b""):
                self.out(chunk)
        finally:
            code = proc.wait()
            threads[1].join(5)
        return code


class _HookHandle(paramiko.SFTPHandle):
    def __init__(self, data):
        super().__init__()
        self.data = data

    def read(self, offset, length):
        return self.data[offset : offset + length]

    def stat(self):
        return _attrs(len(self.data), 0o100755)


def _attrs(size, mode):
    attrs = paramiko.SFTPAttributes()
    attrs.st_size, attrs.st_mode = size, mode
    attrs.st_uid = attrs.st_gid = 0
    attrs.st_mtime = attrs.st_atime = int(time.time())
    return attrs


class HookSFTP(paramiko.SFTPServerInterface):
    """Read-only SFTP with one file, hooks/commit-msg (newer scp's default)."""

    def _key(self, path):
        return os.path.normpath("/" + path).lstrip("/")

    def canonicalize(self, path):
        return "/" + self._key(path)

    def _stat(self, path):
        key = self._key(path)
        if key in ("", "hooks"):
            return _attrs(0, 0o040755)
        if key in SCP_FILES:
            return _attrs(len(SCP_FILES[key]), 0o100755)
        return paramiko.SFTP_NO_SUCH_FILE

    stat = lstat = _stat

    def list_folder(self, path):
        key = self._key(path)
        if key == "":
            attrs = _attrs(0, 0o040755)
            attrs.filename = "hooks"
            return [attrs]
        if key == "hooks":
            attrs = _attrs(len(SCP_FILES["hooks/commit-msg"]), 0o100755)
            attrs.filename = "commit-msg"
            return [attrs]
        return paramiko.SFTP_NO_SUCH_FILE

    def open(self, path, flags, attr):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC):
            return paramiko.SFTP_PERMISSION_DENIED
        data = SCP_FILES.get(self._key(path))
        if data is None:
            return paramiko.SFTP_NO_SUCH_FILE
        return _HookHandle(data)


class _SFTPServer(paramiko.SFTPServer):
    def finish_subsystem(self):
        # OpenSSH's scp wants an exit status, as sshd's sftp-server gives one.
        try:
            self.sock.send_exit_status(0)
        except (OSError, EOFError, paramiko.SSHException):
            pass
        super().finish_subsystem()


class SSHServer:
    def __init__(self, gerrit, host_key_path, host="127.0.0.1", port=29418):
        self.gerrit = gerrit
        self.host_key = load_host_key(host_key_path)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self._stopped = False
        self._transports = []

    def serve_forever(self):
        while not self._stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                break
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        transport = paramiko.Transport(conn)
        transport.add_server_key(self.host_key)
        transport.set_subsystem_handler("sftp", _SFTPServer, HookSFTP)
        self._transports = [t for t in self._transports if t.is_active()] + [transport]
        try:
            transport.start_server(server=_Server(self.gerrit))
        except (paramiko.SSHException, EOFError, OSError) as exc:
            LOG.debug("ssh handshake failed: %s", exc)
            transport.close()

    def stop(self):
        self._stopped = True
        try:
            self.sock.close()
        except OSError:
            pass
        for t in self._transports:
            t.close()


def load_host_key(path):
    if not os.path.exists(path):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "gerrit-emulator", "-f", path],
            check=True,
        )
    return paramiko.Ed25519Key.from_private_key_file(path)
