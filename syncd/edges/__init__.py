"""The edges: where syncd meets the outside world.

The configuration files, the source readers and the feeds that fetch them, the Wix client,
and the state backend (local files or PostgreSQL). They import the core and the base.
"""
