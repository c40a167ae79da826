"""syncd: keep a Wix store's inventory equal to a source of truth.

The package is layered so that dependencies point one way:

    model, errors          values and the exception tree (import nothing from syncd)
    sources, diff, guards  parse sources, plan changes (pure, synchronous)
    wix                    HTTP client, rate limit, walkers and writes
    apply, journal, sync   one sync cycle: walk -> plan -> guard -> apply
    daemon                 the long-running loop around cycles
    cli                    the entry point that wires it all together
    emulator               an offline Wix Stores emulator (depends on nothing above it)
"""

__version__ = "0.1.0"
