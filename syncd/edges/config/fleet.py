"""How a daemon runs many sites: a directory of site files, a cap on cycles at once, and
where the state lives (a local directory, or PostgreSQL shared by several replicas).

Part of the configuration schema (``Settings.fleet``); the loader takes its defaults from
these classes. ``read_sites_dir`` reads the directory of one-file-per-site.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import TypeVar

import yaml

from syncd.base import yamlnodes
from syncd.base.errors import ConfigError
from syncd.core.retention import DEFAULT_RETENTION_DAYS
from syncd.edges.config.errorlist import ErrorList
from syncd.edges.config.reader import MapReader
from syncd.edges.config.secrets import Secret, dsn_file_path, read_dsn_file, register_dsn

ENV_DATABASE_URL = "SYNCD_DATABASE_URL"
"""The PostgreSQL DSN (``postgresql://user:pass@host/db``); never written in the file."""

ENV_REPLICA_ID = "SYNCD_REPLICA_ID"
"""This replica's name in the lease table and logs (default: host name and pid)."""

SITE_FILE_SUFFIXES = (".yaml", ".yml")

FLEET_KEYS = ("sites_dir", "max_concurrent_cycles", "spread_first_round_above",
              "source_processes", "state_backend", "lease_ttl_seconds", "journal_retention_days",
              "dsn_file")
"""The top-level keys read here."""


class StateBackendKind(StrEnum):
    LOCAL = "local"
    """Journal, run state and locks in ``state_dir`` (one machine, the default)."""
    POSTGRES = "postgres"
    """Journal, run state and site leases in PostgreSQL, shared by every replica."""


@dataclass(frozen=True, slots=True)
class FleetSettings:
    """Many sites in one process, and several processes on one database."""

    sites_dir: Path | None = None
    """A directory of one YAML file per site (the keys of a ``sites`` entry; ``name``
    defaults to the file's stem), read with the main file and again on every SIGHUP."""

    max_concurrent_cycles: int = 32
    """Cycles running at once across all sites. Each site is paced by its own Wix budget,
    so most of a cycle is waiting; 32 keeps memory and CPU flat with a thousand sites while
    a slow site only ever holds one of the slots."""

    spread_first_round_above: int = 256
    """With more sites than this (and than ``max_concurrent_cycles``), each site's first
    cycle runs at a stable offset within the first 90% of one schedule period (a hash of its
    name) instead of every site queueing for the slots at start-up. 256: a fleet of a few
    dozen stores gets its first round done within a few cycle lengths anyway, and spreading
    it over the period would only delay first syncs; a thousand stores would queue for
    minutes."""

    source_processes: int | None = None
    """Worker processes that parse the sites' source files, off the event loop's core;
    0 parses them in a thread. None (``auto``): one when there are more sites than
    ``spread_first_round_above`` and the machine has more than one core, else 0."""

    backend: StateBackendKind = StateBackendKind.LOCAL
    """Where the journal, run state, source digests and site ownership live."""

    database_url: Secret | None = field(default=None, repr=False)
    """The PostgreSQL DSN (from ``SYNCD_DATABASE_URL`` or the file ``dsn_file``); required
    with ``postgres``. It and its password are registered for redaction."""

    replica_id: str = ""
    """This process's name among the replicas (``SYNCD_REPLICA_ID``; with ``postgres``
    host:pid by default), sent as ``x-syncd-replica`` with every request when set."""

    lease_ttl_s: float = 15.0
    """A replica that stops heartbeating loses its sites after this long: kill -9 of a
    replica hands its stores to the others within ~2 TTLs."""

    journal_retention_days: int = DEFAULT_RETENTION_DAYS
    """Journal history older than this many days is dropped by compaction (``syncd
    journal --compact``, and the daemon once a day), except unsettled writes and the run
    ``syncd rollback`` undoes. 90 days keeps a season of rollback points and history."""


def default_replica_id() -> str:
    return f"{os.uname().nodename}:{os.getpid()}"


def read_fleet(m: MapReader, base: Path, env: Mapping[str, str]) -> FleetSettings:
    """The ``sites_dir``, ``max_concurrent_cycles`` and ``state_backend`` keys of the top
    level (already checked as known keys by the loader)."""
    defaults = FleetSettings()
    sites_dir = m.string("sites_dir")
    directory = base / sites_dir if sites_dir is not None else None
    if directory is not None and not directory.is_dir():
        m.fail(m.error(m.node("sites_dir"), "sites_dir", f"{directory} is not a directory"))
        directory = None
    backend = m.choice("state_backend", StateBackendKind, defaults.backend)
    url = env.get(ENV_DATABASE_URL)
    dsn = register_dsn(url) if url else None
    dsn_file = m.string("dsn_file")
    if dsn_file is not None:
        if url:
            raise m.error(m.node("dsn_file"), "dsn_file",
                          f"the DSN is also in the environment {ENV_DATABASE_URL}: give it "
                          "in one place only")
        path = dsn_file_path(dsn_file, base=base, env=env)
        try:
            dsn = read_dsn_file(path)
        except OSError as e:
            raise m.error(m.node("dsn_file"), "dsn_file",
                          f"cannot read {path}: {e.strerror or e}") from None
        except ValueError as e:
            raise m.error(m.node("dsn_file"), "dsn_file", str(e)) from None
    if backend is StateBackendKind.POSTGRES and dsn is None:
        m.fail(m.error(m.node("state_backend"), "state_backend",
                       f"postgres needs the database DSN: in the environment "
                       f"{ENV_DATABASE_URL}, or in a file named by dsn_file"))
    return FleetSettings(
        sites_dir=directory,
        max_concurrent_cycles=m.integer("max_concurrent_cycles",
                                        defaults.max_concurrent_cycles, minimum=1),
        spread_first_round_above=m.integer("spread_first_round_above",
                                           defaults.spread_first_round_above, minimum=1),
        source_processes=_source_processes(m),
        backend=backend,
        database_url=dsn,
        replica_id=env.get(ENV_REPLICA_ID) or (
            default_replica_id() if backend is StateBackendKind.POSTGRES else ""),
        lease_ttl_s=m.number("lease_ttl_seconds", defaults.lease_ttl_s, positive=True),
        journal_retention_days=m.integer("journal_retention_days",
                                         defaults.journal_retention_days, minimum=1),
    )


MAX_SOURCE_PROCESSES = 64
_DIGITS = re.compile(r"[0-9]+")


def _source_processes(m: MapReader) -> int | None:
    text = m.text("source_processes")
    if text is None or text.strip().lower() == "auto":
        return None
    if _DIGITS.fullmatch(text.strip()) and int(text) <= MAX_SOURCE_PROCESSES:
        return int(text)
    m.fail(m.error(m.node("source_processes"), "source_processes",
                   f"must be auto or a whole number within 0..{MAX_SOURCE_PROCESSES}, "
                   f"not {text!r}"))
    return None


SiteT = TypeVar("SiteT")


@dataclass(frozen=True, slots=True)
class BadSiteFile:
    """A file of ``sites_dir`` that cannot be used: its store is disabled (or, after a
    reload, keeps running its previous settings) while every other store runs."""

    name: str
    """The site's name: the file's ``name`` key when it can be read, else the file's stem."""
    path: Path
    error: str
    """``file:line: field: what is wrong``."""
    running_previous: bool = False
    """The store runs the settings its file last had while valid (set by the daemon)."""


def site_files(directory: Path) -> list[Path]:
    """The site files of ``directory`` in name order. Hidden files (editors' temporary
    copies) and other suffixes are ignored."""
    return [path for path in sorted(directory.iterdir())
            if not path.name.startswith(".") and path.suffix in SITE_FILE_SUFFIXES]


def read_site_file(path: Path, build: Callable[[MapReader, Path, str], SiteT], *,
                   errors: ErrorList | None = None) -> tuple[SiteT, str]:
    """One site file built by ``build(reader, base, default_name)``, with ``file:line``;
    with ``errors``, its reader collects its mistakes there (``MapReader``)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read: {e}") from e
    try:
        root = yamlnodes.compose(text)
    except yamlnodes.YamlSyntaxError as e:
        raise ConfigError(f"{path}:{e.line or 1}: {e.message}") from e
    if root is None:
        raise ConfigError(f"{path}:1: empty site file (give at least site_id and an "
                          "api_key_env or api_key_file)")
    return (build(MapReader(str(path), root, "", errors=errors), path.parent, path.stem),
            f"{path}:{yamlnodes.line_of(root)}")


def read_sites_dir(directory: Path, build: Callable[[MapReader, Path, str], SiteT], *,
                   errors: ErrorList | None = None) -> list[tuple[SiteT, str]]:
    """Every site file of ``directory`` in name order, built by ``build(reader, base,
    default_name)``, each with ``file:line`` for messages; the first bad file raises, or,
    with ``errors``, every file's every mistake is recorded there."""
    if errors is None:
        return [read_site_file(path, build) for path in site_files(directory)]
    read = (errors.run(partial(read_site_file, path, build, errors=errors))
            for path in site_files(directory))
    return [site for site in read if site is not None]


def read_sites_dir_per_file(
    directory: Path, build: Callable[[MapReader, Path, str], SiteT],
) -> tuple[list[tuple[SiteT, str]], list[BadSiteFile]]:
    """Like ``read_sites_dir``, but a bad file is set aside with its errors (all of them)
    instead of failing the whole directory: the daemon runs every other store."""
    good: list[tuple[SiteT, str]] = []
    bad: list[BadSiteFile] = []
    for path in site_files(directory):
        errors = ErrorList()
        site = errors.run(partial(read_site_file, path, build, errors=errors))
        try:
            errors.raise_if_any()
        except ConfigError as e:
            bad.append(BadSiteFile(site_name_of(path), path, str(e)))
        else:
            assert site is not None
            good.append(site)
    return good, bad


def site_name_of(path: Path) -> str:
    """The ``name`` a site file gives its site, if it can be read at all; else its stem."""
    try:
        root = yamlnodes.compose(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, yamlnodes.YamlSyntaxError):
        return path.stem
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == "name" and isinstance(value, yaml.ScalarNode) and value.value:
                return str(value.value)
    return path.stem
