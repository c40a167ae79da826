"""The applier: a plan in, journaled absolute writes out, and an account per product.

Writes go out in batches: on Catalog V1 a batch is a handful of products (one Update
Inventory Variants call each, sent concurrently under the site's budget); on V3 it is up to
1000 inventory items in one Bulk Update. For every batch the journal records each write as
``pending`` (flushed and fsynced) *before* the batch is sent, and its outcome after, so a
crash at any point leaves a journal that says what may have landed.

Between batches the applier checks the ``stop`` event: once it is set no new batch starts.
Within the batch in flight, requests already on the wire finish (bounded by their
timeout), while those still waiting for the site's budget are abandoned by the client (the
caller halts it) and journaled ``not_sent``. A V1 product is written by exactly one call
and a V3 item by exactly one entry of one call, so no product is ever half-written by a
shutdown.

A V3 write rejected for a stale revision (another writer, a checkout) is not retried
blindly: the applier re-reads just those items, re-plans them against the same desired
values (an item that already holds the value needs nothing), and writes again with the new
revision, a bounded number of rounds. One failing product never stops the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

import structlog

from syncd.base.model import Catalog, StoreVariant, holds
from syncd.core.deltas import DeltaAccount
from syncd.core.journal import Journal, JournalEntry, Outcome, Settlement
from syncd.core.plan import Plan, StockChange
from syncd.edges.wix import StockWrite, StoreAdapter, WriteOutcome

V1_PRODUCTS_PER_BATCH = 16
"""V1 products written per batch: enough to keep the site's in-flight budget busy, few enough
that a stop request is honoured within a couple of seconds at Wix's pace."""

V3_ITEMS_PER_BATCH = 1000
"""V3 Bulk Update takes at most 1000 items per call."""

CONFLICT_ROUNDS = 3
"""Re-read/re-write rounds for stale V3 revisions before an item is reported as failed. A
busy item (a flash sale) can lose a round or two; three keeps one run bounded."""


@dataclass(frozen=True, slots=True)
class ProductAccount:
    """What happened to one product's planned changes."""

    product_id: str
    product_name: str
    written: int
    failed: int
    not_attempted: int
    errors: tuple[str, ...] = ()
    unconfirmed: int = 0
    """Sent, with no outcome known: left ``pending`` in the journal (``ApplyReport``)."""


@dataclass(frozen=True, slots=True)
class ApplyReport:
    """The outcome of applying one plan."""

    written: int
    """Changes Wix accepted (or found already in place after a conflict re-read)."""
    failed: int
    """Changes that were sent and rejected, or kept conflicting."""
    not_attempted: int
    """Changes never sent because a stop was requested."""
    conflict_retries: int
    """Items re-read and re-written after a stale revision."""
    products: tuple[ProductAccount, ...]
    """Per-product account, in plan order."""
    unconfirmed: int = 0
    """Changes sent whose outcome is not known (a delta whose re-read a stop or an error
    cut short, or whose call got no answer): left ``pending`` in the journal, where
    ``syncd journal --pending`` lists them, for the next run to settle by re-reading."""
    interrupted: bool = False
    """A stop request cut the apply short (whether or not anything was left unsent)."""
    deltas: DeltaAccount | None = None
    """The increment/decrement path's account (Catalog V1), None when it was not used."""
    held: int = 0
    """Changes not sent (Catalog V1): the same absolute write Wix accepted earlier, planned
    again from the same value, so it is not in effect (ignored, or a read that lags);
    sending it again would change nothing (``syncd.apply.recent_writes.guard_writes``)."""
    ignored_found: int = 0
    """Of ``held``, the writes this run was the first to find ignored by Wix: reported in
    the log (``write_ignored``), the metrics and ``syncd lint``, once."""

    @property
    def stopped(self) -> bool:
        """True when a stop request cut the apply short or left part of the plan unsent."""
        return self.interrupted or self.not_attempted > 0

    @property
    def complete(self) -> bool:
        """True when every planned change is now in the store."""
        return self.failed == 0 and self.not_attempted == 0 and self.unconfirmed == 0


@dataclass(slots=True)
class _Tally:
    written: int = 0
    failed: int = 0
    not_attempted: int = 0
    errors: list[str] | None = None

    def error(self, text: str) -> None:
        if self.errors is None:
            self.errors = []
        if text not in self.errors:
            self.errors.append(text)


async def apply_plan(
    plan: Plan,
    *,
    store: StoreAdapter,
    journal: Journal,
    stop: asyncio.Event | None = None,
    log: structlog.typing.FilteringBoundLogger | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ApplyReport:
    """Write every change of ``plan``; never raises for one product's failure.

    ``progress(done, total)`` is called after each batch with counts of changes.

    Raises only what makes every other write pointless too (``WixAuthError``), after the
    journal has recorded the batch in flight as failed.
    """
    log = log or structlog.get_logger("syncd.apply.absolute")
    tallies: dict[str, _Tally] = {c.variant.product_id: _Tally() for c in plan.changes}
    names = {c.variant.product_id: c.variant.product_name for c in plan.changes}
    conflict_retries = 0
    batches = list(_batches(plan))
    done = 0
    for index, batch in enumerate(batches):
        if stop is not None and stop.is_set():
            for rest in batches[index:]:
                for change in rest:
                    tallies[change.variant.product_id].not_attempted += 1
            log.info("apply_stopped", unsent_batches=len(batches) - index)
            break
        conflicts = await _write_batch(batch, store=store, journal=journal, tallies=tallies)
        rounds = 0
        while conflicts and rounds < CONFLICT_ROUNDS:
            rounds += 1
            conflict_retries += len(conflicts)
            log.info("revision_conflicts", items=len(conflicts),
                     round=f"{rounds}/{CONFLICT_ROUNDS}")
            conflicts = await _retry_conflicts(conflicts, store=store, journal=journal,
                                               tallies=tallies)
        for change in conflicts:
            tally = tallies[change.variant.product_id]
            tally.failed += 1
            tally.error(f"still conflicting after {CONFLICT_ROUNDS} re-reads")
        done += len(batch)
        if progress is not None:
            progress(done, len(plan.changes))
    accounts = tuple(
        ProductAccount(product_id=pid, product_name=names[pid], written=t.written,
                       failed=t.failed, not_attempted=t.not_attempted,
                       errors=tuple(t.errors or ()))
        for pid, t in tallies.items()
    )
    return ApplyReport(
        written=sum(a.written for a in accounts),
        failed=sum(a.failed for a in accounts),
        not_attempted=sum(a.not_attempted for a in accounts),
        conflict_retries=conflict_retries,
        products=accounts,
        interrupted=stop is not None and stop.is_set(),
    )


def _batches(plan: Plan) -> Iterator[list[StockChange]]:
    """Plan changes cut into write batches (whole products on V1)."""
    if plan.catalog is Catalog.V1:
        groups = list(plan.by_product().values())
        for start in range(0, len(groups), V1_PRODUCTS_PER_BATCH):
            yield [c for group in groups[start:start + V1_PRODUCTS_PER_BATCH] for c in group]
    else:
        changes = list(plan.changes)
        for start in range(0, len(changes), V3_ITEMS_PER_BATCH):
            yield changes[start:start + V3_ITEMS_PER_BATCH]


def _stock_write(change: StockChange) -> StockWrite:
    return StockWrite(change.variant, quantity=change.quantity, in_stock=change.in_stock)


async def _write_batch(
    batch: Sequence[StockChange],
    *,
    store: StoreAdapter,
    journal: Journal,
    tallies: dict[str, _Tally],
) -> list[StockChange]:
    """Journal, send and settle one batch; returns the changes that hit a stale revision."""
    pending = await journal.write_pending(batch)
    try:
        outcomes = await store.write([_stock_write(c) for c in batch])
    except BaseException as exc:
        # Some of the batch may have landed before the error (or the cancellation of a
        # shutdown whose grace ran out): say so before the error goes up.
        await asyncio.shield(journal.settle(pending, Outcome.UNKNOWN,
                                            error=f"{type(exc).__name__}: {exc}"))
        raise
    settlements: list[Settlement] = []
    conflicts: list[StockChange] = []
    for change, entry, outcome in zip(batch, pending, outcomes, strict=True):
        settlements.append(_settlement(entry, outcome))
        tally = tallies[change.variant.product_id]
        if outcome.success:
            tally.written += 1
        elif outcome.not_sent:
            tally.not_attempted += 1
        elif outcome.conflict and change.variant.revision is not None:
            conflicts.append(change)
        else:
            tally.failed += 1
            tally.error(outcome.error or "rejected")
    await journal.settle_each(settlements)
    return conflicts


def _settlement(entry: JournalEntry, outcome: WriteOutcome) -> Settlement:
    if outcome.success:
        revision = outcome.stored.revision if outcome.stored is not None else None
        return Settlement(entry, Outcome.APPLIED, revision=revision)
    if outcome.not_sent:
        kind = Outcome.NOT_SENT
    elif outcome.conflict:
        kind = Outcome.CONFLICT
    elif outcome.uncertain:
        kind = Outcome.UNKNOWN
    else:
        kind = Outcome.FAILED
    return Settlement(entry, kind, error=outcome.error)


async def _retry_conflicts(
    conflicts: Sequence[StockChange],
    *,
    store: StoreAdapter,
    journal: Journal,
    tallies: dict[str, _Tally],
) -> list[StockChange]:
    """Re-read the conflicting items, re-plan them against the same desired values, and
    write again; returns the changes that conflicted once more."""
    fresh = await store.refresh(item_ids=[c.variant.inventory_item_id for c in conflicts])
    by_item: dict[str, StoreVariant] = {v.inventory_item_id: v for v in fresh.variants}
    again: list[StockChange] = []
    in_place: list[StockChange] = []
    for change in conflicts:
        current = by_item.get(change.variant.inventory_item_id)
        tally = tallies[change.variant.product_id]
        if current is None:
            tally.failed += 1
            tally.error("inventory item disappeared while being written")
        elif holds(current, quantity=change.quantity, in_stock=change.in_stock):
            # Already in place: usually our own earlier attempt whose answer was lost.
            tally.written += 1
            in_place.append(change)
        else:
            again.append(replace(change, variant=current))
    if in_place:
        # Journaled as applied, with the before-value of the original plan, so that a
        # rollback finds this write too.
        entries = await journal.write_pending(in_place)
        await journal.settle(entries, Outcome.APPLIED, error="found in place on re-read")
    if not again:
        return []
    return await _write_batch(again, store=store, journal=journal, tallies=tallies)
