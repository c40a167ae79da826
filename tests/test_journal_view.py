"""The journal by run: each write counted once, under its latest outcome, for the run that
sent it, even when a later run settled it."""

from __future__ import annotations

from test_journal import Clock, change

from syncd.core.journal import Outcome, Settlement
from syncd.core.journal_view import open_writes, run_writes, runs
from syncd.edges.backend.local.journal import file_journal, journal_path, read_journal


async def test_runs_count_each_write_once_under_its_latest_outcome(tmp_path):
    a = file_journal(journal_path(tmp_path, "demo"), site="demo", run_id="run-a", clock=Clock())
    async with a:
        w1, w2, w3, w4, w5 = await a.write_pending(
            [change(s, 1, 2) for s in ("S1", "S2", "S3", "S4", "S5")], deltas=[1] * 5)
        await a.settle_each([Settlement(w1, Outcome.CONFLICT), Settlement(w2, Outcome.UNKNOWN),
                             Settlement(w3, Outcome.NOT_SENT)])
        await a.settle([w1], Outcome.APPLIED)  # the same write, answered later
    b = file_journal(journal_path(tmp_path, "demo"), site="demo", run_id="run-b", clock=Clock(),
                         rollback_of="run-a")
    async with b:
        await b.settle([w4], Outcome.FAILED)  # a later run settles run-a's open delta
        (b1,) = await b.write_pending([change("S1", 2, 1)])
        await b.settle([b1], Outcome.APPLIED)
    entries = list(read_journal(tmp_path / "journal" / "demo.jsonl"))

    by_run = {r.run_id: r for r in runs(entries)}
    assert list(by_run) == ["run-a", "run-b"]
    assert by_run["run-a"].outcomes == {Outcome.APPLIED: 1, Outcome.UNKNOWN: 1,
                                        Outcome.NOT_SENT: 1, Outcome.FAILED: 1,
                                        Outcome.PENDING: 1}
    assert by_run["run-a"].rollback_of is None and by_run["run-a"].writes == 5
    assert by_run["run-b"].outcomes == {Outcome.APPLIED: 1}
    assert by_run["run-b"].rollback_of == "run-a"
    assert [w.pending.write_id for w in open_writes(entries)] == [w5.write_id]
    shown = run_writes(entries, "run-a")
    assert shown is not None and [w.pending.sku for w in shown] == ["S1", "S2", "S3", "S4",
                                                                   "S5"]
    assert shown[3].outcome is Outcome.FAILED and shown[3].settled_at is not None
    assert run_writes(entries, "run-c") is None
    assert by_run["run-a"].to_dict()["pending"] == 1


async def test_an_open_write_replaced_by_a_later_applied_write_of_its_variant_is_settled(
    tmp_path
):
    """A killed run's write that a later run wrote over (applied) leaves the open list and
    counts as settled; one whose variant nothing wrote since stays open."""
    killed = file_journal(journal_path(tmp_path, "demo"), site="demo", run_id="killed",
                          clock=Clock())
    async with killed:
        _replaced, untouched = await killed.write_pending([change("S1", 5, 7),
                                                          change("S2", 5, 7)])
    later = file_journal(journal_path(tmp_path, "demo"), site="demo", run_id="later",
                         clock=Clock())
    async with later:
        (failed,) = await later.write_pending([change("S2", 5, 7)])
        await later.settle([failed], Outcome.FAILED)  # a failed write replaces nothing
        (again,) = await later.write_pending([change("S1", 5, 7)])
        await later.settle([again], Outcome.APPLIED)
    entries = list(read_journal(tmp_path / "journal" / "demo.jsonl"))

    assert [w.pending.write_id for w in open_writes(entries)] == [untouched.write_id]
    shown = run_writes(entries, "killed")
    assert shown is not None
    assert shown[0].outcome is Outcome.SETTLED and shown[0].note is not None
    assert again.write_id in shown[0].note
    assert runs(entries)[0].outcomes == {Outcome.SETTLED: 1, Outcome.PENDING: 1}
