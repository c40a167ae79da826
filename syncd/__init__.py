"""syncd: keep a Wix store's inventory equal to a source of truth.

The package is layered so that dependencies point one way. Each layer is a package; a
layer may import the layers below it, never those above (the contracts in pyproject.toml,
checked by ``lint-imports``, fail on an import that points up; tests/test_layers.py fails
when this map and those contracts disagree). Top first:

    frontends    the daemon, its web console, plans as text and JSON, the sub-commands, the CLI
    cycle        one sync cycle (walk -> plan -> guard -> apply), the site's client, progress
    apply        making a plan's writes: the applier for every write, absolute writes, settling
    edges        the outside world: configuration, sources and feeds, the Wix client, state
    core         pure and synchronous: plans, policy, the planners, guards, journal records
    base         values, the exception tree, redaction, text positions, YAML nodes

The offline Wix emulator is the sibling package ``syncd_emulator``: it imports only the
base layer, and only the commands start it.
"""

__version__ = "0.1.0"
