"""Load and validate ``site.yaml``, the vendor's one place for CI identity.

The schema names every key a template may use, so a typo in site.yaml is an
error naming the key and the file rather than an empty string in zuul.d/.
"""

import os

import voluptuous as vs
import yaml

from ci_tools.errors import ConfigError

SITE_FILE = "site.yaml"

_slug = vs.Match(r"^[a-z0-9][a-z0-9-]*$", msg="lower case letters, digits and dashes only")
# review.opendev.org's Zuul Summary tab (the zuul-results-summary plugin) lists
# a CI only when its account's full name matches this: the name is the CI's
# identity in Gerrit, and the report text no longer repeats it.
CI_ACCOUNT_NAME_RE = r"^.* CI$"
_ci_account_name = vs.Match(
    CI_ACCOUNT_NAME_RE, msg='must end in " CI" (Gerrit\'s CI summary lists only such accounts)'
)
_branch = vs.Match(r"^stable/[\w.-]+$", msg="a stable branch such as stable/2025.1")

SCHEMA = vs.Schema(
    {
        vs.Required("ci_name"): _slug,
        vs.Required("company"): str,
        vs.Required("product"): str,
        # The Gerrit account's full name; default "<company> <product> CI".
        vs.Optional("display_name"): _ci_account_name,
        vs.Required("wiki_url"): vs.Url(),
        vs.Required("contact_email"): vs.Email(),
        vs.Required("voting"): bool,
        vs.Optional("vote_label", default="Verified"): str,
        vs.Optional("disable_voting_after_failures", default=10): vs.All(int, vs.Range(min=0)),
        vs.Required("tenant"): _slug,
        vs.Required("connections"): {
            vs.Required("gerrit"): _slug,
            vs.Required("cloud"): _slug,
            vs.Required("static"): _slug,
        },
        vs.Required("driver_dir"): vs.Match(r"^[a-z0-9_]+$"),
        vs.Required("stable_branches"): [_branch],
        # None: no timer; the canary runs only when enqueued (the sandbox's default)
        vs.Optional("periodic_time", default="0 4 * * *"): vs.Any(None, str),
        vs.Required("protocols"): vs.All([vs.Any("iscsi", "fc")], vs.Length(min=1)),
        vs.Required("log_root"): str,
        vs.Required("log_url"): vs.Url(),
        vs.Required("cloud"): {
            vs.Required("region"): str,
            vs.Required("image_id"): str,
            vs.Required("flavor_name"): str,
            vs.Optional("networks", default=[]): [str],
            vs.Optional("max_instances", default=4): vs.All(int, vs.Range(min=1)),
        },
        vs.Required("sandbox_node"): {
            vs.Required("host"): str,
            vs.Required("port"): vs.All(int, vs.Range(min=1, max=65535)),
            vs.Required("username"): str,
            # set by the sandbox when it boots the compute node
            vs.Optional("compute_port"): vs.All(int, vs.Range(min=1, max=65535)),
        },
        # The iSCSI job gets a compute node and a data-path phase (roles/data-path).
        # Off by default: a lab turns it on once its launcher gives compute
        # nodes; the sandbox turns it on with its own (`sandbox up`).
        vs.Optional("data_path", default=False): bool,
        vs.Optional("use_secrets", default=False): bool,
    }
)


def load_site(repo_root):
    """The validated settings of ``repo_root/site.yaml`` with defaults filled in."""
    path = os.path.join(repo_root, SITE_FILE)
    try:
        with open(path) as f:
            data = yaml.safe_load(f)
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: missing; copy it from the kit and set your CI's name") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    try:
        site = SCHEMA(data)
    except vs.MultipleInvalid as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.path) or '(top)'}: {err.msg}" for err in exc.errors
        )
        raise ConfigError(f"{path}: {problems}") from exc
    site.setdefault("display_name", f"{site['company']} {site['product']} CI")
    try:
        _ci_account_name(site["display_name"])
    except vs.Invalid as exc:
        raise ConfigError(
            f"{path}: company/product: {site['display_name']!r} {exc.msg}; set display_name"
        ) from exc
    return site


def launcher_connections(site):
    """zuul.conf connections the launcher config in zuul.d needs, for a sandbox.

    Zuul resolves every provider's connection, and the OpenStack cloud's
    entry in clouds.yaml, when it loads the layout: a scheduler checking
    this config needs both even though the sandbox never boots a cloud node.
    Maps connection name -> options.

    Zuul 14.3 hands ``client_config_file`` to openstacksdk as a string where
    a list is expected, so the option does not work: a sandbox puts a
    clouds.yaml naming the cloud where openstacksdk searches by default
    (the daemons' working directory or ``$XDG_CONFIG_HOME/openstack/``):
    :func:`sandbox_clouds_yaml` writes its text.
    """
    names = site["connections"]
    return {
        names["cloud"]: {"driver": "openstack", "cloud": names["cloud"]},
        names["static"]: {"driver": "static"},
    }


def sandbox_clouds_yaml(site):
    """A clouds.yaml naming the lab cloud, pointing at a closed loopback port.

    Enough for Zuul to load the OpenStack provider; nothing listens there,
    so nothing is ever launched, and there is no credential to leak.
    """
    cloud = {
        "region_name": site["cloud"]["region"],
        "auth": {
            "auth_url": "http://127.0.0.1:9/identity/v3",
            "username": "sandbox",
            "password": "not-a-real-cloud",
            "project_name": "sandbox",
            "user_domain_name": "Default",
            "project_domain_name": "Default",
        },
    }
    return yaml.safe_dump({"clouds": {site["connections"]["cloud"]: cloud}}, sort_keys=False)
