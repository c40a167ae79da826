"""One sync cycle: walk -> plan -> guard -> apply, and how it ended.

The site's client (with incremental reads), progress, metrics, the product index, the
cycle itself (``sync``) and its endings. The front ends run it.
"""
