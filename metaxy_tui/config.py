"""Configuration: metaxy.toml, entrypoints, named stores, and the default store location.

    project = "example"
    entrypoints = ["example.features"]
    [stores.dev]
    type = "sqlite"
    [stores.dev.config]
    path = "metadata.db"        # relative to metaxy.toml
    hash_algorithm = "xxhash64"

    [stores.shared]
    type = "postgresql"
    [stores.shared.config]
    connection_string = "postgresql://curator@db.internal/metadata"   # or env METAXY_STORE_URL

Environment: METAXY_CONFIG (a metaxy.toml to use), METAXY_STORE (the default store name),
METAXY_STORE_PATH (overrides an SQLite store's path), METAXY_STORE_URL (a PostgreSQL store's
connection string, when its config gives none).
"""

from __future__ import annotations

import importlib
import os
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from .errors import ConfigError
from .hashing import HashAlgorithm
from .store import SQLiteMetadataStore

if TYPE_CHECKING:
    from .store.postgres import PostgreSQLMetadataStore

CONFIG_NAME = "metaxy.toml"
STORE_OPTIONS = {"path", "hash_algorithm", "hash_truncation_length"}
POSTGRES_OPTIONS = {"connection_string", "hash_algorithm", "hash_truncation_length"}
POSTGRES_TYPES = ("postgresql", "postgres", "PostgreSQLMetadataStore", "metaxy_tui.PostgreSQLMetadataStore")


def default_store_path() -> Path:
    return Path(platformdirs.user_data_dir("metaxy-tui", appauthor=False)) / "metadata.db"


def find_config(start: str | os.PathLike[str] | None = None) -> Path | None:
    env = os.environ.get("METAXY_CONFIG")
    if env and start is None:
        return Path(env)
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


@dataclass
class MetaxyConfig:
    project: str | None = None
    entrypoints: list[str] = field(default_factory=list)
    stores: dict[str, dict[str, Any]] = field(default_factory=dict)
    store: str | None = None  # the default store's name
    path: Path | None = None  # the metaxy.toml this came from
    defaults: dict[str, Any] = field(default_factory=dict)  # top-level store settings (Metaxy's global ones)

    @property
    def root(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    def store_names(self) -> list[str]:
        return list(self.stores)

    def hash_settings(self, name: str | None = None) -> tuple[HashAlgorithm | None, int | None]:
        """(algorithm or None, truncation or None): the hash setting the named store asks for."""
        return self.get_store(name).requested_hash

    def get_store(self, name: str | None = None, **overrides: Any) -> SQLiteMetadataStore | PostgreSQLMetadataStore:
        name = name or os.environ.get("METAXY_STORE") or self.store or (next(iter(self.stores), None))
        if name is None:
            default = os.environ.get("METAXY_STORE_PATH") or str(default_store_path())
            return SQLiteMetadataStore(default, project=self.project, name="default", **overrides)
        if name not in self.stores:
            where = f" in {self.path}" if self.path else ""
            raise ConfigError(f"no store named {name!r}{where} (stores: {', '.join(self.stores) or 'none'})")
        entry = self.stores[name]
        kind = entry.get("type", "sqlite")
        if kind in POSTGRES_TYPES:
            return self._postgres_store(name, entry, overrides)
        if kind not in ("sqlite", "SQLiteMetadataStore", "metaxy_tui.SQLiteMetadataStore"):
            raise ConfigError(
                f"store {name!r}{' in ' + str(self.path) if self.path else ''}: type {kind!r} is not "
                'supported here (use type = "sqlite" or "postgresql")'
            )
        options = dict(entry.get("config", {}))
        unknown = sorted(set(options) - STORE_OPTIONS)
        if unknown:
            raise ConfigError(
                f"store {name!r} in {self.path}: unknown option(s) {', '.join(unknown)} "
                f"(known: {', '.join(sorted(STORE_OPTIONS))})"
            )
        for option in ("hash_algorithm", "hash_truncation_length"):  # Metaxy's project-wide settings
            if option in self.defaults and option not in options:
                options[option] = self.defaults[option]
        options.update(overrides)
        raw_path = os.environ.get("METAXY_STORE_PATH") or options.pop("path", None)
        options.pop("path", None)
        if raw_path is None:
            path = default_store_path()
        else:
            path = Path(os.path.expanduser(str(raw_path)))
            if not path.is_absolute() and str(raw_path) != ":memory:":
                path = self.root / path
        try:
            return SQLiteMetadataStore(
                path if str(raw_path) != ":memory:" else ":memory:", project=self.project, name=name, **options
            )
        except ValueError as e:
            raise ConfigError(f"store {name!r} in {self.path}: {e}") from None

    def _postgres_store(self, name: str, entry: dict[str, Any], overrides: dict[str, Any]) -> PostgreSQLMetadataStore:
        from .store.postgres import PostgreSQLMetadataStore

        options = dict(entry.get("config", {}))
        unknown = sorted(set(options) - POSTGRES_OPTIONS)
        if unknown:
            raise ConfigError(
                f"store {name!r} in {self.path}: unknown option(s) {', '.join(unknown)} "
                f"(known: {', '.join(sorted(POSTGRES_OPTIONS))})"
            )
        for option in ("hash_algorithm", "hash_truncation_length"):
            if option in self.defaults and option not in options:
                options[option] = self.defaults[option]
        options.update(overrides)
        options.pop("path", None)
        url = options.pop("connection_string", None) or os.environ.get("METAXY_STORE_URL")
        if not url:
            raise ConfigError(
                f"store {name!r} in {self.path}: a PostgreSQL store needs connection_string in its "
                "config (or the METAXY_STORE_URL environment variable)"
            )
        try:
            return PostgreSQLMetadataStore(url, project=self.project, name=name, **options)
        except ValueError as e:
            raise ConfigError(f"store {name!r} in {self.path}: {e}") from None

    def load_entrypoints(self) -> None:
        if self.path is not None and str(self.root) not in sys.path:
            sys.path.insert(0, str(self.root))
        for module in self.entrypoints:
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as e:
                if e.name and module.startswith(e.name):
                    raise ConfigError(
                        f"{self.path}: entrypoint module {module!r} was not found (searched from {self.root})"
                    ) from None
                raise ConfigError(
                    f"{self.path}: entrypoint module {module!r} failed to import: it needs "
                    f"{e.name!r}, which is not installed"
                ) from None
            except ConfigError:
                raise
            except Exception as e:  # the user's code: say where, without a traceback of ours
                where = ""
                if isinstance(e, SyntaxError) and e.filename:
                    where = f" ({e.filename}, line {e.lineno})"
                raise ConfigError(
                    f"{self.path}: entrypoint module {module!r} failed to import: {type(e).__name__}: {e}{where}"
                ) from None


def load_config(path: str | os.PathLike[str]) -> MetaxyConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read it ({e})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e})") from None
    if "tool" in data and "metaxy" in data.get("tool", {}):
        data = data["tool"]["metaxy"]
    entrypoints = data.get("entrypoints", [])
    if not isinstance(entrypoints, list) or not all(isinstance(e, str) for e in entrypoints):
        raise ConfigError(f"{path}: entrypoints must be a list of module names")
    stores = data.get("stores", {})
    if not isinstance(stores, dict) or not all(isinstance(v, dict) for v in stores.values()):
        raise ConfigError(f"{path}: [stores.NAME] must be tables")
    project = data.get("project")
    if project is not None and not isinstance(project, str):
        raise ConfigError(f"{path}: project must be a string")
    store = data.get("store")
    defaults: dict[str, Any] = {k: data[k] for k in ("hash_algorithm", "hash_truncation_length") if k in data}
    return MetaxyConfig(
        project=project,
        entrypoints=list(entrypoints),
        stores=stores,
        store=store if isinstance(store, str) else None,
        path=path.resolve(),
        defaults=defaults,
    )


def init_metaxy(
    config_file: str | os.PathLike[str] | None = None,
    *,
    load_entrypoints: bool = True,
    search_from: str | os.PathLike[str] | None = None,
) -> MetaxyConfig:
    """Read metaxy.toml (given, or found from the current folder up) and import its entrypoints."""
    path = Path(config_file) if config_file else find_config(search_from)
    cfg = load_config(path) if path is not None else MetaxyConfig()
    if load_entrypoints:
        cfg.load_entrypoints()
    return cfg


init = init_metaxy
