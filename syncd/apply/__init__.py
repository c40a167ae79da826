"""Making a plan's writes: the applier for every write (``applier``), the absolute path
(``absolute``) and the settling of deltas a previous run left open.

It sits on the Wix client and the journal; the cycle calls it.
"""
