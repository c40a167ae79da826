"""The front ends: the daemon, its web console, plans as text and JSON, the sub-commands and
the parser that wires them. Only the commands start the emulator (``syncd_emulator``).
"""
