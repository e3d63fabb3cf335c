"""The reference array's REST calls the data-path tests and benchmark make, as a host admin.

A few calls on a logged-in session (``ArrayFixture.session``), so the tests
need neither the Cinder driver package nor its dependencies.
"""


class ArrayAPIError(Exception):
    pass


class ArrayREST:
    def __init__(self, fixture):
        self.session = fixture.session()
        self.base = fixture.url + "/api/v1"

    def call(self, method, path, **kwargs):
        r = self.session.request(method, self.base + path, timeout=60, **kwargs)
        if r.status_code >= 400:
            raise ArrayAPIError(f"{method} {path}: {r.status_code} {r.text[:300]}")
        return r.json() if r.content else None

    def create_volume(self, name, size_gb):
        return self.call("POST", "/volumes", json={"name": name, "size_gb": size_gb})

    def volume(self, name):
        return self.call("GET", f"/volumes/{name}")

    def update_volume(self, name, **changes):
        return self.call("PATCH", f"/volumes/{name}", json=changes)

    def delete_volume(self, name):
        return self.call("DELETE", f"/volumes/{name}", params={"cascade": "true"})

    def create_host(self, name, iqns=(), chap=None):
        return self.call("POST", "/hosts", json={"name": name, "iqns": list(iqns), "chap": chap})

    def delete_host(self, name):
        return self.call("DELETE", f"/hosts/{name}")

    def map(self, volume, host):
        return self.call("POST", "/mappings", json={"volume": volume, "host": host})

    def unmap(self, volume, host):
        return self.call("DELETE", "/mappings", params={"volume": volume, "host": host})

    def connection(self, host):
        return self.call("GET", f"/hosts/{host}/connection")
