"""Applying a plan with increment/decrement writes where they save calls (Catalog V1).

``apply_changes`` is what a sync cycle calls. It first settles the deltas an earlier run
left without an outcome (a kill, a shutdown, a failed re-read), then checks the plan
against what the journal says syncd wrote lately (``guard_writes``), parts it
(``syncd.core.deltas.split_plan``) and sends the deltas in rounds:

1. the round's deltas are journaled ``pending`` with before, delta and expected after,
   fsynced, and only then are the calls sent (up to 300 entries each, several at a time),
   each once (the client never repeats them);
2. after the round's calls, every product they touched is re-read (Query Products by
   ``id``, 100 per call) and each delta settled by what the store holds
   (``syncd.core.deltas.verdict``): confirmed (``applied``), not applied (``failed``), or moved
   by a sale since (``unknown``: the journal cannot say whether it landed). The deltas of a
   call refused with a 429 need no re-read: nothing was applied (``failed``);
3. what remains follows the table of ``syncd.core.deltas``: the deltas of a 429 go in the next
   round as they were (at most ``DELTA_ROUNDS``); everything else that is not done goes to
   the absolute path, never as a second delta: after a 5xx or no answer the first may have
   landed, and a re-read showing the value before may only be stale;
4. a delta whose call got no answer may still land, whatever the re-read shows (a read
   that lags may hold an earlier value equal to the expected one): it stays ``pending``
   until ``lost_settle_s`` after it was sent. After the rounds the run
   waits until then (``delta_answer_lost_waiting``; only when there is such a delta),
   re-reads those products and follows the table (confirmed: done; otherwise absolute),
   so no absolute write can be followed by the delta landing on top of it. A stop request
   ends the wait at once and leaves them ``pending``.

Everything that is not a delta, and what the rounds hand over, goes through
``syncd.apply.apply_plan`` (Update Inventory Variants per product). A delta whose call
was cut short by a shutdown or whose re-read failed stays ``pending`` in the journal: the
next run's first step re-reads it and settles it, and that run writes its variant only
absolutely (the walk it planned from may predate the delta). A pending delta journaled
less than ``lost_settle_s`` ago may still land: that run waits until then before it
re-reads (``open_deltas_waiting``).

What the journal says syncd wrote lately (``OpenWrites`` keeps it across a daemon's
cycles; a one-shot run reads the journal whole):

- a variant written less than ``RECENT_WRITE_S`` ago whose read does not show that write
  may have been read from a lagging ``stores-reader``: it gets no delta this cycle (an
  absolute write is right whether or not the read lags);
- an absolute write Wix accepted (``{}``) that the walk finds not in effect, planned again
  from the same value to the same value, is not sent again. Past ``RECENT_WRITE_S`` it is
  taken as ignored by Wix: reported once (the log's ``write_ignored``, the metric, ``syncd
  lint``) and marked ``ignored`` in the journal, which keeps it from being sent while the
  source's and the store's values stay the same; either one changing sends it again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import structlog

from syncd.apply.absolute import ApplyReport, ProductAccount, apply_plan
from syncd.apply.recent_writes import (
    Log,
    OpenWrites,
    WriteGuard,
    guard_writes,
    hold_repeats,
    lost_settle_s,
    settle_open_deltas,
    settlement_for,
    variant_key,
)
from syncd.base.errors import (
    StopRequested,
    WixAuthError,
    WixClientError,
    WixError,
    WixRateLimited,
    WixUnavailable,
)
from syncd.base.model import Catalog, StoreVariant
from syncd.base.pausing import wait_unless_stopped
from syncd.core.deltas import (
    Answer,
    DeltaAccount,
    NextStep,
    VariantKey,
    Verdict,
    delta_batches,
    next_step,
    split_plan,
    units,
    verdict,
)
from syncd.core.journal import (
    Journal,
    JournalEntry,
    Outcome,
    Settlement,
)
from syncd.core.plan import Plan, StockChange
from syncd.core.policy import WriteMode
from syncd.edges.wix import StoreAdapter
from syncd.edges.wix.tasks import task_group
from syncd.edges.wix.writes_delta import StockDelta, adjust_inventory

CALLS_IN_FLIGHT = 8
"""Increment/Decrement calls started at once (the site's limiter paces them further)."""

DELTA_ROUNDS = 3
"""Rounds of deltas before what still differs goes to the absolute path: a 429 now and
then costs one more call, a store that keeps refusing does not loop."""

SECOND_LOOK_S = 3.0
"""Pause before the second verification read of deltas whose first re-read settled
nothing (``_second_look``): long enough for a ``stores-reader`` that lags by seconds to
show them, so that lag costs a read per 100 products rather than a write per product."""


def journal_waves(calls: int) -> list[range]:
    """A round's calls (by index) in the groups their deltas are journaled in, one append
    and one fsync each: first as many as go out at once, then twice as many each time. The
    first call waits for the lines of a few calls rather than of the whole round (94,546
    deltas took 0.4 s), and a round of hundreds of calls costs a handful of fsyncs."""
    waves: list[range] = []
    start, size = 0, CALLS_IN_FLIGHT
    while start < calls:
        waves.append(range(start, min(start + size, calls)))
        start, size = start + size, size * 2
    return waves


@dataclass(slots=True)
class _Sent:
    """One adjust call of a round: its changes, their journal entries, Wix's answer."""

    changes: list[StockChange]
    entries: list[JournalEntry]
    answer: Answer
    settle_at: datetime | None = None
    """With no answer: the time before which the call may still land (``lost_settle_s``
    after the moment syncd gave up on it, which is after it was sent)."""

@dataclass(frozen=True, slots=True)
class _Lost:
    """A delta whose call got no answer, not yet settled: it may still land."""

    change: StockChange
    entry: JournalEntry
    settle_at: datetime

@dataclass(slots=True)
class _Run:
    """The working state of the delta path of one apply."""

    store: StoreAdapter
    journal: Journal
    log: Log
    written: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    unsent: dict[str, int] = field(default_factory=dict)
    unconfirmed: dict[str, int] = field(default_factory=dict)
    """Deltas sent whose outcome no re-read settled: left ``pending`` in the journal."""
    errors: dict[str, list[str]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    lost: list[_Lost] = field(default_factory=list)
    """Deltas of calls that got no answer, whose re-read did not settle them: followed
    only after their ``settle_at`` (``_after_lost``)."""
    verify_after_s: float = 0.0
    """Pause before the re-read that confirms a round's deltas: the read lag a probe
    measured (``syncd.core.store_hints``), so the first re-read shows them."""
    progress: Callable[[int, int], None] | None = None
    """The caller's progress callback: told how many deltas were answered as calls end."""
    total: int = 0
    answered: int = 0

    def advance(self, deltas: int) -> None:
        """``deltas`` more were sent and answered (their re-read still to come)."""
        self.answered += deltas
        if self.progress is not None:
            self.progress(min(self.answered, self.total), self.total)

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
    verify_after_s: float = 0.0,
) -> ApplyReport:
    """Write ``plan``, with deltas where ``write_mode`` says so; never raises for one
    product's failure (``WixAuthError`` goes up, as from ``apply_plan``). ``open_writes``:
    the site's record of recent and unsettled writes, kept across cycles (see
    ``OpenWrites``); without it the journal is read whole. ``verify_after_s``: how long
    to wait before re-reading sent deltas (a measured read lag; 0: at once)."""
    log = log or structlog.get_logger("syncd.apply")
    recovered: frozenset[VariantKey] = frozenset()
    guard = WriteGuard()
    if store.catalog is Catalog.V1:
        history = open_writes or OpenWrites()
        recovered = await settle_open_deltas(store=store, journal=journal, log=log,
                                             open_writes=history, stop=stop)
        guard = guard_writes(plan.changes, history.latest, now=journal.now())
        await hold_repeats(guard, journal=journal, log=log)
        history.keep(guard.held_keys)
        history.prune(journal.now())
    if guard.held:
        plan = replace(plan, changes=tuple(c for c in plan.changes
                                           if variant_key(c) not in guard.held_keys))
    split = split_plan(plan, write_mode, absolute_only=guard.absolute_only | recovered)
    if not split.deltas:
        report = await apply_plan(plan, store=store, journal=journal, stop=stop, log=log,
                                  progress=progress)
        if recovered:
            report = replace(report, deltas=DeltaAccount(recovered=len(recovered)))
        return _with_guard(report, guard)
    log.info("deltas_planned", deltas=len(split.deltas), products=split.absolute_calls_saved,
             calls=split.delta_calls, absolute=len(split.absolute))
    run = _Run(store=store, journal=journal, log=log, verify_after_s=verify_after_s,
               progress=progress, total=len(plan.changes))
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
    account = DeltaAccount(**run.counts, to_absolute=len(fallback), recovered=len(recovered))
    log.info("deltas_done", **{k: v for k, v in run.counts.items()},
             to_absolute=len(fallback))
    return _with_guard(_merge(plan, run, absolute, account), guard)

def _with_guard(report: ApplyReport, guard: WriteGuard) -> ApplyReport:
    if not guard.held:
        return report
    return replace(report, held=len(guard.held),
                   ignored_found=sum(1 for h in guard.held if h.found))

async def _delta_rounds(run: _Run, pending: list[StockChange], *,
                        stop: asyncio.Event | None) -> list[StockChange]:
    """Send, re-read and settle until nothing is left to send; returns what goes to the
    absolute path."""
    fallback: list[StockChange] = []
    for round_ in range(1, DELTA_ROUNDS + 1):
        if not pending:
            break
        sent = await _send_round(run, delta_batches(pending), stop=stop)
        if not sent:  # stopped: what was not sent is counted so
            pending = []
            break
        pending = await _verify(run, sent, fallback, stop=stop)
        run.log.info("delta_round_done", round=f"{round_}/{DELTA_ROUNDS}",
                     calls=len(sent), again=len(pending))
    fallback.extend(pending)
    if run.lost:
        fallback.extend(await _after_lost(run, stop=stop))
    return fallback

async def _send_round(run: _Run, batches: list[list[StockChange]], *,
                      stop: asyncio.Event | None) -> list[_Sent]:
    """Journal the round's deltas durably, wave by wave (``journal_waves``), and send each
    call once its wave is durable, ``CALLS_IN_FLIGHT`` at a time; a call not started when
    ``stop`` is set is not sent at all, and its deltas are settled as such."""
    if stop is not None and stop.is_set():
        for batch in batches:
            for change in batch:
                run.tally(run.unsent, change)
        return []
    slices: list[list[JournalEntry]] = [[] for _ in batches]
    waves = journal_waves(len(batches))
    durable = [asyncio.Event() for _ in waves]
    wave_of = [wave for wave, calls in enumerate(waves) for _ in calls]

    async def journal() -> None:
        # Every wave is written, also after a stop: what is not sent is then settled as
        # such, as when the whole round was journaled before its first call.
        for calls, written in zip(waves, durable, strict=True):
            changes = [c for i in calls for c in batches[i]]
            entries = await run.journal.write_pending(changes,
                                                      deltas=[units(c) for c in changes])
            start = 0
            for i in calls:
                slices[i] = entries[start:start + len(batches[i])]
                start += len(batches[i])
            written.set()

    answers: list[_Sent | None] = [None] * len(batches)
    gate = asyncio.Semaphore(CALLS_IN_FLIGHT)

    async def send(index: int) -> None:
        await durable[wave_of[index]].wait()  # never sent before its pending line is kept
        async with gate:
            if stop is not None and stop.is_set():
                return
            sent = answers[index] = await _send(run, batches[index], slices[index])
            if sent is not None and sent.answer is not Answer.RATE_LIMITED:
                run.advance(len(batches[index]))


    async with task_group() as group:
        group.create_task(journal(), name="journal of a delta round")
        for index in range(len(batches)):
            group.create_task(send(index), name=f"wix v1 delta call {index + 1}")
    unsent = [i for i, answer in enumerate(answers) if answer is None]
    if unsent:
        run.log.info("deltas_stopped", unsent_calls=len(unsent))
        for i in unsent:
            for change in batches[i]:
                run.tally(run.unsent, change)
        await run.journal.settle([e for i in unsent for e in slices[i]], Outcome.NOT_SENT,
                                 error="not sent: stop requested")
    return [answer for answer in answers if answer is not None]

async def _send(run: _Run, batch: list[StockChange],
                entries: list[JournalEntry]) -> _Sent | None:
    """Send one journaled call, once; None when a stop kept it off the wire."""
    deltas = [StockDelta(c.variant.product_id, c.variant.variant_id, e.delta or 0)
              for c, e in zip(batch, entries, strict=True)]
    run.count("adjust_calls")
    try:
        await adjust_inventory(run.store.client, deltas)
    except StopRequested:
        # Never sent (it still waited for the budget): not a call, and settled as not sent.
        run.count("adjust_calls", -1)
        return None
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
        settle_at = run.journal.now() + timedelta(seconds=lost_settle_s(run.store))
        return _Sent(batch, entries, Answer.LOST, settle_at)
    except WixRateLimited:  # refused before any work: nothing was applied
        run.count("rate_limited_calls")
        run.log.info("delta_call_rate_limited", entries=len(batch))
        return _Sent(batch, entries, Answer.RATE_LIMITED)
    except WixError as exc:  # 5xx: a gateway may say so after the call was applied
        run.count("unknown_calls")
        run.log.warning("delta_call_unknown", entries=len(batch), error=type(exc).__name__)
        # A 504 (or a 500 from a gateway that lost its upstream) may be answered while the
        # service behind it still works on the call: like no answer, it may land later.
        settle_at = run.journal.now() + timedelta(seconds=lost_settle_s(run.store))
        return _Sent(batch, entries, Answer.UNKNOWN, settle_at)
    return _Sent(batch, entries, Answer.ACCEPTED)

async def _verify(run: _Run, sent: Sequence[_Sent], fallback: list[StockChange], *,
                  stop: asyncio.Event | None = None) -> list[StockChange]:
    """Settle every delta of the round and sort what remains into the next round
    (returned: only those of 429s, as they were) and the absolute path (``fallback``).
    The products of the calls that got any other answer are re-read first, and those
    the re-read cannot settle are read once more after ``SECOND_LOOK_S``."""
    refused = [s for s in sent if s.answer is Answer.RATE_LIMITED]
    again: list[StockChange] = []
    settlements: list[Settlement] = []
    for s in refused:
        for change, entry in zip(s.changes, s.entries, strict=True):
            settlements.append(Settlement(entry, Outcome.FAILED, "not applied: refused with "
                                          "a 429"))
            _follow(run, change, next_step(s.answer, None), again, fallback)
    answered = [s for s in sent if s.answer is not Answer.RATE_LIMITED]
    products = sorted({c.variant.product_id for s in answered for c in s.changes})
    current: dict[VariantKey, StoreVariant] = {}
    if products:
        if run.verify_after_s > 0:
            run.log.info("delta_verify_waiting", seconds=run.verify_after_s,
                         reason="the store's reads lag writes (probe finding read_lag)")
            # Stopped meanwhile: read at once; the second look still follows if needed.
            await wait_unless_stopped(run.verify_after_s, stop)
        try:
            fresh = await run.store.refresh(product_ids=products)
        except WixAuthError:
            raise
        except (WixError, StopRequested) as exc:
            # Left pending in the journal: the next run settles them and writes their
            # variants only absolutely. Nothing more is sent for them in this one.
            stopped = isinstance(exc, StopRequested)
            run.log.warning("delta_verify_failed", products=len(products),
                            error=str(exc)[:300], stopped=stopped)
            why = ("sent; stopped before the re-read that confirms it" if stopped
                   else "sent; the re-read that confirms it failed")
            for s in answered:
                for change in s.changes:
                    run.tally(run.unconfirmed, change, f"{why}: left pending for the next run")
            await run.journal.settle_each(settlements)
            return again
        run.count("verify_calls", fresh.api_calls)
        current = {(v.product_id, v.variant_id): v for v in fresh.variants}
        await _second_look(run, answered, current, stop=stop)
    for s in answered:
        for change, entry in zip(s.changes, s.entries, strict=True):
            now = current.get(variant_key(change))
            found = verdict(entry.before.quantity, entry.after.quantity, now)
            if s.settle_at is not None and found not in (Verdict.MISSING,
                                                         Verdict.UNTRACKED):
                # No answer: it may still land, even when the re-read seems to show it (a
                # lagging read may hold an earlier value equal to the expected one). Left
                # pending and followed once it no longer can land (``_after_lost``).
                run.lost.append(_Lost(change, entry, s.settle_at))
                continue
            settlements.append(_conclude(run, s.answer, change, entry, now, again,
                                         fallback))
    await run.journal.settle_each(settlements)
    return again

def _conclude(run: _Run, answer: Answer, change: StockChange, entry: JournalEntry,
              now: StoreVariant | None, again: list[StockChange],
              fallback: list[StockChange]) -> Settlement:
    """Settle one delta by what the re-read found (``now``) and put what remains where the
    table says; returns its journal settlement."""
    found = verdict(entry.before.quantity, entry.after.quantity, now)
    step = next_step(answer, found)
    _account(run, change, found, step)
    if step is not NextStep.DONE:  # else nothing follows: ``_account`` counted it
        if now is not None and now.quantity == change.quantity:
            run.tally(run.written, change)
        else:
            _follow(run, change if now is None else replace(change, variant=now), step,
                    again, fallback)
    return settlement_for(entry, found, now)

async def _after_lost(run: _Run, *, stop: asyncio.Event | None) -> list[StockChange]:
    """Follow the deltas of calls that got no answer once they can no longer land: wait
    until the last one's ``settle_at`` (not at all when it has passed), re-read their
    products and follow the table; returns what goes to the absolute path. A stop request
    ends the wait at once and leaves them ``pending`` in the journal: the next run settles
    them (``settle_open_deltas``), no sooner than they can no longer land."""
    lost, run.lost = run.lost, []
    until = max(h.settle_at for h in lost)
    wait_s = (until - run.journal.now()).total_seconds()
    if wait_s > 0:
        run.count("lost_waits", len(lost))
        run.log.info("delta_answer_lost_waiting", deltas=len(lost), seconds=round(wait_s, 1),
                     until=until.isoformat(),
                     reason="their calls got no answer and may still land: no write "
                            "follows them before")
        if not await wait_unless_stopped(wait_s, stop):
            run.log.info("delta_answer_lost_left_pending", deltas=len(lost),
                         reason="stop requested: the next run settles them")
            for h in lost:
                run.tally(run.unconfirmed, h.change, "sent, no answer, and stopped before "
                          "it could settle: left pending for the next run")
            return []
    products = sorted({h.change.variant.product_id for h in lost})
    try:
        fresh = await run.store.refresh(product_ids=products)
    except WixAuthError:
        raise
    except (WixError, StopRequested) as exc:  # left pending: the next run settles them
        run.log.warning("delta_verify_failed", products=len(products), error=str(exc)[:300],
                        stopped=isinstance(exc, StopRequested))
        for h in lost:
            run.tally(run.unconfirmed, h.change, "sent; the re-read that confirms it did "
                      "not happen: left pending for the next run")
        return []
    run.count("verify_calls", fresh.api_calls)
    current = {(v.product_id, v.variant_id): v for v in fresh.variants}
    again: list[StockChange] = []  # stays empty: only a 429 sends a delta again
    fallback: list[StockChange] = []
    await run.journal.settle_each(
        [_conclude(run, Answer.LOST, h.change, h.entry, current.get(variant_key(h.change)), again,
                   fallback) for h in lost])
    return fallback

async def _second_look(run: _Run, answered: Sequence[_Sent],
                       current: dict[VariantKey, StoreVariant], *,
                       stop: asyncio.Event | None) -> None:
    """Read again, after a pause, the products of deltas whose re-read settles nothing
    (it holds the value before, or a sale's, after an answer that proves nothing), and
    update ``current`` with what it finds. A read that lags only shows old values: if
    this one shows a delta in place, it is; otherwise the delta still goes to the absolute
    path. Costs one read per 100 such products instead of one write per product."""
    products: set[str] = set()
    for s in answered:
        if s.answer in (Answer.REFUSED, Answer.LOST):  # a lost one waits (``_after_lost``)
            continue
        for change, entry in zip(s.changes, s.entries, strict=True):
            found = verdict(entry.before.quantity, entry.after.quantity,
                            current.get(variant_key(change)))
            if found in (Verdict.NOT_APPLIED, Verdict.MOVED) \
                    and next_step(s.answer, found) is NextStep.ABSOLUTE:
                products.add(change.variant.product_id)
    doubtful = sorted(products)
    if not doubtful:
        return
    if not await wait_unless_stopped(SECOND_LOOK_S, stop):
        return
    try:
        fresh = await run.store.refresh(product_ids=doubtful)
    except WixAuthError:
        raise
    except (WixError, StopRequested) as exc:  # the first look stands: the absolute path
        # is safe anyway (and after a stop sends nothing)
        run.log.warning("delta_second_look_failed", products=len(doubtful),
                        error=str(exc)[:300])
        return
    run.count("verify_calls", fresh.api_calls)
    run.count("second_looks", len(doubtful))
    current.update({(v.product_id, v.variant_id): v for v in fresh.variants})

def _follow(run: _Run, change: StockChange, step: NextStep, again: list[StockChange],
            fallback: list[StockChange]) -> None:
    """Put ``change`` where ``step`` says: the next round (the same delta, planned from the
    value it was planned from, only after a 429) or the absolute path (planned value)."""
    if step is NextStep.DELTA_AGAIN:
        run.count("replanned")
        again.append(change)
    elif step is NextStep.ABSOLUTE:
        # Idempotent: right whether or not the delta landed, whatever the read showed.
        fallback.append(change)

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
    else:
        run.count("not_applied" if found is Verdict.NOT_APPLIED else "moved")

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
                                       unsent, errors,
                                       unconfirmed=run.unconfirmed.get(pid, 0)))
    return ApplyReport(
        written=sum(a.written for a in accounts), failed=sum(a.failed for a in accounts),
        not_attempted=sum(a.not_attempted for a in accounts),
        unconfirmed=sum(a.unconfirmed for a in accounts),
        conflict_retries=absolute.conflict_retries, products=tuple(accounts), deltas=account,
        interrupted=absolute.interrupted)
