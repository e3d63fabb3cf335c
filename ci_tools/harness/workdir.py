"""A work dir no other local user can enter or plant files in.

The sandbox's work dir holds the Gerrit emulator's database, the array's
password, Zuul's keys and config, and the node's sshd config: nobody but
the user who runs the sandbox may list it, read it or create anything in it.
One other account must pass through it: PostgreSQL's server, which refuses
to run as root and runs as ``postgres`` (its own group only, none of root's)
in a cluster dir below the work dir. So, run as root, the work dir is
``root:postgres`` mode ``0710``: the owner has everything; the ``postgres``
group (the server's primary group, which nobody else is in on Debian) may
only traverse it, not list or write it; others get nothing. Run as another
user, PostgreSQL runs as that user too and the dir is ``0700``.

The node user (``zuul``) needs nothing in it: the node's sshd gets the
executor's public key from its ``AuthorizedKeysCommand`` line, not a file.

The dir is made with an exclusive ``mkdir``; one that exists already (made
by an earlier run, or by someone else between a clean-up and this call in a
world-writable ``/var/tmp``) is used only when it is a directory (not a
link) this user owns.
"""

import grp
import os
import pwd
import stat

from ci_tools.errors import UsageError

POSTGRES_USER = "postgres"


def server_group():
    """PostgreSQL's server group as root runs it (gid), or None when it runs as us."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(POSTGRES_USER).pw_gid
    except KeyError:
        return None


def expected_mode():
    """(mode, gid or None) a private work dir gets on this machine for this user."""
    gid = server_group()
    return (0o710, gid) if gid is not None else (0o700, None)


def private_work_dir(path):
    """Create ``path`` (or take the one this user already owns) and restrict it.

    Raises UsageError when ``path`` exists and is a link, not a directory, or
    a directory another user owns. Returns the absolute path."""
    path = os.path.abspath(path)
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
            owner = _user_name(st.st_uid)
            kind = "directory" if stat.S_ISDIR(st.st_mode) else "link or file"
            raise UsageError(
                f"{path} exists and is not a directory of this user (a {kind} of {owner}, "
                f"uid {os.geteuid()} runs this); choose another work dir"
            ) from None
    mode, gid = expected_mode()
    # O_NOFOLLOW: a link swapped in after the check is refused, not followed.
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        st = os.fstat(fd)
        if st.st_uid != os.geteuid():
            raise UsageError(f"{path} changed owner while it was prepared; choose another work dir")
        if gid is not None:
            os.fchown(fd, -1, gid)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    return path


def describe(path):
    """``owner:group mode`` of ``path``, e.g. ``root:postgres 0710``."""
    st = os.lstat(path)
    return f"{_user_name(st.st_uid)}:{_group_name(st.st_gid)} {stat.S_IMODE(st.st_mode):04o}"


def _user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid):
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)
