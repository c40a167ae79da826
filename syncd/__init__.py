"""syncd: keep a Wix store's inventory equal to a source of truth.

The package is layered so that dependencies point one way (bottom first; the contracts in
pyproject.toml, checked by ``lint-imports``, fail on an import that points up):

    model, errors, logs, yamlnodes     values, the exception tree, redaction, YAML nodes
    plan, policy                       what a plan holds; how a source is applied
    config                             the configuration schema, secrets and loader
    feeds                              fetching remote sources into local copies
    sources, diff, guards, wix         readers, the pure planner, guards, the Wix client
                                       (none of them imports another)
    journal, metrics, incremental      the write journal, metrics, timestamp reads
    apply, rollback, explain, lint,    making a plan's writes; planning an undo; why a SKU
    backend, journalview               says what it says; what in a store stops a sync;
                                       the only door to state (local files or PostgreSQL);
                                       the journal by run, for the operator
    sync                               one sync cycle: walk -> plan -> guard -> apply
    endings                            how a cycle ended, for the daemon and the commands
    daemon, render                     the long-running loop; plans as text and JSON
    console                            the daemon's web console
    commands, cli                      the sub-commands and the parser that wires them
    emulator                           an offline Wix Stores emulator (imports nothing
                                       above model and errors; only commands start it)
"""

__version__ = "0.1.0"
