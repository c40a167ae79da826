"""The soak benchmark's end check and restart bookkeeping: what counts as a store equal to
its source, and which of the daemon's writes are stamped again after a restart."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.bench.bench_soak import measure, written_since
from tests.bench.soak_world import differences, write_source


def row(sku: str, quantity: int | None, *, tracked: bool = True) -> dict[str, object]:
    return {"sku": sku, "quantity": quantity, "tracked": tracked}


def test_a_store_is_exact_only_when_every_source_sku_is_tracked_at_its_quantity():
    rows = [row("A", 5), row("B", 7), row("C", None, tracked=False), row("D", 1)]
    assert differences(rows, {"A": 5, "B": 7}) == []
    # A wrong quantity, an untracked variant and a SKU the store lacks all differ; a
    # variant the source does not name (D) is none of the check's business.
    assert differences(rows, {"A": 4, "C": 3, "Z": 1}) == ["A", "C", "Z"]


def test_only_the_journals_recent_writes_are_stamped_again(tmp_path):
    now = datetime.now(UTC)
    lines = [
        {"product_id": "p1", "variant_id": "v1", "time": (now - timedelta(minutes=10))
         .isoformat().replace("+00:00", "Z")},
        {"product_id": "p2", "variant_id": "v2", "time": (now - timedelta(seconds=30))
         .isoformat().replace("+00:00", "Z")},
    ]
    journal = tmp_path / "v1.jsonl"
    journal.write_text("".join(json.dumps(x) + "\n" for x in lines) + "{torn line\n")
    assert written_since(journal, 120) == {("p2", "v2")}
    assert written_since(tmp_path / "missing.jsonl", 120) == set()


def test_a_source_is_replaced_whole(tmp_path):
    path = tmp_path / "stock.csv"
    write_source(path, {"A": 1, "B": 2})
    assert path.read_text() == "sku,quantity\nA,1\nB,2\n"
    assert not list(tmp_path.glob("*.part"))


def test_the_journal_is_measured_with_its_closed_segments_but_not_their_index(tmp_path):
    segments = tmp_path / "journal" / "v1.jsonl.d"
    segments.mkdir(parents=True)
    (tmp_path / "journal" / "v1.jsonl").write_text("a\nb\n")
    (segments / "000001.jsonl").write_text("c\n")
    (segments / "index.jsonl").write_text("summary\n")
    (tmp_path / "v1.state.json").write_text("{}")
    rss_kb, fds, journal_bytes, journal_lines, state_bytes = measure(os.getpid(), tmp_path)
    assert (journal_bytes, journal_lines, state_bytes) == (14, 3, 16)
    assert rss_kb > 0 and fds > 0
