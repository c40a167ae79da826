"""Measurement: memory a feed's parse takes per byte of the feed, for each format.

Not a test (pytest does not collect bench_*.py). Run:

    .venv/bin/python tests/bench/bench_feed_memory.py               # 200,000 rows
    .venv/bin/python tests/bench/bench_feed_memory.py --rows 50000

For CSV, JSON lines, YAML and XLSX, a feed of ``--rows`` rows shaped like a supplier's export
(``sku,quantity``, SKUs of 8 to 16 characters) is written to a temporary file and read with
``load_desired``, the reader a cycle uses; ``tracemalloc``'s peak over that read (the
result kept alive, as a cycle keeps it for the plan) divided by the file's size is the
factor printed. ``PARSE_BYTES_PER_FEED_BYTE`` (syncd/edges/config/feed.py) is the largest
factor rounded up with some headroom; tests/deploy/test_feed_sizes.py checks that the
shipped manifests leave room for a feed at the default cap times that factor.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import tracemalloc
from pathlib import Path

from syncd.edges.config import SourceFormat, SourceSettings
from syncd.edges.sources import load_desired


def _rows(count: int) -> list[tuple[str, int]]:
    rng = random.Random(7)
    return [(f"SUP-{i:0{rng.randint(4, 12)}d}", rng.randint(0, 500)) for i in range(count)]


def _write(path: Path, fmt: SourceFormat, rows: list[tuple[str, int]]) -> None:
    if fmt is SourceFormat.CSV:
        path.write_text("sku,quantity\n" + "".join(f"{s},{q}\n" for s, q in rows))
    elif fmt is SourceFormat.YAML:
        path.write_text("".join(f"- {{sku: {s}, quantity: {q}}}\n" for s, q in rows))
    elif fmt is SourceFormat.JSONL:
        path.write_text("".join(json.dumps({"sku": s, "quantity": q}) + "\n" for s, q in rows))
    else:
        import openpyxl

        book = openpyxl.Workbook(write_only=True)
        sheet = book.create_sheet()
        sheet.append(["sku", "quantity"])
        for row in rows:
            sheet.append(list(row))
        book.save(path)


def measure(fmt: SourceFormat, count: int, directory: Path) -> tuple[int, int, int]:
    """(file bytes, peak bytes allocated while parsing it, bytes the parsed rows hold)."""
    path = directory / f"feed.{fmt.value}"
    _write(path, fmt, _rows(count))
    source = SourceSettings(path=path, format=fmt)
    tracemalloc.start()
    desired = load_desired(source)
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(desired.rows) == count
    return path.stat().st_size, peak, held


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print("| format | rows | file (MiB) | parse peak (MiB) | peak per feed byte "
              "| rows held per feed byte |")
        print("|---|---|---|---|---|---|")
        for fmt in (SourceFormat.CSV, SourceFormat.JSONL, SourceFormat.YAML, SourceFormat.XLSX):
            size, peak, held = measure(fmt, args.rows, Path(tmp))
            print(f"| {fmt.value} | {args.rows:,} | {size / 2**20:.1f} | {peak / 2**20:.1f} "
                  f"| {peak / size:.1f} | {held / size:.1f} |")


if __name__ == "__main__":
    main()
