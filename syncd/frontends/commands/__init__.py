"""The sub-commands of ``syncd``, one module per job, each exposing ``register(subparsers)``.

    emulator   an offline Wix Stores emulator
    validate   check the configuration and the sources, no network
    sync       ``plan`` and ``sync``
    rollback   undo a run from the journal
    demo       the emulator, a plan, a sync and a second plan, in one go
    run        the daemon, and ``healthcheck``

``common`` holds what they share: the exit codes and the configuration options;
``sites`` runs a command on each configured site, and ``outcome`` is the one JSON object
every command prints with ``--output json``.
"""
