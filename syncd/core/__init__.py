"""The pure core: what a plan holds and how it is made, checked, explained and undone.

Synchronous and free of I/O: values in, values out (the planner, the delta planner, the
guards, match coverage, the journal's records, why a SKU says what it says, what in a
store stops a sync, planning an undo). It imports only the base layer.
"""
