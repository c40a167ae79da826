"""Sources parsed in worker processes read exactly as in a thread, and the workers are owned."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from support.agency import running
from support.faults import API_KEY, KEY_ENV, write_site
from syncd.base.errors import ConfigError
from syncd.edges.config import SourceFormat, SourceSettings, load_settings
from syncd.edges.config.feed import FeedSettings
from syncd.edges.config.fleet import FleetSettings
from syncd.edges.config.secrets import Secret
from syncd.edges.sources.cache import SourceCache
from syncd.edges.sources.parsers import SourceParsers, parse_file
from syncd.edges.sources.rows import InvalidRowsError

ROWS = "sku,quantity\n" + "".join(f"SKU-{n},{n % 17}\n" for n in range(500))


def settings(path: Path, **kwargs: object) -> SourceSettings:
    return SourceSettings(path=path, format=SourceFormat.CSV, **kwargs)  # type: ignore[arg-type]


async def gone(pids: list[int]) -> bool:
    for _ in range(200):
        if not any(running(pid) for pid in pids):
            return True
        await asyncio.sleep(0.05)
    return False


async def test_a_source_parsed_in_a_worker_process_reads_as_in_a_thread(tmp_path):
    path = tmp_path / "stock.csv"
    path.write_text(ROWS)
    expected = parse_file(settings(path))

    async with SourceParsers(1) as parsers:
        parsed = await parsers.parse(settings(path))
        workers = parsers.worker_pids()

    assert workers and os.getpid() not in workers
    assert list(parsed.source.rows) == list(expected.source.rows)
    assert parsed.source.digest() == expected.source.digest()
    assert parsed.before == expected.before and parsed.unchanged
    assert parsed.source.rows.sku_column() is not parsed.source.rows.sku_column()  # packed


async def test_bad_rows_found_by_a_worker_come_back_with_file_line_and_field(tmp_path):
    path = tmp_path / "stock.csv"
    path.write_text("sku,quantity\nA,1\nB,many\nC,-2\n")

    async with SourceParsers(1) as parsers:
        with pytest.raises(InvalidRowsError) as refused:
            await parsers.parse(settings(path))

    assert [(e.line, e.field) for e in refused.value.errors] == [(3, "quantity"), (4, "quantity")]
    assert f"{path}:3: quantity: 'many' is not a whole number" in str(refused.value)


async def test_a_feed_copy_is_parsed_by_a_worker_under_the_feeds_name(tmp_path):
    copy = tmp_path / "feed-body"
    copy.write_text("sku,quantity\nA,1\n")
    feed = FeedSettings(url="https://feeds.example.com/stock.csv?sig=abc",
                        secret=Secret("a-token-that-never-leaves"))
    source = settings(tmp_path / "unused.csv", feed=feed)

    async with SourceParsers(1) as parsers:
        parsed = await parsers.parse(source, copy)

    assert parsed.source.path == "https://feeds.example.com/stock.csv"
    assert [(r.sku, r.quantity) for r in parsed.source.rows] == [("A", 1)]


async def test_a_dead_worker_is_replaced_and_the_source_still_read(tmp_path):
    path = tmp_path / "stock.csv"
    path.write_text(ROWS)
    async with SourceParsers(1) as parsers:
        await parsers.parse(settings(path))
        first = parsers.worker_pids()
        for pid in first:
            os.kill(pid, signal.SIGKILL)
        assert await gone(first)

        parsed = await parsers.parse(settings(path))  # the pool is found broken here
        again = await parsers.parse(settings(path))  # and started again here

        now = parsers.worker_pids()
        assert parsers.lost == 1, (parsers.lost, first, now)
        assert len(parsed.source.rows) == len(again.source.rows) == 500
        assert now and not set(now) & set(first), (first, now)


async def test_closing_the_parsers_stops_their_workers(tmp_path):
    path = tmp_path / "stock.csv"
    path.write_text(ROWS)
    parsers = SourceParsers(2)
    await asyncio.gather(*(parsers.parse(settings(path)) for _ in range(4)))
    workers = parsers.worker_pids()
    assert workers

    await parsers.close()

    assert await gone(workers)
    assert parsers.worker_pids() == []


async def test_a_cache_with_worker_parsers_keeps_an_unchanged_source(tmp_path):
    path = tmp_path / "stock.csv"
    path.write_text(ROWS)
    async with SourceParsers(1) as parsers:
        cache = SourceCache(parsers)
        first = await cache.read(settings(path))
        second = await cache.read(settings(path))

        path.write_text("sku,quantity\nA,9\n")
        third = await cache.read(settings(path))

    assert second is first and cache.hits == 1
    assert [(r.sku, r.quantity) for r in third.rows] == [("A", 9)]


@pytest.mark.parametrize(("configured", "sites", "cores", "expected"), [
    (None, 257, 2, 1),   # auto: a fleet that spreads its first round, another core
    (None, 256, 2, 0),   # auto: a smaller fleet parses in a thread
    (None, 5000, 1, 0),  # auto: no other core to parse on
    (0, 5000, 8, 0),
    (3, 1, 1, 3),
])
def test_auto_uses_a_worker_only_for_a_large_fleet_with_a_spare_core(
        monkeypatch, configured, sites, cores, expected):
    from syncd.cycle import wiring

    monkeypatch.setattr(wiring.os, "sched_getaffinity", lambda _pid: set(range(cores)))
    fleet = FleetSettings(source_processes=configured)

    assert wiring.source_processes(fleet, sites) == expected


@pytest.mark.parametrize(("written", "read"), [("auto", None), ("0", 0), ("2", 2)])
def test_source_processes_is_read_from_the_configuration(tmp_path, written, read):
    files = write_site(tmp_path, url="http://127.0.0.1:9", desired={"SKU-1": 1})
    files.config.write_text(f"source_processes: {written}\n" + files.config.read_text())

    settings = load_settings(files.config, env={KEY_ENV: API_KEY})

    assert settings.fleet.source_processes == read


@pytest.mark.parametrize("written", ["many", "-1", "65", "²"])
def test_a_bad_source_processes_names_the_file_line_and_key(tmp_path, written):
    files = write_site(tmp_path, url="http://127.0.0.1:9", desired={"SKU-1": 1})
    files.config.write_text(f"source_processes: {written}\n" + files.config.read_text())

    with pytest.raises(ConfigError) as refused:
        load_settings(files.config, env={KEY_ENV: API_KEY})

    assert (f"{files.config}:1: source_processes: must be auto or a whole number within "
            f"0..64, not '{written}'") in str(refused.value)


KILLED_OWNER = """
import asyncio, os, signal, sys
from pathlib import Path
from syncd.edges.config import SourceSettings
from syncd.edges.sources.parsers import SourceParsers

async def main():
    parsers = SourceParsers(1)
    await parsers.parse(SourceSettings(path=Path(sys.argv[1])))
    (worker,) = parsers.worker_pids()
    with open(f"/proc/{worker}/stat") as stat:
        server = int(stat.read().rsplit(")", 1)[1].split()[1])
    print(worker, server, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

if __name__ == "__main__":
    asyncio.run(main())
"""


async def test_workers_of_a_process_killed_with_sigkill_exit_too(tmp_path):
    path = tmp_path / "stock.csv"
    path.write_text(ROWS)
    script = tmp_path / "owner.py"
    script.write_text(KILLED_OWNER)
    owner = await asyncio.create_subprocess_exec(
        sys.executable, str(script), str(path), stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(owner.communicate(), 60)
    assert owner.returncode == -signal.SIGKILL
    worker, server = (int(pid) for pid in out.split())
    assert worker != server

    assert await gone([worker, server])
