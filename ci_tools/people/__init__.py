"""Tools for the people around the CI: third-party CI status, health, results, recheck.

- ``parse``: result lines of third-party CI comments (ours, Zuul's, common real-world forms).
- ``aggregate``: per-CI/per-branch figures (last report, last success, pass rates, silence).
- ``gerrit_rest``: a Gerrit REST client (paged, rate-limited, cached, retried).
- ``source``: the change queries that read CI comments from Gerrit.
- ``table`` and ``dashboard``: the text table and the static HTML page with SVG charts.
- ``subunit_results``: failed tests and their first error line from a subunit v2 stream.
- ``recheck``: the recheck comment and its review POST.
- ``health``: is our own CI alive (Zuul, event stream, last comment, nodes, array).

The subcommands in ``ci_tools/commands/`` (status, health, results, recheck)
are thin wrappers over these modules; doc/people-tools.rst shows them in use.
"""
