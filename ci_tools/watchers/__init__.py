"""Production daemons that watch Gerrit and Zuul for the CI.

- reconciler: enqueues what Zuul missed while its event stream was down;
- vote_guard: adds the CI's -1 when the build records prove the change failed;
- zuul_web: what they read from zuul-web (buildsets, builds, queue) and enqueue.

Both run stateless passes from a service or timer (``ci-tools reconcile``,
``ci-tools vote-guard``) and talk to Gerrit through the one REST client,
ci_tools.people.gerrit_rest.
"""
