"""Read third-party CI comments on Cinder and os-brick changes from Gerrit REST.

One paged change query per project (and branch, when branches are given;
``-age:<days>d`` bounds it to changes touched in the window), with
``MESSAGES`` and ``DETAILED_ACCOUNTS`` so each message carries its author's
name and username. Plain ANDed terms, no ``OR``, so the same queries work
on upstream Gerrit and on the Gerrit emulator. A message counts as a CI
comment when its author is a named CI account, or, with no names given,
when the author is a member of the "Third-Party CI" group (read over REST,
as review.opendev.org groups CI accounts) or, as a fallback for accounts
outside it or a group that cannot be read, the author's name or username
matches ``DEFAULT_CI_PATTERN``: upstream asks third-party CI accounts to be
named "<Company> <Product> CI".
"""

import datetime
import re
import urllib.parse

from ci_tools.people.aggregate import CIComment
from ci_tools.people.gerrit_rest import gerrit_datetime

DEFAULT_PROJECTS = ("openstack/cinder", "openstack/os-brick")
DEFAULT_CI_PATTERN = r"(?i)(\bCI\b|[-_]ci$)"
DEFAULT_CI_GROUP = "Third-Party CI"
QUERY_OPTIONS = ("MESSAGES", "DETAILED_ACCOUNTS")


gerrit_date = gerrit_datetime  # the one Gerrit time parser, under the name people/ uses


def build_queries(projects, branches, days):
    """One query per project (and branch): ``project:P [branch:B] -age:Nd``."""
    queries = []
    for project in projects:
        for branch in branches or (None,):
            terms = [f"project:{project}"] + ([f"branch:{branch}"] if branch else [])
            queries.append(" ".join(terms + [f"-age:{int(days)}d"]))
    return queries


def author_name(author):
    return author.get("name") or author.get("username") or f"account {author.get('_account_id')}"


def group_members(client, group):
    """{"ids", "usernames"} of the Gerrit group ``group``'s members, or None when
    the group cannot be read (missing, not visible): the caller falls back to names."""
    from ci_tools.errors import ServiceError

    try:
        members = client.get(f"groups/{urllib.parse.quote(group, safe='')}/members/")
    except ServiceError:
        return None
    if not isinstance(members, list):
        return None
    return {
        "ids": {m.get("_account_id") for m in members} - {None},
        "usernames": {m.get("username") for m in members} - {None},
    }


def is_ci_account(author, accounts, pattern, members=None):
    names = {author.get("name"), author.get("username")} - {None}
    if accounts:
        return bool(names & set(accounts))
    if members and (
        author.get("_account_id") in members["ids"]
        or author.get("username") in members["usernames"]
    ):
        return True
    return any(re.search(pattern, name) for name in names)


def _changes(client, queries, page_size):
    seen = set()
    for query in queries:
        for change in client.query_changes(query, QUERY_OPTIONS, page_size=page_size):
            key = change.get("id") or change.get("_number")
            if key in seen:
                continue  # a change matched by two queries counts once
            seen.add(key)
            yield change


def ci_comments(
    client,
    now,
    days=30,
    projects=DEFAULT_PROJECTS,
    branches=(),
    accounts=(),
    pattern=DEFAULT_CI_PATTERN,
    page_size=100,
    members=None,
):
    """Yield ``CIComment`` for each CI message in the last ``days`` days.

    ``accounts`` are CI account names or usernames; each CI is reported
    under the name it was given by, so a drivers file keys one row per CI.
    """
    since = now - datetime.timedelta(days=days)
    for change in _changes(client, build_queries(projects, branches, days), page_size):
        for message in change.get("messages") or ():
            author = message.get("author") or {}
            if not is_ci_account(author, accounts, pattern, members):
                continue
            try:
                when = gerrit_date(message["date"])
            except (KeyError, ValueError):
                continue
            if when < since or when > now:
                continue
            name = author_name(author)
            if accounts and name not in accounts and author.get("username") in accounts:
                name = author["username"]
            yield CIComment(
                ci=name,
                project=change.get("project", ""),
                branch=change.get("branch", ""),
                change=change.get("_number", 0),
                date=when,
                message=message.get("message", ""),
                patchset=message.get("_revision_number"),
            )
