"""metaxy-tui: Metaxy's incremental-pipeline metadata on one SQLite file, with a terminal UI.

    import metaxy_tui as mx
"""

import logging

from .version import __version__

# the engine logs to "metaxy_tui.*"; a program shows it (metaxy-tui --verbose, the TUI's log file)
logging.getLogger(__name__).addHandler(logging.NullHandler())
from .compute import compute  # noqa: E402
from .config import MetaxyConfig, init, init_metaxy  # noqa: E402
from .definition import FeatureDefinition  # noqa: E402
from .errors import (ConfigError, DefinitionError, InputError, InputProblem, MetaxyError,  # noqa: E402
                     StoreError, StoreFormatError, UnknownFeatureError)
from .feature import BaseFeature  # noqa: E402
from .frames import Increment, IncrementFrame  # noqa: E402
from .graph import FeatureGraph  # noqa: E402
from .hashing import HashAlgorithm  # noqa: E402
from .keys import FeatureKey, FieldKey  # noqa: E402
from .spec import (ALL, FeatureDep, FeatureSpec, FieldDep, FieldSpec, LineageRelationship,  # noqa: E402
                   SpecialFieldDep)
from .store import SQLiteMetadataStore  # noqa: E402
from .store.postgres import PostgreSQLMetadataStore  # noqa: E402


def get_feature_by_key(key):
    """The feature class registered under `key` in the active graph."""
    return FeatureGraph.get_active().get_feature_by_key(key)


def current_graph() -> FeatureGraph:
    """The active feature graph (as Metaxy's `mx.current_graph()`)."""
    return FeatureGraph.get_active()


MetadataStore = SQLiteMetadataStore  # Metaxy's name for the store type


def __getattr__(name: str):
    if name == "SystemTableStorage":  # imported on use: it loads the store's snapshot helpers
        from .metadata_store.system import SystemTableStorage

        return SystemTableStorage
    raise AttributeError(f"module 'metaxy_tui' has no attribute {name!r}")


__all__ = [
    "ALL", "BaseFeature", "compute", "ConfigError", "DefinitionError", "FeatureDefinition", "FeatureDep", "FeatureGraph",
    "FeatureKey", "FeatureSpec", "FieldDep", "FieldKey", "FieldSpec", "HashAlgorithm", "Increment",
    "IncrementFrame", "InputError", "InputProblem", "LineageRelationship", "MetaxyConfig", "MetaxyError",
    "MetadataStore", "PostgreSQLMetadataStore", "SQLiteMetadataStore", "SpecialFieldDep", "StoreError", "StoreFormatError",
    "SystemTableStorage", "UnknownFeatureError", "current_graph", "get_feature_by_key", "init", "init_metaxy",
    "__version__",
]
