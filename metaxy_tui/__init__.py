"""metaxy-tui: Metaxy's incremental-pipeline metadata on one SQLite file, with a terminal UI.

import metaxy_tui as mx
"""

# ruff: noqa: E402  (the NullHandler goes on before the submodules log)
import logging
from typing import Any

from .version import __version__

# the engine logs to "metaxy_tui.*"; a program shows it (metaxy-tui --verbose, the TUI's log file)
logging.getLogger(__name__).addHandler(logging.NullHandler())
from .compute import compute
from .config import MetaxyConfig, init, init_metaxy
from .definition import FeatureDefinition
from .errors import (
    ConfigError,
    DefinitionError,
    InputError,
    InputProblem,
    MetaxyError,
    StoreError,
    StoreFormatError,
    UnknownFeatureError,
)
from .feature import BaseFeature
from .frames import Increment, IncrementFrame
from .graph import FeatureGraph
from .hashing import HashAlgorithm
from .keys import FeatureKey, FieldKey
from .spec import (
    ALL,
    FeatureDep,
    FeatureSpec,
    FieldDep,
    FieldSpec,
    LineageRelationship,
    SpecialFieldDep,
)
from .store import SQLiteMetadataStore
from .store.postgres import PostgreSQLMetadataStore


def get_feature_by_key(key: object) -> type:
    """The feature class registered under `key` in the active graph."""
    return FeatureGraph.get_active().get_feature_by_key(key)


def current_graph() -> FeatureGraph:
    """The active feature graph (as Metaxy's `mx.current_graph()`)."""
    return FeatureGraph.get_active()


MetadataStore = SQLiteMetadataStore  # Metaxy's name for the store type


def __getattr__(name: str) -> Any:  # (what the type checker sees for any other name, too)
    if name == "SystemTableStorage":  # imported on use: it loads the store's snapshot helpers
        from .metadata_store.system import SystemTableStorage

        return SystemTableStorage
    raise AttributeError(f"module 'metaxy_tui' has no attribute {name!r}")


__all__ = [
    "ALL",
    "BaseFeature",
    "compute",
    "ConfigError",
    "DefinitionError",
    "FeatureDefinition",
    "FeatureDep",
    "FeatureGraph",
    "FeatureKey",
    "FeatureSpec",
    "FieldDep",
    "FieldKey",
    "FieldSpec",
    "HashAlgorithm",
    "Increment",
    "IncrementFrame",
    "InputError",
    "InputProblem",
    "LineageRelationship",
    "MetaxyConfig",
    "MetaxyError",
    "MetadataStore",
    "PostgreSQLMetadataStore",
    "SQLiteMetadataStore",
    "SpecialFieldDep",
    "StoreError",
    "StoreFormatError",
    "SystemTableStorage",
    "UnknownFeatureError",
    "current_graph",
    "get_feature_by_key",
    "init",
    "init_metaxy",
    "__version__",
]
