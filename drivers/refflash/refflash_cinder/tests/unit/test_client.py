# Copyright 2026 The refflash CI kit authors.
#
#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""The REST client: sessions, re-login, read retries, errors with codes."""

import json

import ddt
import fixtures
import requests

from cinder.tests.unit import test

from refflash_cinder import client
from refflash_cinder.tests.features import feature


class FakeResponse:
    def __init__(self, status=200, body=None, text=None):
        self.status_code = status
        self.text = (
            text
            if text is not None
            else json.dumps(body if body is not None else {})
        )
        self.content = (
            self.text.encode() if (body is not None or text) else b""
        )

    def json(self):
        return json.loads(self.text)


@ddt.ddt
class ClientTestCase(test.TestCase):
    def setUp(self):
        super().setUp()
        self.client = client.RefFlashClient(
            "https://array:8780/",
            "admin",
            "pw",
            timeout=7,
            retries=2,
            verify="/ca.pem",
        )
        self.request = self.useFixture(
            fixtures.MockPatchObject(self.client.session, "request")
        ).mock
        self.sleep = self.patch("time.sleep")
        self.request.side_effect = self._answer
        self.answers = []

    def _answer(self, method, url, **kwargs):
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def login_answer(self, token="t1"):
        return FakeResponse(200, {"token": token})

    def test_logs_in_once_and_sends_the_token(self):
        self.answers = [
            self.login_answer(),
            FakeResponse(200, {"name": "v"}),
            FakeResponse(200, []),
        ]
        self.assertEqual({"name": "v"}, self.client.volume("v"))
        self.assertEqual([], self.client.mappings(volume="v"))
        login, get, listing = self.request.call_args_list
        self.assertEqual(
            ("POST", "https://array:8780/api/v1/auth/login"), login.args
        )
        self.assertEqual(
            {"username": "admin", "password": "pw"}, login.kwargs["json"]
        )
        self.assertNotIn("X-Auth-Token", login.kwargs["headers"])
        self.assertEqual("t1", get.kwargs["headers"]["X-Auth-Token"])
        self.assertEqual(
            (7, "/ca.pem"), (get.kwargs["timeout"], get.kwargs["verify"])
        )
        self.assertEqual({"volume": "v"}, listing.kwargs["params"])
        self.assertNotIn("pw", repr(self.client))

    @ddt.data("auth.expired", "auth.required")
    @feature("Array errors")
    def test_expired_session_logs_in_again(self, code):
        self.answers = [
            self.login_answer("t1"),
            FakeResponse(401, {"error": {"code": code}}),
            self.login_answer("t2"),
            FakeResponse(200, {"ok": 1}),
        ]
        self.assertEqual({"ok": 1}, self.client.system())
        self.assertEqual(
            "t2", self.request.call_args.kwargs["headers"]["X-Auth-Token"]
        )

    @feature("Array errors")
    def test_other_errors_carry_status_and_code(self):
        self.answers = [
            self.login_answer(),
            FakeResponse(
                409, {"error": {"code": "volume.mapped", "message": "m"}}
            ),
            FakeResponse(401, {"error": {"code": "auth.failed"}}),
        ]
        with self.assertRaises(client.ArrayAPIError) as ctx:
            self.client.delete_volume("v", cascade=True)
        self.assertEqual(
            (409, "volume.mapped", "m"),
            (ctx.exception.status, ctx.exception.code, ctx.exception.message),
        )
        self.assertEqual(
            {"cascade": "true"}, self.request.call_args.kwargs["params"]
        )
        self.assertRaises(
            client.ArrayAPIError, self.client.pool, "p"
        )  # 401 without retry

    @feature("Array errors")
    def test_non_json_error_is_still_an_api_error(self):
        self.answers = [
            self.login_answer(),
            FakeResponse(502, text="<html>bad gateway"),
        ]
        with self.assertRaises(client.ArrayAPIError) as ctx:
            self.client.system()
        self.assertEqual(
            (502, "api.bad_response"),
            (ctx.exception.status, ctx.exception.code),
        )

    @feature("Array errors")
    def test_reads_are_retried_writes_are_not(self):
        down = requests.ConnectionError("refused")
        self.answers = [
            self.login_answer(),
            down,
            down,
            FakeResponse(200, {"name": "p"}),
        ]
        self.assertEqual({"name": "p"}, self.client.pool("p"))
        self.assertEqual(2, self.sleep.call_count)
        self.answers = [requests.ReadTimeout("slow")]
        with self.assertRaises(client.ArrayUnreachable) as ctx:
            self.client.create_volume("v", size_gb=1, pool="p")
        self.assertIn("ReadTimeout", str(ctx.exception))
        self.answers = [down, down, down]
        self.assertRaises(client.ArrayUnreachable, self.client.volume, "v")

    def test_helpers_speak_the_array_api(self):
        calls = [
            (
                lambda c: c.create_volume(
                    "v",
                    size_gb=2,
                    pool="p",
                    qos={"max_iops": 1},
                    source_snapshot="s",
                    source_volume=None,
                ),
                "POST",
                "/volumes",
                {
                    "json": {
                        "name": "v",
                        "pool": "p",
                        "size_gb": 2,
                        "qos": {"max_iops": 1},
                        "source_snapshot": "s",
                    }
                },
            ),
            (
                lambda c: c.update_volume("v", size_gb=3),
                "PATCH",
                "/volumes/v",
                {"json": {"size_gb": 3}},
            ),
            (lambda c: c.volumes(), "GET", "/volumes", {"params": {}}),
            (
                lambda c: c.revert_volume("v", "s"),
                "POST",
                "/volumes/v/revert",
                {"json": {"snapshot": "s"}},
            ),
            (lambda c: c.snapshot("s"), "GET", "/snapshots/s", {}),
            (
                lambda c: c.snapshots(volume="v"),
                "GET",
                "/snapshots",
                {"params": {"volume": "v"}},
            ),
            (
                lambda c: c.create_snapshot("s", "v"),
                "POST",
                "/snapshots",
                {"json": {"name": "s", "volume": "v"}},
            ),
            (
                lambda c: c.rename_snapshot("s", "t"),
                "PATCH",
                "/snapshots/s",
                {"json": {"name": "t"}},
            ),
            (lambda c: c.delete_snapshot("s"), "DELETE", "/snapshots/s", {}),
            (
                lambda c: c.find_host(wwpn="10"),
                "GET",
                "/hosts",
                {"params": {"wwpn": "10"}},
            ),
            (
                lambda c: c.host("h", secrets=True),
                "GET",
                "/hosts/h",
                {"params": {"secrets": "true"}},
            ),
            (
                lambda c: c.create_host("h", iqns=["i"]),
                "POST",
                "/hosts",
                {
                    "json": {
                        "name": "h",
                        "iqns": ["i"],
                        "wwpns": [],
                        "chap": None,
                    }
                },
            ),
            (
                lambda c: c.update_host("h", chap=None),
                "PATCH",
                "/hosts/h",
                {"json": {"chap": None}},
            ),
            (lambda c: c.delete_host("h"), "DELETE", "/hosts/h", {}),
            (lambda c: c.connection("h"), "GET", "/hosts/h/connection", {}),
            (
                lambda c: c.map("v", "h"),
                "POST",
                "/mappings",
                {"json": {"volume": "v", "host": "h"}},
            ),
            (
                lambda c: c.unmap("v", "h"),
                "DELETE",
                "/mappings",
                {"params": {"volume": "v", "host": "h"}},
            ),
            (
                lambda c: c.set_peer("u", "n", "p"),
                "PUT",
                "/replication/peer",
                {"json": {"url": "u", "username": "n", "password": "p"}},
            ),
            (
                lambda c: c.replication_group("g"),
                "GET",
                "/replication/groups/g",
                {},
            ),
            (
                lambda c: c.create_replication_group("g", 5),
                "POST",
                "/replication/groups",
                {"json": {"name": "g", "interval_s": 5}},
            ),
            (
                lambda c: c.add_to_group("g", "v"),
                "POST",
                "/replication/groups/g/volumes",
                {"json": {"volume": "v"}},
            ),
            (
                lambda c: c.remove_from_group("g", "v"),
                "DELETE",
                "/replication/groups/g/volumes/v",
                {},
            ),
            (
                lambda c: c.group_action("g", "sync"),
                "POST",
                "/replication/groups/g/sync",
                {},
            ),
        ]
        self.client._token = "t"
        for func, method, path, kwargs in calls:
            self.answers = [
                FakeResponse(200, [] if path == "/hosts" else {"x": 1})
            ]
            func(self.client)
            got = self.request.call_args
            self.assertEqual(
                (method, "https://array:8780/api/v1" + path), got.args, path
            )
            for key, value in kwargs.items():
                self.assertEqual(value, got.kwargs[key], path)
        self.answers = [FakeResponse(200, [{"name": "h"}])]
        self.assertEqual({"name": "h"}, self.client.find_host(iqn="iqn.x"))
