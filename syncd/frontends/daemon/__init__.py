"""The long-running daemon around sync cycles: ``syncd run``.

One loop per site schedules cycles (interval with jitter, or cron), reacts to changes of the
source file once it has settled, never overlaps two cycles of one site, backs off after
failures, and stops cleanly on SIGTERM: in-flight writes get a grace period, nothing is left
half-written. Around the loops sit a per-site lock file, an HTTP endpoint for health,
readiness and Prometheus metrics, and the systemd notify protocol.

The daemon does not know how a cycle is made: it calls a ``CycleRunner``
(``syncd.frontends.daemon.cycle``), which the entry point builds from ``syncd.cycle.sync``. This
package's ``__init__`` deliberately imports nothing, so that the small value module
``syncd.frontends.daemon.cycle`` can be imported by lower layers without pulling in the daemon.
"""
