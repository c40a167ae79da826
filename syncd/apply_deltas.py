"""Applying a plan with increment/decrement writes where they save calls (Catalog V1).

``apply_changes`` is what a sync cycle calls. It first settles the deltas an earlier run
left without an outcome (a kill, a shutdown, a failed re-read), then parts the plan
(``syncd.deltas.split_plan``) and sends the deltas in rounds:

1. the round's deltas are journaled ``pending`` with before, delta and expected after,
   fsynced, and only then are the calls sent (up to 300 entries each, several at a time),
   each once (the client never repeats them);
2. after the round's calls, every product they touched is re-read (Query Products by
   ``id``, 100 per call) and each delta settled by what the store holds
   (``syncd.deltas.verdict``): confirmed (``applied``), not applied (``failed``), or moved
   by a sale since (``unknown``: the journal cannot say whether it landed);
3. what remains is planned again from the fresh value, never re-sent as it was: the
   deltas of calls Wix answered with a 5xx or 429 as new deltas in the next round (at most
   ``DELTA_ROUNDS``); those of calls that got no answer (which may still land), and those
   Wix refused or skipped, by the safe, absolute path.

Everything that is not a delta, and what the rounds hand over, goes through
``syncd.apply.apply_plan`` (Update Inventory Variants per product). A delta whose call
was cut short by a shutdown or whose re-read failed stays ``pending`` in the journal: the
next run's first step re-reads it and settles it, and that run plans from the store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import structlog

from syncd.apply import ApplyReport, ProductAccount, apply_plan
from syncd.deltas import (
    Answer,
    DeltaAccount,
    NextStep,
    Verdict,
    delta_batches,
    next_step,
    split_plan,
    units,
    verdict,
)
from syncd.errors import WixAuthError, WixClientError, WixError, WixUnavailable
from syncd.journal import (
    Journal,
    JournalEntry,
    Outcome,
    Settlement,
    follow_open,
    unsettled,
)
from syncd.model import Catalog, StoreVariant
from syncd.plan import Plan, StockChange
from syncd.policy import WriteMode
from syncd.wix import StoreAdapter
from syncd.wix.tasks import task_group
from syncd.wix.writes_delta import StockDelta, adjust_inventory

CALLS_IN_FLIGHT = 8
"""Increment/Decrement calls started at once (the site's limiter paces them further)."""

DELTA_ROUNDS = 3
"""Rounds of deltas before what still differs goes to the absolute path: a 5xx now and
then costs a re-read and one more call, a store that keeps failing does not loop."""

Log = structlog.typing.FilteringBoundLogger
VariantKey = tuple[str, str]


@dataclass(slots=True)
class _Sent:
    """One adjust call of a round: its changes, their journal entries, Wix's answer."""

    changes: list[StockChange]
    entries: list[JournalEntry]
    answer: Answer


@dataclass(slots=True)
class _Run:
    """The working state of the delta path of one apply."""

    store: StoreAdapter
    journal: Journal
    log: Log
    written: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    unsent: dict[str, int] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def tally(self, book: dict[str, int], change: StockChange, error: str | None = None) -> None:
        pid = change.variant.product_id
        book[pid] = book.get(pid, 0) + 1
        if error is not None and error not in self.errors.setdefault(pid, []):
            self.errors[pid].append(error)

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n


async def apply_changes(
    plan: Plan,
    *,
    store: StoreAdapter,
    journal: Journal,
    write_mode: WriteMode = WriteMode.AUTO,
    stop: asyncio.Event | None = None,
    log: Log | None = None,
    progress: Callable[[int, int], None] | None = None,
    open_writes: OpenWrites | None = None,
) -> ApplyReport:
    """Write ``plan``, with deltas where ``write_mode`` says so; never raises for one
    product's failure (``WixAuthError`` goes up, as from ``apply_plan``). ``open_writes``:
    the site's tracker of unsettled writes, kept across cycles (see ``OpenWrites``)."""
    log = log or structlog.get_logger("syncd.apply")
    recovered = 0
    if store.catalog is Catalog.V1:
        recovered = await settle_open_deltas(store=store, journal=journal, log=log,
                                             open_writes=open_writes)
    split = split_plan(plan, write_mode)
    if not split.deltas:
        report = await apply_plan(plan, store=store, journal=journal, stop=stop, log=log,
                                  progress=progress)
        return replace(report, deltas=DeltaAccount(recovered=recovered)) if recovered \
            else report
    log.info("deltas_planned", deltas=len(split.deltas), products=split.absolute_calls_saved,
             calls=split.delta_calls, absolute=len(split.absolute))
    run = _Run(store=store, journal=journal, log=log)
    fallback = await _delta_rounds(run, list(split.deltas), stop=stop)
    settled = len(split.deltas) - len(fallback)
    if progress is not None:
        progress(settled, len(plan.changes))
    outer = progress

    def absolute_progress(done: int, _total: int) -> None:
        if outer is not None:
            outer(settled + done, len(plan.changes))

    rest = replace(plan, changes=(*split.absolute, *fallback))
    absolute = await apply_plan(rest, store=store, journal=journal, stop=stop, log=log,
                                progress=absolute_progress)
    account = DeltaAccount(**run.counts, to_absolute=len(fallback), recovered=recovered)
    log.info("deltas_done", **{k: v for k, v in run.counts.items()},
             to_absolute=len(fallback))
    return _merge(plan, run, absolute, account)


async def _delta_rounds(run: _Run, pending: list[StockChange], *,
                        stop: asyncio.Event | None) -> list[StockChange]:
    """Send, re-read and settle until nothing is left to send; returns what goes to the
    absolute path."""
    fallback: list[StockChange] = []
    for round_ in range(1, DELTA_ROUNDS + 1):
        if not pending:
            break
        sent = await _send_round(run, delta_batches(pending), stop=stop)
        if not sent:
            return fallback
        pending = await _verify(run, sent, fallback)
        run.log.info("delta_round_done", round=f"{round_}/{DELTA_ROUNDS}",
                     calls=len(sent), again=len(pending))
    fallback.extend(pending)
    return fallback


async def _send_round(run: _Run, batches: list[list[StockChange]], *,
                      stop: asyncio.Event | None) -> list[_Sent]:
    """Journal every delta of the round durably (one append, one fsync), then send the
    calls, ``CALLS_IN_FLIGHT`` at a time; a call not started when ``stop`` is set is not
    sent at all, and its deltas are settled as such."""
    if stop is not None and stop.is_set():
        for batch in batches:
            for change in batch:
                run.tally(run.unsent, change)
        return []
    changes = [c for batch in batches for c in batch]
    entries = await run.journal.write_pending(changes, deltas=[units(c) for c in changes])
    slices: list[list[JournalEntry]] = []
    start = 0
    for batch in batches:
        slices.append(entries[start:start + len(batch)])
        start += len(batch)
    answers: list[_Sent | None] = [None] * len(batches)
    gate = asyncio.Semaphore(CALLS_IN_FLIGHT)

    async def send(index: int) -> None:
        async with gate:
            if stop is not None and stop.is_set():
                return
            answers[index] = await _send(run, batches[index], slices[index])

    async with task_group() as group:
        for index in range(len(batches)):
            group.create_task(send(index), name=f"wix v1 delta call {index + 1}")
    unsent = [i for i, answer in enumerate(answers) if answer is None]
    if unsent:
        run.log.info("deltas_stopped", unsent_calls=len(unsent))
        for i in unsent:
            for change in batches[i]:
                run.tally(run.unsent, change)
        await run.journal.settle([e for i in unsent for e in slices[i]], Outcome.FAILED,
                                 error="not sent: stop requested")
    return [answer for answer in answers if answer is not None]


async def _send(run: _Run, batch: list[StockChange], entries: list[JournalEntry]) -> _Sent:
    """Send one journaled call, once."""
    deltas = [StockDelta(c.variant.product_id, c.variant.variant_id, e.delta or 0)
              for c, e in zip(batch, entries, strict=True)]
    run.count("adjust_calls")
    try:
        await adjust_inventory(run.store.client, deltas)
    except WixAuthError:
        raise  # left pending: the next run that can read the store settles it
    except WixClientError as exc:
        run.count("refused_calls")
        run.log.warning("delta_call_refused", entries=len(batch), error=str(exc)[:300],
                        code=exc.code)
        return _Sent(batch, entries, Answer.REFUSED)
    except WixUnavailable as exc:  # no answer: it may have landed, or may land later
        run.count("unknown_calls")
        run.log.warning("delta_call_lost", entries=len(batch), error=str(exc)[:300])
        return _Sent(batch, entries, Answer.LOST)
    except WixError as exc:  # 5xx or 429: it may have landed
        run.count("unknown_calls")
        run.log.warning("delta_call_unknown", entries=len(batch), error=type(exc).__name__)
        return _Sent(batch, entries, Answer.UNKNOWN)
    return _Sent(batch, entries, Answer.ACCEPTED)


async def _verify(run: _Run, sent: Sequence[_Sent], fallback: list[StockChange]
                  ) -> list[StockChange]:
    """Re-read the products the calls touched, settle every delta, and sort what remains
    into the next round (returned) and the absolute path (``fallback``)."""
    products = sorted({c.variant.product_id for s in sent for c in s.changes})
    try:
        fresh = await run.store.refresh(product_ids=products)
    except WixAuthError:
        raise
    except WixError as exc:
        # Left pending in the journal: whether they landed is for the next run to read.
        run.log.warning("delta_verify_failed", products=len(products), error=str(exc)[:300])
        for s in sent:
            for change in s.changes:
                run.tally(run.failed, change, "re-read after the delta failed: outcome unknown")
        return []
    run.count("verify_calls", fresh.api_calls)
    current = {(v.product_id, v.variant_id): v for v in fresh.variants}
    settlements: list[Settlement] = []
    again: list[StockChange] = []
    for s in sent:
        for change, entry in zip(s.changes, s.entries, strict=True):
            now = current.get((change.variant.product_id, change.variant.variant_id))
            found = verdict(entry.before.quantity, entry.after.quantity, now)
            settlements.append(_settlement(entry, found, now))
            step = next_step(s.answer, found)
            _account(run, change, found, step)
            if step is NextStep.DONE:
                continue
            assert now is not None
            if now.quantity == change.quantity:
                run.tally(run.written, change)
                continue
            redo = replace(change, variant=now)
            # A delta needs a number to start from; without one, only an absolute write.
            delta_again = step is NextStep.DELTA_AGAIN and now.quantity is not None
            (again if delta_again else fallback).append(redo)
    await run.journal.settle_each(settlements)
    return again


def _account(run: _Run, change: StockChange, found: Verdict, step: NextStep) -> None:
    if found is Verdict.CONFIRMED:
        run.count("confirmed")
        run.tally(run.written, change)
    elif found is Verdict.MISSING:
        run.tally(run.failed, change, "product or variant no longer in the store")
    elif found is Verdict.UNTRACKED:
        run.tally(run.failed, change, "the product stopped tracking quantity meanwhile")
    elif step is NextStep.DONE:  # moved by a sale after Wix accepted the call
        run.count("moved")
        run.tally(run.written, change)
    elif step is NextStep.DELTA_AGAIN:
        run.count("replanned")
    else:
        run.count("not_applied" if found is Verdict.NOT_APPLIED else "moved")


def _settlement(entry: JournalEntry, found: Verdict, now: StoreVariant | None) -> Settlement:
    if found is Verdict.CONFIRMED:
        return Settlement(entry, Outcome.APPLIED, "confirmed by re-read")
    if found is Verdict.NOT_APPLIED:
        return Settlement(entry, Outcome.FAILED, "not applied: the re-read holds the value "
                          "before")
    if found is Verdict.MISSING:
        return Settlement(entry, Outcome.FAILED, "not applied: product or variant gone")
    held = "untracked" if now is None or not now.tracked else str(now.quantity)
    return Settlement(entry, Outcome.UNKNOWN, f"moved since it was read: the re-read holds "
                      f"{held}")


class OpenWrites:
    """The writes of one site's journal that no outcome has settled, kept between cycles
    by reading only what was appended since the last look (``Journal.read_since``), so a
    daemon's cycle costs what the last cycles wrote, not the journal's whole history."""

    def __init__(self) -> None:
        self._open: dict[str, JournalEntry] = {}
        self._position: object | None = None

    async def read(self, journal: Journal) -> list[JournalEntry]:
        """The open writes now, as ``unsettled`` over the whole journal would say."""
        tail = await journal.read_since(self._position)
        if tail.restarted:
            self._open.clear()
        follow_open(self._open, tail.entries)
        self._position = tail.position
        return list(self._open.values())


async def settle_open_deltas(*, store: StoreAdapter, journal: Journal, log: Log,
                             open_writes: OpenWrites | None = None) -> int:
    """Settle, by a re-read, every delta an earlier run journaled but never settled (a
    kill, a shutdown, a failed re-read); returns how many. The journal is read where this
    run writes it (the file, or the database): all of it, or with ``open_writes`` what
    was appended since the site's last cycle. Nothing is sent again: the cycle that
    follows plans from what the store holds."""
    entries = (await open_writes.read(journal) if open_writes is not None
               else unsettled(await journal.read_site()))
    open_deltas = [e for e in entries if e.delta is not None and e.run_id != journal.run_id]
    if not open_deltas:
        return 0
    try:
        fresh = await store.refresh(product_ids=sorted({e.product_id for e in open_deltas}))
    except WixAuthError:
        raise
    except WixError as exc:
        log.warning("open_deltas_unreadable", deltas=len(open_deltas), error=str(exc)[:300])
        return 0
    current = {(v.product_id, v.variant_id): v for v in fresh.variants}
    settlements = []
    for e in open_deltas:
        now = current.get((e.product_id, e.variant_id))
        settlements.append(_settlement(e, verdict(e.before.quantity, e.after.quantity, now),
                                       now))
    await journal.settle_each(settlements)
    log.info("open_deltas_settled", deltas=len(open_deltas),
             confirmed=sum(s.outcome is Outcome.APPLIED for s in settlements))
    return len(open_deltas)


def _merge(plan: Plan, run: _Run, absolute: ApplyReport, account: DeltaAccount
           ) -> ApplyReport:
    """One report over both paths, per product in plan order."""
    by_product = {a.product_id: a for a in absolute.products}
    accounts: list[ProductAccount] = []
    for pid, group in plan.by_product().items():
        other = by_product.get(pid)
        written = run.written.get(pid, 0) + (other.written if other else 0)
        failed = run.failed.get(pid, 0) + (other.failed if other else 0)
        unsent = run.unsent.get(pid, 0) + (other.not_attempted if other else 0)
        errors = tuple(run.errors.get(pid, ())) + (other.errors if other else ())
        accounts.append(ProductAccount(pid, group[0].variant.product_name, written, failed,
                                       unsent, errors))
    return ApplyReport(
        written=sum(a.written for a in accounts), failed=sum(a.failed for a in accounts),
        not_attempted=sum(a.not_attempted for a in accounts),
        conflict_retries=absolute.conflict_retries, products=tuple(accounts), deltas=account)
