"""Tools for the people around the CI: third-party CI status, health, results, recheck.

- ``parse``: result lines of third-party CI comments (ours, Zuul's, common real-world forms).
- ``aggregate``: per-CI/per-branch figures (last report, last success, pass rates, silence).
- ``gerrit_rest``: a read-mostly Gerrit REST client (paged, rate-limited, cached, retried).
- ``dashboard``: a static HTML page with inline SVG charts.
- ``subunit_results``: failed tests and their first error line from a subunit v2 stream.
- ``health``: is our own CI alive (Zuul, event stream, last comment, nodes, array).
"""
