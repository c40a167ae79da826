"""Helpers the tests share: one module per area (``sync``, ``pg``, ``agency``, ``backends``,
``console``, ``faults``), imported as ``support.<area>``.
"""
