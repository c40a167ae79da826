"""The configuration: one YAML file, checked once at start-up, then a tree of frozen values.

    schema     the tree (``Settings`` > ``SiteSettings`` > ...), every default written once
    client     a site's Wix client and walker settings (part of the schema)
    source     a site's source-of-truth settings (part of the schema)
    secrets    ``Secret`` and API key resolution
    reader     line-aware typed reading of YAML mappings
    loader     the file (and environment overrides) into the schema

``Settings.from_file(path)`` is the way in; docs/configuration.md is the user's reference.
"""

from syncd.edges.config.client import (
    DEFAULT_BASE_URL,
    CatalogChoice,
    RefreshMode,
    WalkSettings,
    WixSettings,
)
from syncd.edges.config.loader import load_settings
from syncd.edges.config.schema import (
    HttpSettings,
    ListenAddress,
    LogFormat,
    LogLevel,
    LogSettings,
    ProbeSettings,
    RateLimit,
    ScheduleSettings,
    Settings,
    SiteSettings,
)
from syncd.edges.config.secrets import Secret
from syncd.edges.config.source import (
    Columns,
    OnInvalidRow,
    SourceFormat,
    SourceMode,
    SourceSettings,
)

__all__ = [
    "DEFAULT_BASE_URL", "CatalogChoice", "Columns", "HttpSettings", "ListenAddress",
    "LogFormat", "LogLevel", "LogSettings", "OnInvalidRow", "ProbeSettings", "RateLimit",
    "RefreshMode",
    "ScheduleSettings", "Secret", "Settings", "SiteSettings", "SourceFormat", "SourceMode",
    "SourceSettings", "WalkSettings", "WixSettings", "load_settings",
]
