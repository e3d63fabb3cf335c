"""The file secret store: found, missing, badly formed, too open; messages without values."""

import json
import os
import tempfile

import fixtures
import testtools

from ci_tools.ztsp import secrets


class FileStoreTest(testtools.TestCase):
    def setUp(self):
        super().setUp()
        td = tempfile.TemporaryDirectory()
        self.addCleanup(td.cleanup)
        self.dir = td.name
        self.path = os.path.join(self.dir, "secrets.json")

    def write(self, data, mode=0o600):
        with open(self.path, "w") as f:
            f.write(data if isinstance(data, str) else json.dumps(data))
        os.chmod(self.path, mode)
        return secrets.FileStore(self.path)

    def test_get(self):
        store = self.write(
            {"arrays": {"42:fa:17:2b:c9:ff": {"username": "admin", "password": "s3cret"}}}
        )
        self.assertEqual(
            {"username": "admin", "password": "s3cret"}, store.get("arrays/42:fa:17:2b:c9:ff")
        )

    def assertSecretError(self, store, path, *words):
        with self.assertRaises(secrets.SecretError) as ctx:
            store.get(path)
        for word in words:
            self.assertIn(word, str(ctx.exception))
        self.assertNotIn("s3cret", str(ctx.exception))

    def test_missing_secret_names_the_path(self):
        store = self.write({"arrays": {"aa": {"username": "admin", "password": "s3cret"}}})
        self.assertSecretError(store, "arrays/bb", "no secret arrays/bb")

    def test_incomplete_secret(self):
        store = self.write({"arrays": {"aa": {"password": "s3cret"}}})
        self.assertSecretError(store, "arrays/aa", "username and a password")

    def test_file_readable_by_others_is_refused(self):
        store = self.write({"arrays": {}}, mode=0o644)
        self.assertSecretError(store, "arrays/aa", "readable by group or others", "644")

    def test_not_json_and_missing_file(self):
        self.assertSecretError(self.write("{s3cret"), "arrays/aa", "not JSON")
        self.assertSecretError(secrets.FileStore(self.path + ".nope"), "arrays/aa", "No such file")

    def test_make_store(self):
        self.assertIsInstance(
            secrets.make_store({"backend": "file", "path": self.path}), secrets.FileStore
        )
        self.assertRaises(secrets.SecretError, secrets.make_store, {"backend": "etcd"})
        self.useFixture(fixtures.EnvironmentVariable("VAULT_TOKEN"))  # unset
        self.assertRaises(
            secrets.SecretError,
            secrets.make_store,
            {"backend": "vault", "address": "http://127.0.0.1:8200"},
        )
