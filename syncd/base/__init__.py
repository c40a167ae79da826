"""The base layer: values, the exception tree, redaction and text positions, YAML nodes.

Nothing here imports the rest of syncd, so every layer above (and the emulator) can use it.
"""
