"""Making a plan's writes: the applier for every write (``applier``: deltas where they save
calls, the rest handed to ``absolute``), the absolute path (``absolute``), and what the
journal says syncd wrote lately, with the settling of deltas a previous run left open
(``recent_writes``).

It sits on the Wix client and the journal; the cycle calls it.
"""
