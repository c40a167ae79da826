"""What the journal says syncd wrote lately, and the settling of the deltas left open.

Kept apart from the applier (``syncd.apply.applier``) because it is about the journal, not
about sending: ``guard_writes`` (pure) checks a plan against the last journal line per
variant, ``OpenWrites`` keeps those lines across a daemon's cycles, and
``settle_open_deltas`` re-reads and settles the deltas an earlier run never settled (a kill,
a shutdown, a failed re-read) before a run sends anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from syncd.base.errors import (
    WixAuthError,
    WixError,
)
from syncd.base.model import StoreVariant
from syncd.base.pausing import wait_unless_stopped
from syncd.core.deltas import (
    VariantKey,
    Verdict,
    verdict,
)
from syncd.core.journal import (
    Journal,
    JournalEntry,
    Outcome,
    Settlement,
    StockState,
    follow_open,
    settle_by_read,
)
from syncd.core.plan import StockChange
from syncd.edges.wix import StoreAdapter

RECENT_WRITE_S = 60.0
"""Seconds after syncd wrote a variant during which a read of it is not trusted to show
that write. Wix does not say how far ``stores-reader`` may lag writes ("seconds" is what
is seen); within this window a variant whose read does not show syncd's last write gets
no delta, and an accepted write that a read does not show is not yet called ignored."""

Log = structlog.typing.FilteringBoundLogger


def variant_key(change: StockChange) -> VariantKey:
    """The (product id, variant id) a change writes."""
    return (change.variant.product_id, change.variant.variant_id)


@dataclass(frozen=True, slots=True)
class HeldWrite:
    """A planned change not sent: the same absolute write Wix accepted before, still not
    in effect (``entry``: the journal line of that write)."""

    change: StockChange
    entry: JournalEntry
    found: bool
    """True when this run is the first to call it ignored (and reports it)."""


@dataclass(frozen=True, slots=True)
class WriteGuard:
    """What the journal's recent writes say about a plan (``guard_writes``)."""

    absolute_only: frozenset[VariantKey] = frozenset()
    """Variants whose read may not show syncd's last write yet: no delta for them."""
    held: tuple[HeldWrite, ...] = ()
    """Changes not sent at all: repeats of accepted absolute writes not in effect."""

    @property
    def held_keys(self) -> frozenset[VariantKey]:
        return frozenset(variant_key(h.change) for h in self.held)


IGNORED_HOLD_S = 600.0
"""Seconds a repeat of an accepted absolute write not in effect is held (not sent). The
same values planned again may also mean the store moved away and back (the write landed,
then a sale took the variant back to its old value, with no read in between to show the
write): values alone cannot tell the two apart, so a hold ends, and the write is sent
once more, this long after the journal line that held it. A write Wix really ignores
then costs one call per product every ten minutes; a sale is never left unsynced longer."""


def guard_writes(changes: Iterable[StockChange], latest: Mapping[VariantKey, JournalEntry],
                 *, now: datetime, recent_s: float | None = None,
                 hold_s: float = IGNORED_HOLD_S) -> WriteGuard:
    """Check planned ``changes`` against ``latest`` (the last journal line per variant).

    Pure. A change whose variant still holds the before-value of the absolute write Wix
    last accepted for it, to the same after-value, is held (that write was ignored, or the
    read lags; either way sending it again changes nothing), for ``hold_s`` after that
    line at most (``IGNORED_HOLD_S``); past ``recent_s`` it is ``found`` ignored, unless
    the journal already says so. A variant written less than ``recent_s`` ago whose read
    does not show that write goes to ``absolute_only``.
    """
    window_s = RECENT_WRITE_S if recent_s is None else recent_s
    absolute_only: set[VariantKey] = set()
    held: list[HeldWrite] = []
    for change in changes:
        key = variant_key(change)
        entry = latest.get(key)
        if entry is None:
            continue
        age_s = (now - entry.time).total_seconds()
        recent = age_s < window_s
        if (entry.delta is None and entry.outcome in (Outcome.APPLIED, Outcome.IGNORED)
                and _repeats(change, entry) and age_s < hold_s):
            found = entry.outcome is Outcome.APPLIED and not recent
            held.append(HeldWrite(change, entry, found))
        elif recent and change.variant.quantity != entry.after.quantity:
            absolute_only.add(key)
    return WriteGuard(frozenset(absolute_only), tuple(held))


def _shows(variant: StoreVariant, state: StockState) -> bool:
    """True when ``variant`` as read holds ``state`` (what a write set: the quantity of a
    tracked variant, the availability of an untracked one)."""
    if variant.tracked != state.tracked:
        return False
    if state.tracked:
        return variant.quantity == state.quantity
    return state.in_stock is None or variant.in_stock == state.in_stock


def _repeats(change: StockChange, entry: JournalEntry) -> bool:
    """True when ``change`` is ``entry``'s write again, planned from the same value."""
    v = change.variant
    return (entry.before == StockState(v.quantity, v.in_stock, v.tracked)
            and entry.after == StockState(change.quantity, change.in_stock, change.track))


async def hold_repeats(guard: WriteGuard, *, journal: Journal, log: Log) -> None:
    """Journal and report, once, the accepted writes this run finds ignored."""
    found = [h for h in guard.held if h.found]
    for h in found:
        log.warning("write_ignored", sku=h.entry.sku, product_id=h.entry.product_id,
                    variant_id=h.entry.variant_id, before=h.entry.before.to_dict(),
                    after=h.entry.after.to_dict(), write_id=h.entry.write_id)
    if found:
        await journal.settle_each(
            Settlement(h.entry, Outcome.IGNORED,
                       "ignored: Wix answered {} but a later read still holds the value "
                       "before; not sent again while source and store keep these values")
            for h in found)
    if guard.held:
        log.info("writes_held", writes=len(guard.held), found_ignored=len(found),
                 reason="Wix accepted these writes before and a read does not show them: "
                        "sending them again would change nothing")


def settlement_for(entry: JournalEntry, found: Verdict, now: StoreVariant | None
                   ) -> Settlement:
    """The journal's outcome for a delta the re-read found ``found`` (``now``: the variant)."""
    if found is Verdict.CONFIRMED:
        return Settlement(entry, Outcome.APPLIED, "confirmed by re-read")
    if found is Verdict.NOT_APPLIED:
        return Settlement(entry, Outcome.FAILED, "not seen applied: the re-read holds the "
                          "value before (or lags behind the write)")
    if found is Verdict.MISSING:
        return Settlement(entry, Outcome.FAILED, "not applied: product or variant gone")
    held = "untracked" if now is None or not now.tracked else str(now.quantity)
    return Settlement(entry, Outcome.UNKNOWN, f"moved since it was read: the re-read holds "
                      f"{held}")


class OpenWrites:
    """What one site's journal says about recent and unsettled writes, kept between
    cycles by reading only what was appended since the last look (``Journal.read_since``),
    so a daemon's cycle costs what the last cycles wrote, not the journal's whole history.

    Besides the open writes it keeps the last line per variant (``latest``) for the writes
    ``guard_writes`` may still need: those of the last ``RECENT_WRITE_S``, of the last run
    that wrote, those marked ignored, and those a cycle held back (``keep``).
    """

    def __init__(self) -> None:
        self._open: dict[str, JournalEntry] = {}
        self._position: object | None = None
        self._latest: dict[VariantKey, JournalEntry] = {}
        self._last_run: str | None = None
        self._kept: frozenset[VariantKey] = frozenset()

    @property
    def has_open(self) -> bool:
        """Whether the journal, as last read, has writes not yet settled."""
        return bool(self._open)

    @property
    def latest(self) -> Mapping[VariantKey, JournalEntry]:
        """The last journal line (pending or outcome) per variant still of interest."""
        return self._latest

    async def read(self, journal: Journal) -> list[JournalEntry]:
        """The open writes now, as ``unsettled`` over the whole journal would say."""
        tail = await journal.read_since(self._position)
        if tail.restarted:
            self._open.clear()
            self._latest.clear()
        follow_open(self._open, tail.entries)
        for entry in tail.entries:
            self._latest[(entry.product_id, entry.variant_id)] = entry
            if entry.outcome is Outcome.PENDING:
                self._last_run = entry.run_id
        self._position = tail.position
        return list(self._open.values())

    def seen(self, variants: Iterable[StoreVariant]) -> None:
        """Forget the absolute writes this read (``variants``) shows in effect: such a write
        was not ignored, so the same change planned again later is a new one (a sale took
        the variant back to its old value) and is sent, not held."""
        # Only such writes can be forgotten: most cycles have none, and then the read's
        # thousands of variants need no look-up at all.
        landed = {key: entry for key, entry in self._latest.items()
                  if entry.delta is None and entry.outcome in (Outcome.APPLIED, Outcome.IGNORED)}
        if not landed:
            return
        for v in variants:
            key = (v.product_id, v.variant_id)
            entry = landed.get(key)
            if entry is not None and _shows(v, entry.after) and self._latest.get(key) is entry:
                del self._latest[key]

    def keep(self, keys: frozenset[VariantKey]) -> None:
        """Keep the lines of ``keys`` past the window (the writes a cycle held back)."""
        self._kept = keys

    def prune(self, now: datetime) -> None:
        """Forget the lines no check needs any more, so memory follows recent writes."""
        for key, entry in list(self._latest.items()):
            if (entry.outcome is not Outcome.IGNORED and entry.run_id != self._last_run
                    and key not in self._kept
                    and (now - entry.time).total_seconds() >= RECENT_WRITE_S):
                del self._latest[key]


async def settle_open_writes(variants: Iterable[StoreVariant], *, journal: Journal, log: Log,
                             open_writes: OpenWrites | None = None) -> int:
    """Settle the absolute writes earlier runs left ``pending`` (a kill) by what this run's
    read of the store found (``variants``): each is ``settled``, with the value read,
    since this run plans from what it read (``settle_by_read``). Without this a
    killed run's writes would stay open in ``syncd journal --pending`` however many
    syncs succeed after it. Returns how many were settled."""
    entries = (await open_writes.read(journal) if open_writes is not None
               else await journal.read_open())
    settlements = settle_by_read(entries, variants, run_id=journal.run_id)
    if not settlements:
        return 0
    await journal.settle_each(settlements)
    log.info("open_writes_settled", writes=len(settlements),
             reason="left pending by an earlier run; this run read the store and plans "
                    "from what it holds")
    return len(settlements)


LOST_SETTLE_TIMEOUTS = 2.0
"""How many of the client's request timeouts (``WixSettings.timeout_s``, 30 s by default)
a delta whose call got no answer may still take to land: ``lost_settle_s``."""


def lost_settle_s(store: StoreAdapter) -> float:
    """Seconds after a delta's call was sent during which a call that got no answer (a
    timeout, a dropped connection) may still land: no write of any kind follows it before.

    Wix does not say how long a request may wait behind a gateway. syncd gave up on the
    call after its request timeout; a gateway or load balancer that still holds it gives
    up on the same order of time (theirs are set like clients', tens of seconds), and a
    request that reached the service before that is applied within it. Twice the client's
    timeout (60 s by default) covers one such timeout behind another; it follows the
    setting, so a site that allows slow answers also waits longer for lost ones."""
    return LOST_SETTLE_TIMEOUTS * store.client.settings.timeout_s


async def settle_open_deltas(*, store: StoreAdapter, journal: Journal, log: Log,
                             open_writes: OpenWrites | None = None,
                             stop: asyncio.Event | None = None) -> frozenset[VariantKey]:
    """Settle, by a re-read, every delta an earlier run journaled but never settled (a
    kill, a shutdown, a failed re-read); returns their variants, which this run must write
    only absolutely (whatever the re-read said, the walk this run planned from may predate
    the delta). The journal is read where this run writes it (the file, or the database):
    its open writes (an index, not the whole history), or with ``open_writes`` what was
    appended since the site's last cycle.
    Nothing is sent again.

    Such a delta's call may have got no answer, or none yet when its run died, and may
    still land: when the youngest was journaled less than ``lost_settle_s`` ago, this run
    first waits until then (``open_deltas_waiting``), so that nothing it writes can be
    followed by a delta landing on top. Waiting, rather than holding those variants back,
    keeps to one rule (every open delta is settled, by a read made when it can no longer
    land) and costs a pause only to a run started right after one that died with deltas
    in flight. A stop request ends the wait at once: the deltas stay ``pending`` and this
    run sends nothing (the stop holds back every write). The time of a pending line is
    when it was journaled, just before its call was started; a call that then waited for
    the site's rate budget went out later than that."""
    entries = (await open_writes.read(journal) if open_writes is not None
               else await journal.read_open())
    open_deltas = [e for e in entries if e.delta is not None and e.run_id != journal.run_id]
    if not open_deltas:
        return frozenset()
    keys = frozenset((e.product_id, e.variant_id) for e in open_deltas)
    settle_s = lost_settle_s(store)
    until = max(e.time for e in open_deltas) + timedelta(seconds=settle_s)
    wait_s = (until - journal.now()).total_seconds()
    if wait_s > 0:
        young = [e for e in open_deltas
                 if (journal.now() - e.time).total_seconds() < settle_s]
        log.info("open_deltas_waiting", deltas=len(young), seconds=round(wait_s, 1),
                 until=until.isoformat(),
                 reason="journaled by a run that ended a moment ago: their calls may "
                        "still land, no write follows them before")
        if not await wait_unless_stopped(wait_s, stop):
            log.info("open_deltas_left_pending", deltas=len(open_deltas),
                     reason="stop requested: the next run settles them")
            return keys
    try:
        fresh = await store.refresh(product_ids=sorted({e.product_id for e in open_deltas}))
    except WixAuthError:
        raise
    except WixError as exc:
        log.warning("open_deltas_unreadable", deltas=len(open_deltas), error=str(exc)[:300])
        return keys
    current = {(v.product_id, v.variant_id): v for v in fresh.variants}
    settlements = []
    for e in open_deltas:
        now = current.get((e.product_id, e.variant_id))
        settlements.append(settlement_for(e, verdict(e.before.quantity, e.after.quantity, now),
                                       now))
    await journal.settle_each(settlements)
    log.info("open_deltas_settled", deltas=len(open_deltas),
             confirmed=sum(s.outcome is Outcome.APPLIED for s in settlements))
    return keys


