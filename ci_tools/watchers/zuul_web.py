"""What the watchers read from zuul-web, and the enqueue they send.

Buildsets and builds come from Zuul's database (results Zuul computed and
artifacts the trusted playbooks returned), queue items from the live status.
"""

import datetime

import requests

from ci_tools.errors import ServiceError


def parse_zuul_time(text):
    """zuul-web's ``2026-11-23T12:00:00`` (UTC) as epoch seconds."""
    if not text:
        return None
    dt = datetime.datetime.fromisoformat(text.split(".")[0].rstrip("Z"))
    return dt.replace(tzinfo=datetime.UTC).timestamp()


class ZuulView:
    """What Zuul has done: buildsets (database) and queue items (status)."""

    def __init__(self, web_url, tenant, pipeline, token=None, timeout=15):
        self.web_url = web_url.rstrip("/")
        self.tenant = tenant
        self.pipeline = pipeline
        self.token = token
        self.timeout = timeout

    def _get(self, path):
        resp = requests.get(f"{self.web_url}/api/tenant/{self.tenant}/{path}", timeout=self.timeout)
        if resp.status_code != 200:
            raise ServiceError(f"zuul-web {path}: HTTP {resp.status_code}")
        return resp.json()

    def starts(self, change, patchset):
        """Epoch times at which Zuul took up this patchset in the pipeline."""
        times = []
        sets = self._get(
            f"buildsets?change={change}&patchset={patchset}&pipeline={self.pipeline}&limit=50"
        )
        for bs in sets:
            t = parse_zuul_time(bs.get("event_timestamp")) or parse_zuul_time(
                bs.get("first_build_start_time")
            )
            times.append(t or 0.0)
        status = self._get("status")
        for pipeline in status.get("pipelines", []):
            if pipeline.get("name") != self.pipeline:
                continue
            for queue in pipeline.get("change_queues", []):
                for head in queue.get("heads", []):
                    for item in head:
                        refs = item.get("refs") or [item]
                        for ref in refs:
                            if str(ref.get("id")) == f"{change},{patchset}":
                                times.append((item.get("enqueue_time") or 0) / 1000.0)
        return times

    def enqueue(self, trigger):
        if not self.token:
            raise ServiceError("enqueue needs a zuul-web admin token")
        url = f"{self.web_url}/api/tenant/{self.tenant}/project/{trigger.project}/enqueue"
        resp = requests.post(
            url,
            json={"pipeline": self.pipeline, "change": trigger.ref},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=self.timeout,
        )
        if resp.status_code != 200:
            raise ServiceError(f"enqueue {trigger.ref}: HTTP {resp.status_code} {resp.text[:200]}")

    def buildsets(self, change, patchset):
        """Finished buildsets of this patchset in the pipeline, newest first."""
        return self._get(
            f"buildsets?change={change}&patchset={patchset}&pipeline={self.pipeline}"
            "&complete=true&limit=20"
        )

    def builds(self, buildset_uuid):
        """The builds of one buildset, with results and artifacts."""
        return self._get(f"buildset/{buildset_uuid}").get("builds") or []
