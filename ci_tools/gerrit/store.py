"""The emulator's own state in SQLite: accounts, groups, projects, grants, changes, events.

Git objects live in the bare repos (see ``repos``); this database holds what
Gerrit keeps in NoteDb and its account store. Every write commits at once, so a
restart (or a crash) keeps everything already acknowledged to a client. One
connection per process, serialised by a lock; WAL lets the admin CLI write
while the server runs.

HTTP passwords are kept only as salted scrypt hashes (``passwords``); the data
dir is 0700 and the database (with its WAL) 0600, so other local users read
neither the hashes nor the changes.
"""

import fnmatch
import json
import os
import sqlite3
import threading
import time
import uuid

from ci_tools.errors import UsageError
from ci_tools.gerrit import passwords

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    id INTEGER PRIMARY KEY,
    username TEXT UNIQUE NOT NULL,
    name TEXT,
    email TEXT,
    http_password TEXT,
    is_admin INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS ssh_keys (
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    key_type TEXT NOT NULL,
    key_b64 TEXT NOT NULL,
    UNIQUE (key_type, key_b64)
);
CREATE TABLE IF NOT EXISTS projects (
    name TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS grants (
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    label TEXT NOT NULL,
    min_value INTEGER NOT NULL,
    max_value INTEGER NOT NULL,
    project_pattern TEXT NOT NULL DEFAULT '*'
);
CREATE TABLE IF NOT EXISTS changes (
    number INTEGER PRIMARY KEY AUTOINCREMENT,
    project TEXT NOT NULL,
    branch TEXT NOT NULL,
    change_id TEXT NOT NULL,
    owner_id INTEGER NOT NULL,
    subject TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'NEW',
    topic TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    UNIQUE (project, branch, change_id)
);
CREATE TABLE IF NOT EXISTS patchsets (
    change_number INTEGER NOT NULL,
    number INTEGER NOT NULL,
    revision TEXT NOT NULL,
    uploader_id INTEGER NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (change_number, number)
);
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY,
    change_number INTEGER NOT NULL,
    patchset INTEGER NOT NULL,
    author_id INTEGER,
    message TEXT NOT NULL,
    date REAL NOT NULL,
    tag TEXT
);
CREATE TABLE IF NOT EXISTS approvals (
    change_number INTEGER NOT NULL,
    patchset INTEGER NOT NULL,
    account_id INTEGER NOT NULL,
    label TEXT NOT NULL,
    value INTEGER NOT NULL,
    date REAL NOT NULL,
    PRIMARY KEY (change_number, patchset, account_id, label)
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT UNIQUE NOT NULL,
    name TEXT UNIQUE NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    visible_to_all INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS group_members (
    group_id INTEGER NOT NULL REFERENCES groups(id),
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    UNIQUE (group_id, account_id)
);
CREATE TABLE IF NOT EXISTS permissions (
    permission TEXT NOT NULL,
    account_id INTEGER,
    group_id INTEGER,
    project_pattern TEXT NOT NULL DEFAULT '*'
);
"""

# Columns added after the first release; added to older databases on open.
MIGRATIONS = (
    ("patchsets", "kind", "TEXT"),
    ("changes", "hashtags", "TEXT NOT NULL DEFAULT '[]'"),
)

# What can be granted besides labels: Gerrit's global capability "Stream Events"
# and the per-project "Abandon" permission (restore needs the same).
PERMISSIONS = ("streamEvents", "abandon")


# Gerrit's change numbers start well above 1 on real servers; small numbers are
# fine here and keep refs/changes/NN readable in tests.
FIRST_ACCOUNT_ID = 1000000

# Label definitions as in OpenStack's All-Projects: name -> {value: text}.
LABELS = {
    "Code-Review": {
        -2: "Do not merge",
        -1: "This patch needs further work before it can be merged",
        0: "No score",
        1: "Looks good to me, but someone else must approve",
        2: "Looks good to me (core reviewer)",
    },
    "Verified": {
        -2: "Fails",
        -1: "Doesn't seem to work",
        0: "No score",
        1: "Works for me",
        2: "Verified",
    },
    "Workflow": {-1: "Work in progress", 0: "Ready for reviews", 1: "Approved"},
}
# What every registered user may vote without a grant (upstream's default).
DEFAULT_RANGES = {"Code-Review": (-1, 1)}


def now():
    return time.time()


class Store:
    def __init__(self, data_dir):
        self.data_dir = os.path.abspath(data_dir)
        os.makedirs(self.data_dir, mode=0o700, exist_ok=True)
        os.chmod(self.data_dir, 0o700)
        self.path = os.path.join(self.data_dir, "state.sqlite")
        # SQLite gives its -wal and -shm files the database file's mode.
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(self.path + suffix):
                os.chmod(self.path + suffix, 0o600)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=30000")
        # WAL with NORMAL sync survives a crash of the process (not of the machine):
        # what an emulator needs, at a fraction of the fsyncs.
        self._db.execute("PRAGMA synchronous=NORMAL")
        with self._lock:
            self._db.executescript(SCHEMA)
            for table, column, decl in MIGRATIONS:
                cols = [r[1] for r in self._db.execute(f"PRAGMA table_info({table})")]
                if column not in cols:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
            # Databases from before hashing kept passwords in clear: hash them now.
            for row in self._db.execute(
                "SELECT id, http_password FROM accounts WHERE http_password IS NOT NULL"
            ).fetchall():
                if not passwords.is_hash(row[1]):
                    self._db.execute(
                        "UPDATE accounts SET http_password=? WHERE id=?",
                        (passwords.hash_password(row[1]), row[0]),
                    )
            self._db.commit()

    def close(self):
        with self._lock:
            self._db.close()

    # -- low level -----------------------------------------------------------

    def _all(self, sql, args=()):
        with self._lock:
            return [dict(r) for r in self._db.execute(sql, args).fetchall()]

    def _one(self, sql, args=()):
        rows = self._all(sql, args)
        return rows[0] if rows else None

    def _write(self, sql, args=()):
        with self._lock:
            cur = self._db.execute(sql, args)
            self._db.commit()
            return cur.lastrowid

    # -- accounts ------------------------------------------------------------

    def add_account(
        self, username, name=None, email=None, http_password=None, ssh_keys=(), is_admin=False
    ):
        if not username or any(c.isspace() for c in username):
            raise UsageError(f"invalid username {username!r}")
        if http_password is not None:
            http_password = passwords.hash_password(http_password)
        with self._lock:
            existing = self.account_by_username(username)
            if existing:
                account_id = existing["id"]
                self._db.execute(
                    "UPDATE accounts SET name=COALESCE(?, name), email=COALESCE(?, email), "
                    "http_password=COALESCE(?, http_password), is_admin=MAX(is_admin, ?) "
                    "WHERE id=?",
                    (name, email, http_password, int(is_admin), account_id),
                )
            else:
                last = self._db.execute("SELECT MAX(id) FROM accounts").fetchone()[0]
                account_id = max(last or 0, FIRST_ACCOUNT_ID - 1) + 1
                self._db.execute(
                    "INSERT INTO accounts (id, username, name, email, http_password, is_admin) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (account_id, username, name, email, http_password, int(is_admin)),
                )
            for key in ssh_keys:
                key_type, key_b64 = parse_public_key(key)
                owner = self._db.execute(
                    "SELECT account_id FROM ssh_keys WHERE key_type=? AND key_b64=?",
                    (key_type, key_b64),
                ).fetchone()
                if owner and owner[0] != account_id:
                    self._db.rollback()
                    raise UsageError(f"{key_type} key already belongs to account {owner[0]}")
                self._db.execute(
                    "INSERT OR IGNORE INTO ssh_keys (account_id, key_type, key_b64) "
                    "VALUES (?, ?, ?)",
                    (account_id, key_type, key_b64),
                )
            self._db.commit()
        return self.account(account_id)

    def account(self, account_id):
        return self._one("SELECT * FROM accounts WHERE id=?", (account_id,))

    def account_by_username(self, username):
        return self._one("SELECT * FROM accounts WHERE username=?", (username,))

    def accounts(self):
        return self._all("SELECT * FROM accounts ORDER BY id")

    def check_password(self, username, password):
        """The account if ``password`` is its HTTP password, else None."""
        account = self.account_by_username(username)
        if account and account["http_password"]:
            if passwords.verify(password, account["http_password"]):
                return account
        return None

    def account_has_key(self, username, key_type, key_b64):
        return bool(
            self._one(
                "SELECT 1 FROM ssh_keys k JOIN accounts a ON a.id=k.account_id "
                "WHERE a.username=? AND k.key_type=? AND k.key_b64=?",
                (username, key_type, key_b64),
            )
        )

    # -- projects and grants -------------------------------------------------

    def add_project(self, name, description=""):
        self._write(
            "INSERT OR IGNORE INTO projects (name, description, created) VALUES (?, ?, ?)",
            (name, description, now()),
        )
        return self.project(name)

    def project(self, name):
        return self._one("SELECT * FROM projects WHERE name=?", (name,))

    def projects(self):
        return self._all("SELECT * FROM projects ORDER BY name")

    def add_grant(self, account_id, label, min_value, max_value, project_pattern="*"):
        if label not in LABELS:
            raise UsageError(f"unknown label {label!r}; labels: {', '.join(LABELS)}")
        if min_value > max_value:
            raise UsageError(f"grant range {min_value}..{max_value} is empty")
        self._write(
            "INSERT INTO grants (account_id, label, min_value, max_value, project_pattern) "
            "VALUES (?, ?, ?, ?, ?)",
            (account_id, label, min_value, max_value, project_pattern),
        )

    def label_range(self, account, label, project):
        """(min, max) ``account`` may vote on ``label`` in ``project``, or None."""
        if account["is_admin"]:
            values = LABELS[label]
            return min(values), max(values)
        lo, hi = DEFAULT_RANGES.get(label, (0, 0))
        found = label in DEFAULT_RANGES
        for grant in self._all(
            "SELECT * FROM grants WHERE account_id=? AND label=?", (account["id"], label)
        ):
            if fnmatch.fnmatchcase(project, grant["project_pattern"]):
                lo, hi = min(lo, grant["min_value"]), max(hi, grant["max_value"])
                found = True
        return (lo, hi) if found else None

    # -- groups and permissions ----------------------------------------------

    def add_group(self, name, description="", visible_to_all=False, members=()):
        """Create (or update) a group and add ``members`` (usernames) to it."""
        if not name or name != name.strip():
            raise UsageError(f"invalid group name {name!r}")
        with self._lock:
            group = self.group(name)
            if group is None:
                self._db.execute(
                    "INSERT INTO groups (uuid, name, description, visible_to_all, created) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (uuid.uuid4().hex, name, description, int(visible_to_all), now()),
                )
            else:
                self._db.execute(
                    "UPDATE groups SET description=?, visible_to_all=MAX(visible_to_all, ?) "
                    "WHERE id=?",
                    (description or group["description"], int(visible_to_all), group["id"]),
                )
            self._db.commit()
            group = self.group(name)
            for username in members:
                self.add_member(group["name"], username)
        return self.group(name)

    def add_member(self, group_name, username):
        group = self.group(group_name)
        if group is None:
            raise UsageError(f"no group {group_name!r}")
        account = self.account_by_username(username)
        if account is None:
            raise UsageError(f"no account {username!r}")
        self._write(
            "INSERT OR IGNORE INTO group_members (group_id, account_id) VALUES (?, ?)",
            (group["id"], account["id"]),
        )

    def group(self, ident):
        """A group by name, UUID or numeric id, or None."""
        ident = str(ident)
        row = self._one("SELECT * FROM groups WHERE name=? OR uuid=?", (ident, ident))
        if row is None and ident.isdigit():
            row = self._one("SELECT * FROM groups WHERE id=?", (int(ident),))
        return row

    def groups(self):
        return self._all("SELECT * FROM groups ORDER BY name")

    def group_members(self, group_id):
        return self._all(
            "SELECT a.* FROM accounts a JOIN group_members m ON m.account_id=a.id "
            "WHERE m.group_id=? ORDER BY a.id",
            (group_id,),
        )

    def groups_of(self, account):
        return self._all(
            "SELECT g.* FROM groups g JOIN group_members m ON m.group_id=g.id "
            "WHERE m.account_id=? ORDER BY g.name",
            (account["id"],),
        )

    def grant_permission(self, permission, account=None, group=None, project_pattern="*"):
        """Grant ``permission`` to an account or a group (names)."""
        if permission not in PERMISSIONS:
            raise UsageError(
                f"unknown permission {permission!r}; permissions: {', '.join(PERMISSIONS)}"
            )
        account_id = group_id = None
        if account:
            row = self.account_by_username(account)
            if row is None:
                raise UsageError(f"no account {account!r}")
            account_id = row["id"]
        elif group:
            row = self.group(group)
            if row is None:
                raise UsageError(f"no group {group!r}")
            group_id = row["id"]
        else:
            raise UsageError("a permission is granted to an account or a group")
        if self._one(
            "SELECT 1 FROM permissions WHERE permission=? AND account_id IS ? AND group_id IS ? "
            "AND project_pattern=?",
            (permission, account_id, group_id, project_pattern),
        ):
            return
        self._write(
            "INSERT INTO permissions (permission, account_id, group_id, project_pattern) "
            "VALUES (?, ?, ?, ?)",
            (permission, account_id, group_id, project_pattern),
        )

    def has_permission(self, account, permission, project="*"):
        """Whether ``account`` holds ``permission`` (directly or through a group);
        administrators hold every permission, as in Gerrit."""
        if not account:
            return False
        if account["is_admin"]:
            return True
        rows = self._all(
            "SELECT project_pattern FROM permissions WHERE permission=? AND (account_id=? OR "
            "group_id IN (SELECT group_id FROM group_members WHERE account_id=?))",
            (permission, account["id"], account["id"]),
        )
        return any(fnmatch.fnmatchcase(project, r["project_pattern"]) for r in rows)

    # -- changes -------------------------------------------------------------

    def create_change(
        self, project, branch, change_id, owner_id, subject, revision, topic=None, hashtags=()
    ):
        with self._lock:
            ts = now()
            cur = self._db.execute(
                "INSERT INTO changes (project, branch, change_id, owner_id, subject, topic, "
                "created, updated, hashtags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    project,
                    branch,
                    change_id,
                    owner_id,
                    subject,
                    topic,
                    ts,
                    ts,
                    json.dumps(sorted(set(hashtags))),
                ),
            )
            number = cur.lastrowid
            self._db.execute(
                "INSERT INTO patchsets (change_number, number, revision, uploader_id, created, "
                "kind) VALUES (?, 1, ?, ?, ?, 'REWORK')",
                (number, revision, owner_id, ts),
            )
            self._db.commit()
        return number

    def add_patchset(self, number, revision, uploader_id, subject, kind="REWORK"):
        with self._lock:
            ts = now()
            last = self._db.execute(
                "SELECT MAX(number) FROM patchsets WHERE change_number=?", (number,)
            ).fetchone()[0]
            ps = last + 1
            self._db.execute(
                "INSERT INTO patchsets (change_number, number, revision, uploader_id, created, "
                "kind) VALUES (?, ?, ?, ?, ?, ?)",
                (number, ps, revision, uploader_id, ts, kind),
            )
            self._db.execute(
                "UPDATE changes SET subject=?, updated=? WHERE number=?", (subject, ts, number)
            )
            self._db.commit()
        return ps

    def change(self, number):
        return self._one("SELECT * FROM changes WHERE number=?", (number,))

    def change_by_key(self, project, branch, change_id):
        return self._one(
            "SELECT * FROM changes WHERE project=? AND branch=? AND change_id=?",
            (project, branch, change_id),
        )

    def changes_by_change_id(self, change_id):
        return self._all("SELECT * FROM changes WHERE change_id=? ORDER BY number", (change_id,))

    def changes(self):
        return self._all("SELECT * FROM changes ORDER BY updated DESC, number DESC")

    def set_status(self, number, status):
        self._write(
            "UPDATE changes SET status=?, updated=? WHERE number=?", (status, now(), number)
        )

    def update_change(self, number, topic=None, hashtags=()):
        """Set the topic (when given) and add hashtags, as a push's options do."""
        with self._lock:
            change = self.change(number)
            tags = sorted(set(json.loads(change["hashtags"] or "[]")) | set(hashtags))
            self._db.execute(
                "UPDATE changes SET topic=COALESCE(?, topic), hashtags=?, updated=? WHERE number=?",
                (topic, json.dumps(tags), now(), number),
            )
            self._db.commit()

    def touch(self, number):
        self._write("UPDATE changes SET updated=? WHERE number=?", (now(), number))

    def patchsets(self, number):
        return self._all("SELECT * FROM patchsets WHERE change_number=? ORDER BY number", (number,))

    def patchset_by_revision(self, revision):
        return self._one("SELECT * FROM patchsets WHERE revision=?", (revision,))

    def add_message(self, number, patchset, author_id, message, tag=None):
        mid = uuid.uuid4().hex
        self._write(
            "INSERT INTO messages (id, change_number, patchset, author_id, message, date, tag) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (mid, number, patchset, author_id, message, now(), tag),
        )
        self.touch(number)
        return mid

    def messages(self, number):
        return self._all(
            "SELECT * FROM messages WHERE change_number=? ORDER BY date, rowid", (number,)
        )

    def set_approval(self, number, patchset, account_id, label, value):
        """Record a vote; returns the previous value on that patch set (or None)."""
        with self._lock:
            old = self._db.execute(
                "SELECT value FROM approvals WHERE change_number=? AND patchset=? "
                "AND account_id=? AND label=?",
                (number, patchset, account_id, label),
            ).fetchone()
            self._db.execute(
                "INSERT OR REPLACE INTO approvals (change_number, patchset, account_id, label, "
                "value, date) VALUES (?, ?, ?, ?, ?, ?)",
                (number, patchset, account_id, label, value, now()),
            )
            self._db.commit()
        return old[0] if old else None

    def approvals(self, number, patchset=None):
        if patchset is None:
            return self._all(
                "SELECT * FROM approvals WHERE change_number=? ORDER BY date", (number,)
            )
        return self._all(
            "SELECT * FROM approvals WHERE change_number=? AND patchset=? ORDER BY date",
            (number, patchset),
        )

    # -- events --------------------------------------------------------------

    def add_event(self, event):
        return self._write("INSERT INTO events (body) VALUES (?)", (json.dumps(event),))

    def events(self, since=0, limit=10000):
        rows = self._all(
            "SELECT seq, body FROM events WHERE seq>? ORDER BY seq LIMIT ?", (since, limit)
        )
        return [(r["seq"], json.loads(r["body"])) for r in rows]


def parse_public_key(text):
    """(type, base64) from an OpenSSH public key line or file contents."""
    parts = text.strip().split()
    if len(parts) < 2 or not parts[0].startswith(("ssh-", "ecdsa-", "sk-")):
        raise UsageError(f"not an OpenSSH public key: {text.strip()[:40]!r}")
    return parts[0], parts[1]
