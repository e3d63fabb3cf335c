"""Render ``templates/zuul.d/*.yaml.j2`` with ``site.yaml`` into ``zuul.d/``.

Zuul reads its config straight from git and has no templating of its own,
so the vendor's settings are applied here, ahead of time, and the result is
committed. ``render`` returns the files, ``write`` updates them, ``drift``
lists files whose committed text differs from the rendering (what
``ci-tools config render --check`` reports).
"""

import difflib
import os
import re

import jinja2

from ci_tools.zuulconf.site import load_site

TEMPLATE_DIR = os.path.join("templates", "zuul.d")
OUTPUT_DIR = "zuul.d"

# Upstream's third-party recheck regex (Cinder's wiki and project-config):
# every third-party CI answers the same "recheck" comment.
RECHECK_REGEX = r"(?i)^(Patch Set [0-9]+:)?( [\w\\+-]*)*(\n\n)?\s*recheck"
# Same comment prefix; the CI's own keyword must end the word so another
# CI's "run-<ci_name>-something" does not trigger us.
_PREFIX = r"(?i)^(Patch Set [0-9]+:)?( [\w\\+-]*)*(\n\n)?\s*"
EXPERIMENTAL_REGEX = _PREFIX + r"check experimental(\s|$)"

PROTOCOL_NAMES = {"iscsi": "iSCSI", "fc": "Fibre Channel"}

# Paths whose changes cannot change what Tempest sees on a real array.
COMMON_IRRELEVANT = (
    r"^.*\.rst$",
    r"^doc/.*$",
    r"^api-ref/.*$",
    r"^releasenotes/.*$",
    r"^cinder/locale/.*$",
    r"^cinder/tests/.*$",
    r"^os_brick/tests/.*$",
    r"^\.zuul\.yaml$",
    r"^tox\.ini$",
    # os-brick connectors for transports this CI does not use.
    r"^os_brick/initiator/connectors/"
    r"(aoe|disco|drbd|fake|gpfs|hgst|huawei|lightos|local|nvmeof|rbd|remotefs"
    r"|scaleio|sheepdog|storpool|vmware|vrtshyperscale)\.py$",
)


def _escape(text):
    """Escape regex metacharacters only (re.escape also escapes "-" and "/")."""
    return re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", text)


def run_regex(ci_name):
    """The ``run-<ci_name>`` comment that asks for this CI alone."""
    return _PREFIX + r"run-" + _escape(ci_name) + r"(\s|$)"


def irrelevant_files(site):
    """Paths no job needs to run for.

    Other vendors' drivers are not among them: Cinder's compliance rules ask
    every CI to report on every patch "whether the code change is in their own
    driver code or not", and shared modules (san/san.py, utils) sit among
    the other drivers. A change touching only these paths still gets a
    report (the pipeline's no-jobs message)."""
    del site  # the same for every vendor
    return list(COMMON_IRRELEVANT)


def branches_regex(site):
    names = ["master"] + list(site["stable_branches"])
    return "^(" + "|".join(_escape(n) for n in names) + ")$"


def yaml_str(value):
    """A single-quoted YAML scalar: backslashes stay literal, as regexes need."""
    return "'" + str(value).replace("'", "''") + "'"


def _header(filename):
    def header(what):
        return (
            f"# zuul.d/{filename}\n"
            f"# {what}\n"
            "#\n"
            "# Generated from site.yaml by `ci-tools config render`; edit site.yaml or\n"
            f"# templates/zuul.d/{filename}.j2, never this file."
        )

    return header


def context(site):
    ci = site["ci_name"]
    footer = (
        f"{site['display_name']}: {site['wiki_url']}\n"
        f"Contact: {site['contact_email']}. "
        f'Comment "recheck" or "run-{ci}" to run it again.'
    )
    return {
        "site": site,
        "ci": ci,
        "gerrit": site["connections"]["gerrit"],
        "cloud": site["connections"]["cloud"],
        "static": site["connections"]["static"],
        "region_slug": re.sub(r"[^a-z0-9]+", "-", site["cloud"]["region"].lower()).strip("-"),
        "recheck_regex": yaml_str(RECHECK_REGEX),
        "run_regex": yaml_str(run_regex(ci)),
        "experimental_regex": yaml_str(EXPERIMENTAL_REGEX),
        "footer": footer,
        "irrelevant_files": irrelevant_files(site),
        "branches_regex": branches_regex(site),
        "protocol_names": PROTOCOL_NAMES,
    }


def _environment(repo_root):
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(os.path.join(repo_root, TEMPLATE_DIR)),
        undefined=jinja2.StrictUndefined,  # a missing setting is an error, not ""
        keep_trailing_newline=True,
        autoescape=False,  # YAML, not HTML
    )
    env.filters["yaml_str"] = yaml_str
    return env


def render(repo_root, site=None):
    """``{"zuul.d/<name>.yaml": text}`` for every template, from ``site`` or site.yaml."""
    site = site if site is not None else load_site(repo_root)
    env = _environment(repo_root)
    base = context(site)
    out = {}
    for name in sorted(env.list_templates(extensions=["j2"])):
        filename = name[: -len(".j2")]
        text = env.get_template(name).render(base, header=_header(filename))
        out[f"{OUTPUT_DIR}/{filename}"] = text.rstrip("\n") + "\n"
    return out


def drift(repo_root, rendered=None):
    """``{path: unified diff}`` for each generated file that differs from its rendering."""
    rendered = rendered if rendered is not None else render(repo_root)
    problems = {}
    for path, text in rendered.items():
        try:
            with open(os.path.join(repo_root, path)) as f:
                current = f.read()
        except FileNotFoundError:
            current = ""
        if current != text:
            problems[path] = "".join(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    text.splitlines(keepends=True),
                    fromfile=f"{path} (committed)",
                    tofile=f"{path} (rendered)",
                )
            )
    return problems


def write(repo_root, rendered=None):
    """Write the rendering into the tree; return the paths that changed."""
    rendered = rendered if rendered is not None else render(repo_root)
    changed = sorted(drift(repo_root, rendered))
    for path in changed:
        target = os.path.join(repo_root, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w") as f:
            f.write(rendered[path])
    return changed
