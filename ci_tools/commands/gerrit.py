"""``ci-tools gerrit``: run the Gerrit emulator and act on it as its admin or as upstream.

``serve`` runs it in the foreground. ``account add``, ``project add``,
``group add``, ``grant`` and ``permission`` write the data dir directly (they
work with or without a running server). ``push``, ``comment``, ``fault`` and
``events`` talk to the running server through its admin API, so stream
clients see their events.
"""

import json
import os
import sys

import requests

from ci_tools.commands import _types as types
from ci_tools.errors import ServiceError, UsageError


def add_subparser(subparsers):
    parser = subparsers.add_parser("gerrit", help="the Gerrit emulator (SSH, REST, git)")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def cmd(name, func, help_text):
        p = sub.add_parser(name, help=help_text)
        # Only serve creates a new emulator; every other action needs an existing one.
        p.add_argument(
            "--data-dir",
            required=True,
            type=types.dir_to_create if name == "serve" else types.existing_dir,
            help="the emulator's state directory",
        )
        p.set_defaults(func=func)
        return p

    serve = cmd("serve", cmd_serve, "run the emulator in the foreground (loopback only)")
    serve.add_argument(
        "--ssh-port", type=types.port_or_zero, default=29418, help="0 picks a free port"
    )
    serve.add_argument(
        "--http-port", type=types.port_or_zero, default=8080, help="0 picks a free port"
    )

    account = sub.add_parser("account", help="manage accounts").add_subparsers(
        dest="account_action", metavar="ACTION", required=True
    )
    add = account.add_parser("add", help="create or update an account")
    add.add_argument("--data-dir", required=True, type=types.existing_dir)
    add.add_argument("username")
    add.add_argument("--full-name")
    add.add_argument("--email")
    add.add_argument(
        "--ssh-key", action="append", default=[], help="an OpenSSH public key file (repeatable)"
    )
    add.add_argument(
        "--http-password-file", help="file holding the HTTP password (kept off the command line)"
    )
    add.add_argument("--admin", action="store_true", help="may push branches and vote anything")
    add.set_defaults(func=cmd_account_add)

    project = sub.add_parser("project", help="manage projects").add_subparsers(
        dest="project_action", metavar="ACTION", required=True
    )
    padd = project.add_parser("add", help="create a project (a bare git repo)")
    padd.add_argument("--data-dir", required=True, type=types.existing_dir)
    padd.add_argument("name")
    padd.add_argument("--source", help="git repo (all branches) or directory to seed from")
    padd.add_argument("--description", default="")
    padd.set_defaults(func=cmd_project_add)

    grant = cmd("grant", cmd_grant, "let an account vote a label range")
    grant.add_argument("account")
    grant.add_argument("label", help="e.g. Verified")
    grant.add_argument("--min", type=int, required=True, dest="min_value", help="e.g. -1")
    grant.add_argument("--max", type=int, required=True, dest="max_value", help="e.g. 1")
    grant.add_argument("--project", default="*", help="project name or glob (default: all)")

    group = sub.add_parser("group", help="manage groups").add_subparsers(
        dest="group_action", metavar="ACTION", required=True
    )
    gadd = group.add_parser("add", help="create a group or add members to it")
    gadd.add_argument("--data-dir", required=True)
    gadd.add_argument("name", help='e.g. "Third-Party CI"')
    gadd.add_argument("--member", action="append", default=[], help="username (repeatable)")
    gadd.add_argument("--description", default="")
    gadd.add_argument("--visible-to-all", action="store_true")
    gadd.set_defaults(func=cmd_group_add)

    perm = cmd("permission", cmd_permission, "grant streamEvents or abandon")
    perm.add_argument("permission", choices=("streamEvents", "abandon"))
    who = perm.add_mutually_exclusive_group(required=True)
    who.add_argument("--account")
    who.add_argument("--group")
    perm.add_argument("--project", default="*", help="project name or glob (abandon only)")

    push = cmd("push", cmd_push, "upload a new change (or a patch set of --change)")
    push.add_argument("--account", required=True, help="the uploader")
    push.add_argument("--project")
    push.add_argument("--branch", default="master")
    push.add_argument("--change", help="add a patch set to this change instead")
    push.add_argument("--message", default="", help="commit message (Change-Id added if missing)")
    push.add_argument(
        "--file",
        action="append",
        default=[],
        metavar="PATH=LOCALFILE",
        help="set PATH in the tree to LOCALFILE's content",
    )
    push.add_argument(
        "--text",
        action="append",
        default=[],
        metavar="PATH=TEXT",
        help="set PATH in the tree to TEXT",
    )

    comment = cmd("comment", cmd_comment, "comment (and vote) on a change as an account")
    comment.add_argument("--account", required=True)
    comment.add_argument("change", help="number, Change-Id or project~branch~Change-Id")
    comment.add_argument("message", help="e.g. recheck; '-' reads stdin")
    comment.add_argument("--label", action="append", default=[], metavar="NAME=VALUE")

    fault = cmd("fault", cmd_fault, "inject faults into the running emulator")
    fault.add_argument("--drop-streams", action="store_true", help="cut every stream now")
    fault.add_argument("--pause-events", action="store_true")
    fault.add_argument("--resume-events", action="store_true")
    fault.add_argument("--delay", type=float, metavar="SECONDS", help="delay REST calls")
    fault.add_argument("--fail", type=int, metavar="STATUS", help="fail REST calls with STATUS")
    fault.add_argument("--calls", type=int, default=1, help="how many REST calls (default 1)")

    events = cmd("events", cmd_events, "print the event history, one JSON object a line")
    events.add_argument("--since", type=int, default=0)


def _store(data_dir):
    from ci_tools.gerrit.store import Store

    return Store(data_dir)


def cmd_serve(args):
    from ci_tools.gerrit.server import EmulatorServer
    from ci_tools.harness.ports import check_free

    # Name the port a user can change: the bind error alone does not say which.
    for flag, port in (("--ssh-port", args.ssh_port), ("--http-port", args.http_port)):
        if port and not check_free(port):
            raise ServiceError(f"gerrit emulator: {flag} {port} is already in use on 127.0.0.1")
    try:
        server = EmulatorServer(args.data_dir, args.ssh_port, args.http_port)
    except OSError as exc:
        raise ServiceError(f"gerrit emulator cannot listen: {exc}") from exc
    state = server.state
    print(f"gerrit emulator: ssh 127.0.0.1:{state['ssh_port']}, http {state['url']}", flush=True)
    server.run()
    return 0


def cmd_account_add(args):
    keys = []
    for path in args.ssh_key:
        try:
            with open(path) as f:
                keys.append(f.read())
        except OSError as exc:
            raise UsageError(f"--ssh-key {path}: {exc.strerror}") from exc
    password = None
    if args.http_password_file:
        try:
            with open(args.http_password_file) as f:
                password = f.read().strip()
        except OSError as exc:
            raise UsageError(
                f"--http-password-file {args.http_password_file}: {exc.strerror}"
            ) from exc
    store = _store(args.data_dir)
    account = store.add_account(
        args.username, args.full_name, args.email, password, keys, args.admin
    )
    print(f"account {account['username']} id {account['id']}")
    return 0


def cmd_project_add(args):
    from ci_tools.gerrit.repos import Repos, validate_project_name

    validate_project_name(args.name)
    repos = Repos(args.data_dir)
    repos.install_hooks()
    repos.create(args.name, args.source, args.description)
    _store(args.data_dir).add_project(args.name, args.description)
    print(f"project {args.name}: branches {', '.join(sorted(repos.branches(args.name)))}")
    return 0


def cmd_grant(args):
    lo, hi = args.min_value, args.max_value
    store = _store(args.data_dir)
    account = store.account_by_username(args.account)
    if not account:
        raise UsageError(f"no account {args.account!r}; create it with 'gerrit account add'")
    store.add_grant(account["id"], args.label, lo, hi, args.project)
    print(f"{args.account} may vote {args.label} {lo:+d}..{hi:+d} on {args.project}")
    return 0


def cmd_group_add(args):
    group = _store(args.data_dir).add_group(
        args.name, args.description, args.visible_to_all, args.member
    )
    print(f"group {group['name']} ({group['uuid']}): {len(args.member)} member(s) added")
    return 0


def cmd_permission(args):
    _store(args.data_dir).grant_permission(args.permission, args.account, args.group, args.project)
    print(f"{args.account or args.group} may {args.permission} on {args.project}")
    return 0


def admin_call(data_dir, action, body=None, method="POST", timeout=30):
    """Call the running server's admin API; returns the decoded JSON."""
    from ci_tools.gerrit.server import read_state

    state = read_state(data_dir)
    if not state:
        raise ServiceError(f"no running gerrit emulator for {data_dir} (start 'gerrit serve')")
    with open(os.path.join(data_dir, "admin-token")) as f:
        token = f.read().strip()
    try:
        resp = requests.request(
            method,
            f"{state['url']}/_emulator/{action}",
            json=body,
            headers={"X-Emulator-Token": token},
            timeout=timeout,
        )
    except requests.RequestException as exc:
        raise ServiceError(f"gerrit emulator at {state['url']} does not answer: {exc}") from exc
    if resp.status_code != 200:
        raise ServiceError(f"gerrit emulator: {resp.status_code} {resp.text.strip()}")
    return json.loads(resp.text[4:])


def cmd_push(args):
    files = {}
    for item in args.file:
        path, sep, local = item.partition("=")
        if not sep:
            raise UsageError(f"--file {item!r}: expected PATH=LOCALFILE")
        try:
            with open(local) as f:
                files[path] = f.read()
        except OSError as exc:
            raise UsageError(f"--file {item}: {exc.strerror}") from exc
    for item in args.text:
        path, sep, text = item.partition("=")
        if not sep:
            raise UsageError(f"--text {item!r}: expected PATH=TEXT")
        files[path] = text
    if not args.change and not args.project:
        raise UsageError("--project is required for a new change")
    if not args.change and not args.message:
        raise UsageError("--message is required for a new change")
    body = {
        "account": args.account,
        "project": args.project,
        "branch": args.branch,
        "change": args.change,
        "message": args.message,
        "files": files,
    }
    result = admin_call(args.data_dir, "push", body)
    print(
        f"change {result['number']} patch set {result['patchset']} {result['revision']} "
        f"{result['url']}"
    )
    return 0


def cmd_comment(args):
    message = sys.stdin.read() if args.message == "-" else args.message
    labels = {}
    for item in args.label:
        name, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--label {item!r}: expected NAME=VALUE")
        labels[name] = value
    body = {"account": args.account, "change": args.change, "message": message, "labels": labels}
    result = admin_call(args.data_dir, "comment", body)
    print(f"commented on change {result['number']} patch set {result['patchset']}")
    return 0


def cmd_fault(args):
    body = {}
    if args.drop_streams:
        body["drop_streams"] = True
    if args.pause_events and args.resume_events:
        raise UsageError("--pause-events and --resume-events exclude each other")
    if args.pause_events or args.resume_events:
        body["pause_events"] = args.pause_events
    if args.delay is not None:
        body.update(delay_calls=args.calls, delay_seconds=args.delay)
    if args.fail is not None:
        if not 400 <= args.fail <= 599:
            raise UsageError("--fail takes an HTTP error status (400-599)")
        body.update(fail_calls=args.calls, fail_status=args.fail)
    state = admin_call(args.data_dir, "faults", body)
    print(json.dumps(state, sort_keys=True))
    return 0


def cmd_events(args):
    for item in admin_call(args.data_dir, f"events?since={args.since}", method="GET"):
        print(json.dumps(item["event"]))
    return 0
