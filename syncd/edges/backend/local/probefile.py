"""The local store of a site's probe findings: ``<state_dir>/<site>.probe.json``.

Written like the run state (``syncd.base.private_files.write_private``: a private part file,
fsynced, renamed over the old one), so readers see the old report or the new one.
"""

from __future__ import annotations

import json
from pathlib import Path

from syncd.base.errors import StateError
from syncd.base.private_files import make_private_dir, write_private
from syncd.core.findings import ProbeReport, report_from_dict, report_to_dict


def probe_path(state_dir: Path, site: str) -> Path:
    """Where the site's probe report lives."""
    return state_dir / f"{site}.probe.json"


def read_probe(state_dir: Path, site: str) -> ProbeReport | None:
    """The site's last probe report, or None when it was never probed."""
    path = probe_path(state_dir, site)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as e:
        raise StateError(f"{path}: cannot read the probe findings: {e.strerror or e}") from e
    try:
        return report_from_dict(json.loads(text))
    except (ValueError, KeyError, TypeError) as e:
        raise StateError(f"{path}: damaged probe findings ({e}); delete the file, or run "
                         "`syncd probe` again to replace it") from e


def write_probe(state_dir: Path, site: str, report: ProbeReport) -> Path:
    """Replace the site's probe report atomically; returns the file's path."""
    path = probe_path(state_dir, site)
    make_private_dir(state_dir)
    write_private(path, (json.dumps(report_to_dict(report), indent=1) + "\n").encode())
    return path
