"""Create the service accounts, catalog entries and test image DevStack-lite needs.

Runs in the services' venv (openstacksdk comes with python-openstackclient) in
one process: a dozen `openstack` CLI calls would cost ~20 s of start-up on a
warm node. Idempotent: finds before it creates. Reads a JSON spec on stdin:
{"cloud": ..., "region": ..., "services": [{"name", "type", "url"}],
"users": [...], "image": {"name", "path"}} and prints what it did. The
service users' password comes from $DEVSTACK_LITE_PASSWORD, so the spec and
any error can be logged.
"""

import json
import os
import sys

import openstack


def ensure(find, create, name, **attrs):
    found = find(name, ignore_missing=True)
    if found:
        return found, False
    return create(name=name, **attrs), True


def main():
    spec = json.load(sys.stdin)
    conn = openstack.connect(cloud=spec["cloud"])
    ident = conn.identity
    done = []
    domain = ident.find_domain("default")
    project, new = ensure(ident.find_project, ident.create_project, "service", domain_id=domain.id)
    done += ["project service"] if new else []
    roles = {}
    for role_name in ("admin", "member", "reader", "service"):
        roles[role_name], new = ensure(ident.find_role, ident.create_role, role_name)
        done += [f"role {role_name}"] if new else []
    for user_name in spec["users"]:
        user, new = ensure(
            ident.find_user,
            ident.create_user,
            user_name,
            domain_id=domain.id,
            password=os.environ["DEVSTACK_LITE_PASSWORD"],
            default_project_id=project.id,
        )
        if not new:
            # A warm node may hold a user from a run with another password.
            ident.update_user(user, password=os.environ["DEVSTACK_LITE_PASSWORD"])
        for role_name in ("admin", "service"):
            ident.assign_project_role_to_user(project, user, roles[role_name])
        done += [f"user {user_name}"] if new else []
    for svc in spec["services"]:
        service = ident.find_service(svc["name"], ignore_missing=True)
        if service is None or service.type != svc["type"]:
            service = ident.create_service(name=svc["name"], type=svc["type"])
            done.append(f"service {svc['name']}")
        have = {
            ep.interface: ep
            for ep in ident.endpoints(service_id=service.id, region_id=spec["region"])
        }
        for interface in ("public", "internal", "admin"):
            if interface in have and have[interface].url == svc["url"]:
                continue
            if interface in have:
                ident.delete_endpoint(have[interface])
            ident.create_endpoint(
                service_id=service.id,
                interface=interface,
                url=svc["url"],
                region_id=spec["region"],
            )
            done.append(f"endpoint {svc['type']} {interface}")
    image = spec.get("image")
    if any(item.startswith("endpoint") for item in done):
        # The token in hand carries the old catalog: reconnect to reach Glance.
        conn = openstack.connect(cloud=spec["cloud"])
    if image:
        found = conn.image.find_image(image["name"], ignore_missing=True)
        if found is None or found.status != "active":
            found = conn.create_image(
                image["name"],
                filename=image["path"],
                disk_format="raw",
                container_format="bare",
                visibility="public",
                wait=True,
            )
            done.append(f"image {image['name']}")
        print(json.dumps({"image_id": found.id, "created": done}))
    else:
        print(json.dumps({"created": done}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
