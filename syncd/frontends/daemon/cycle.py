"""The seam between the daemon and a sync cycle: what the daemon asks for, what it gets back.

The daemon schedules cycles and the cycle does the work (walk -> plan -> guards -> apply ->
journal); this module is all the daemon's loops know of it: values and a Protocol. The
cycle kinds are the cycle's own (``syncd.cycle.results.CycleKind``);
``syncd.frontends.daemon.runner`` adapts the cycle to this seam, and the loops are tested
with fakes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, TypeVar

from syncd.cycle.results import CycleKind
from syncd.edges.backend.fence import SiteLease

__all__ = ["CycleKind", "CycleOutcome", "CycleResult", "CycleRunner", "NamedSite"]


class CycleResult(StrEnum):
    """How a cycle ended; the ``result`` label of ``syncd_cycles_total``."""

    OK = "ok"
    """Every planned write was made (or nothing had to change)."""
    FAILED = "failed"
    """An error stopped the cycle (Wix unreachable, a write failed...); the daemon backs off."""
    REFUSED = "refused"
    """A safety guard refused the plan; nothing was written."""
    INVALID_SOURCE = "invalid_source"
    """The source of truth could not be used; nothing was written."""
    NO_MATCH = "no_match"
    """The source matched no store variant (or far fewer than at the last good run): a
    wrong store or a changed SKU column; nothing was written and the site is not ready."""
    SKIPPED = "skipped"
    """The cycle did not run, or stopped early because a stop was requested."""


@dataclass(frozen=True, slots=True)
class CycleOutcome:
    """What one cycle of one site did: enough for metrics, readiness, logs and systemd status.

    ``planned`` counts the changes the plan held, ``written`` those applied and ``failed`` those
    whose write failed. ``out_of_sync`` is the number of variants still differing from the
    source after the cycle, when the cycle knows it (None: the daemon uses
    ``planned - written`` after a full cycle). ``summary`` is one human-readable line;
    ``error`` the message of the error that ended the cycle, if any.
    """

    site: str
    kind: CycleKind
    result: CycleResult
    planned: int = 0
    written: int = 0
    failed: int = 0
    duration_s: float = 0.0
    summary: str = ""
    error: str | None = None
    out_of_sync: int | None = None

    @property
    def succeeded(self) -> bool:
        """True when the store now matches the source for what this cycle covered."""
        return self.result is CycleResult.OK


class NamedSite(Protocol):
    """The little the daemon needs to know about a site's settings: its name."""

    @property
    def name(self) -> str: ...


SiteT_contra = TypeVar("SiteT_contra", bound=NamedSite, contravariant=True)


class CycleRunner(Protocol[SiteT_contra]):
    """Runs one sync cycle of one site; implemented by ``syncd.cycle.sync``, faked in tests.

    Contract:
    - ``kind=FULL`` walks the whole store; ``kind=FAST`` re-reads and writes only the products
      holding ``changed_keys`` (source row keys, ``DesiredStock.key``), using the SKU -> product
      map kept from the last full walk. ``changed_keys`` is None for a full cycle.
    - ``stop`` is checked between products/batches: once it is set, no new write starts, the
      write in flight completes, and the call returns promptly (result ``ok`` if everything
      planned was written anyway, ``skipped`` otherwise). A single product's write is never
      abandoned half-way because of ``stop``; the daemon cancels the call only when the
      shutdown grace period has expired.
    - ``force=True`` (an operator approved a refused plan) overrides the safety guards for
      this one cycle; the daemon passes it only then, so runners may leave it out.
    - ``lease`` is the replica's lease on the site, passed only when replicas share the
      sites (runners without replicas may leave it out): nothing may be sent or journaled
      once it has lapsed, and the cycle then ends ``skipped``.
    - Expected failures are reported in the outcome (``failed``, ``refused``,
      ``invalid_source``) rather than raised; an exception that escapes is treated as
      ``failed`` by the daemon, which logs it and backs off.
    """

    async def __call__(
        self,
        site: SiteT_contra,
        *,
        kind: CycleKind,
        changed_keys: frozenset[str] | None,
        stop: asyncio.Event,
        force: bool = False,
        lease: SiteLease | None = None,
    ) -> CycleOutcome: ...
