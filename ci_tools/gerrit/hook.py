"""The hooks of every project: refuse what upstream Gerrit refuses, and turn
``refs/for/<branch>`` pushes into changes as Gerrit's ReceiveCommits does.

Both run inside ``git receive-pack`` (SSH or HTTP); what they print on stderr
reaches the pusher as ``remote: ...`` lines.

- ``pre-receive`` guards branch, tag and change refs (``GERRIT_EMULATOR_ADMIN``,
  set by the server for the pushing account, allows direct branch pushes).
- ``proc-receive`` (git's hook for AGit-style review refs, enabled by
  ``receive.procReceiveRefs=refs/for``) takes every ``refs/for/*`` command, so
  no such ref is ever written: it hands the commands to the running server
  (``/_emulator/receive``), prints Gerrit's ``SUCCESS`` block and reports each
  ref ``ok`` or ``ng <reason>``, which git shows as
  ``! [remote rejected] HEAD -> refs/for/master (change 3 closed)``.
"""

import json
import os
import sys
import urllib.error
import urllib.request

ZERO = "0" * 40


def check_update(old, new, ref, admin):
    """An error message for one ref update, or None if Gerrit would take it."""
    if ref.startswith("refs/for/"):
        return None  # proc-receive decides, with Gerrit's reasons
    if ref.startswith("refs/changes/"):
        return "cannot push to refs/changes: use refs/for/<branch>"
    if ref.startswith("refs/heads/") or ref.startswith("refs/tags/"):
        return None if admin else f"prohibited by Gerrit: not permitted: update {ref}"
    return f"prohibited by Gerrit: not permitted: create {ref}"


def pre_receive(lines, admin):
    errors = []
    for line in lines:
        fields = line.split()
        if len(fields) != 3:
            continue
        error = check_update(*fields, admin=admin)
        if error:
            errors.append(f"error: {fields[2]}: {error}")
    return errors


# -- proc-receive: git's pkt-line protocol ---------------------------------------


def read_pkt(stream):
    """One pkt-line payload (bytes), or None for a flush packet."""
    head = stream.read(4)
    if len(head) != 4:
        raise EOFError("proc-receive: unexpected end of input")
    size = int(head, 16)
    if size == 0:
        return None
    return stream.read(size - 4)


def write_pkt(stream, data):
    if data is None:
        stream.write(b"0000")
    else:
        stream.write(b"%04x" % (len(data) + 4) + data)


def call_server(commands, push_options=()):
    """POST the commands to the running emulator; its answer as a dict."""
    with open(os.path.join(os.environ["GERRIT_EMULATOR_DATA"], "admin-token")) as f:
        token = f.read().strip()
    body = json.dumps(
        {
            "project": os.environ["GERRIT_EMULATOR_PROJECT"],
            "account": os.environ["GERRIT_EMULATOR_USER"],
            "commands": commands,
            "push_options": list(push_options),
        }
    ).encode()
    request = urllib.request.Request(
        os.environ["GERRIT_EMULATOR_URL"] + "/_emulator/receive",
        data=body,
        headers={"X-Emulator-Token": token, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=300) as resp:
        return json.loads(resp.read().decode()[4:])


def proc_receive(stdin, stdout, stderr):
    offered = b""
    while (line := read_pkt(stdin)) is not None:  # version line: version=1\0caps
        offered += line.partition(b"\0")[2]
    # Ask for push options (git push -o topic=x) only when the client sent some.
    wants_options = b"push-options" in offered.split()
    write_pkt(stdout, b"version=1\0push-options" if wants_options else b"version=1\0")
    write_pkt(stdout, None)
    stdout.flush()
    commands = []
    while (line := read_pkt(stdin)) is not None:
        commands.append(line.decode().strip().split(" ", 2))
    push_options = []
    if wants_options:
        while (line := read_pkt(stdin)) is not None:
            push_options.append(line.decode().rstrip("\n"))
    try:
        answer = call_server(commands, push_options)
    except (OSError, ValueError, KeyError, urllib.error.URLError) as exc:
        answer = {
            "results": [
                {"ref": ref, "ok": False, "reason": f"internal server error: {exc}"}
                for _, _, ref in commands
            ],
            "messages": [],
        }
    for line in answer["messages"]:
        stderr.write(line + "\n")
    stderr.flush()
    for result in answer["results"]:
        if result["ok"]:
            write_pkt(stdout, f"ok {result['ref']}".encode())
        else:
            write_pkt(stdout, f"ng {result['ref']} {result['reason']}".encode())
    write_pkt(stdout, None)
    stdout.flush()
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["proc-receive"]:
        return proc_receive(sys.stdin.buffer, sys.stdout.buffer, sys.stderr)
    if argv[:1] != ["pre-receive"]:
        print("usage: python -m ci_tools.gerrit.hook pre-receive|proc-receive", file=sys.stderr)
        return 2
    admin = os.environ.get("GERRIT_EMULATOR_ADMIN") == "1"
    errors = pre_receive(sys.stdin.read().splitlines(), admin)
    for error in errors:
        print(error)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
