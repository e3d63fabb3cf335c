"""The sandbox's work dir: who may enter it, and which dirs it refuses."""

import os
import pwd
import shutil
import stat
import tempfile

import testtools

from ci_tools.errors import UsageError
from ci_tools.harness import postgres, workdir


def _user(name):
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


class TestPrivateWorkDir(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.top = tempfile.mkdtemp(prefix="workdir-", dir="/var/tmp")
        os.chmod(self.top, 0o755)
        self.addCleanup(shutil.rmtree, self.top, True)
        self.path = os.path.join(self.top, "sandbox")

    def mode(self):
        st = os.lstat(self.path)
        return stat.S_IMODE(st.st_mode), st.st_gid

    def test_new_dir_is_closed_to_everyone_but_the_server_group(self):
        workdir.private_work_dir(self.path)
        mode, gid = self.mode()
        if os.geteuid() == 0 and _user("postgres"):
            self.assertEqual(0o710, mode)
            self.assertEqual(pwd.getpwnam("postgres").pw_gid, gid)
            self.assertTrue(workdir.describe(self.path).startswith("root:"))
        else:
            self.assertEqual(0o700, mode)
        self.assertEqual(0, mode & 0o007, "others get nothing")
        self.assertEqual(0, mode & 0o060, "the group may not list or write")

    def test_an_own_dir_with_loose_modes_is_tightened(self):
        os.mkdir(self.path)
        os.chmod(self.path, 0o777)
        workdir.private_work_dir(self.path)
        self.assertEqual(workdir.expected_mode()[0], self.mode()[0])

    def test_a_link_is_refused_and_its_target_left_alone(self):
        target = os.path.join(self.top, "elsewhere")
        os.mkdir(target, 0o755)
        os.symlink(target, self.path)
        error = self.assertRaises(UsageError, workdir.private_work_dir, self.path)
        self.assertIn("is not a directory of this user", str(error))
        self.assertEqual(0o755, stat.S_IMODE(os.stat(target).st_mode))

    def test_a_dir_another_user_owns_is_refused(self):
        if os.geteuid() != 0:
            self.skipTest("only root can make a dir another user owns")
        os.mkdir(self.path)
        os.chmod(self.path, 0o777)
        os.chown(self.path, 65534, 65534)
        error = self.assertRaises(UsageError, workdir.private_work_dir, self.path)
        self.assertIn("is not a directory of this user", str(error))
        self.assertEqual(65534, os.lstat(self.path).st_uid)
        self.assertEqual(0o777, stat.S_IMODE(os.lstat(self.path).st_mode))

    def test_postgres_passes_through_and_the_node_user_does_not(self):
        pg, node = _user("postgres"), _user("zuul")
        if os.geteuid() != 0 or not (pg and node):
            self.skipTest("needs root and the postgres and zuul users (tools/test-setup.sh)")
        workdir.private_work_dir(self.path)
        cluster = os.path.join(self.path, "stack", "postgres")
        os.makedirs(cluster)
        self.assertTrue(postgres._traversable_by(cluster, pg.pw_uid, pg.pw_gid))
        self.assertFalse(postgres._traversable_by(cluster, node.pw_uid, node.pw_gid))
        # The server runs with its primary group only: another group it is in
        # (ssl-cert on Debian) gives no way in.
        self.assertFalse(postgres._traversable_by(cluster, pg.pw_uid, pg.pw_gid + 100000))
