"""Sub-commands that work on a configuration file (``validate``, and the sync commands).

Each module here exposes ``register(subparsers)`` for ``syncd.cli``. ``add_config_option``
gives every such command the same ``--config`` option and default.
"""

from __future__ import annotations

import argparse
import os

DEFAULT_CONFIG = "syncd.yaml"
ENV_CONFIG = "SYNCD_CONFIG"


def add_config_option(parser: argparse.ArgumentParser) -> None:
    """``--config FILE``, defaulting to $SYNCD_CONFIG, then ./syncd.yaml."""
    parser.add_argument(
        "--config", "-c", metavar="FILE",
        default=os.environ.get(ENV_CONFIG, DEFAULT_CONFIG),
        help=f"the configuration file (default: ${ENV_CONFIG}, else ./{DEFAULT_CONFIG}); "
             "see docs/configuration.md")
