"""Configuration (SPEC §6): metaxy.toml discovery, entrypoints, named stores, the default store."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import polars as pl
import pytest

import metaxy_tui as mx

_module_counter = itertools.count()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No configuration leaks in from the environment or the real home folder."""
    for var in ("METAXY_CONFIG", "METAXY_STORE", "METAXY_STORE_PATH"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home" / "xdg-data"))
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith("mxcfg_"):
            del sys.modules[name]


def make_project(root: Path, *, store_path: str | None = "metadata.db", extra: str = "") -> str:
    """A project with a features package; returns the package name (unique per call)."""
    package = f"mxcfg_{next(_module_counter)}"
    (root / package).mkdir(parents=True)
    (root / package / "__init__.py").write_text("")
    (root / package / "features.py").write_text(
        "import metaxy_tui as mx\n\n\n"
        "class Thing(mx.BaseFeature, spec=mx.FeatureSpec(key='cfg/thing', id_columns=['thing_id'])):\n"
        "    thing_id: str\n"
    )
    path_line = f'path = "{store_path}"\n' if store_path is not None else ""
    (root / "metaxy.toml").write_text(
        f'project = "demo"\nentrypoints = ["{package}.features"]\n{extra}\n'
        f'[stores.dev]\ntype = "sqlite"\n[stores.dev.config]\n{path_line}hash_algorithm = "md5"\n\n'
        f'[stores.other]\ntype = "sqlite"\n[stores.other.config]\npath = "/absolute/elsewhere.db"\n'
    )
    return package


def test_found_in_cwd_imports_entrypoints_and_builds_the_store(graph, tmp_path, monkeypatch):
    project = tmp_path / "proj"
    make_project(project)
    monkeypatch.chdir(project)
    cfg = mx.init_metaxy()
    assert cfg.path == (project / "metaxy.toml").resolve()
    assert cfg.project == "demo"
    assert "cfg/thing" in graph  # the entrypoint was imported into the active graph
    store = cfg.get_store("dev")
    assert Path(store.path) == (project / "metadata.db").resolve()
    assert store.hasher.algorithm == mx.HashAlgorithm.MD5
    with store:
        store.write("cfg/thing", pl.DataFrame({"thing_id": ["t1"], "metaxy_provenance_by_field": [{"default": "p"}]}))
    assert (project / "metadata.db").is_file()


def test_found_in_a_parent_folder_relative_path_against_the_toml(graph, tmp_path, monkeypatch):
    project = tmp_path / "proj"
    make_project(project, store_path="data/store.db")
    deep = project / "src" / "deeper"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    cfg = mx.init()
    assert cfg.path == (project / "metaxy.toml").resolve()
    store = cfg.get_store("dev")
    assert Path(store.path) == (project / "data" / "store.db").resolve()
    with store:
        pass
    assert (project / "data" / "store.db").is_file()
    assert not (deep / "data").exists()
    assert Path(cfg.get_store("other").path) == Path("/absolute/elsewhere.db")


def test_unknown_store_name(graph, tmp_path, monkeypatch):
    make_project(tmp_path / "proj")
    monkeypatch.chdir(tmp_path / "proj")
    cfg = mx.init_metaxy()
    with pytest.raises(mx.ConfigError) as info:
        cfg.get_store("prod")
    text = str(info.value)
    assert "'prod'" in text and "metaxy.toml" in text and "dev" in text


@pytest.mark.parametrize(
    "text",
    [
        'project = "x"\n[stores.dev\ntype = "sqlite"\n',
        "entrypoints = [1, 2]\n",
        "= nothing\n",
        '[stores]\ndev = "sqlite"\n',
    ],
)
def test_broken_toml(graph, tmp_path, monkeypatch, text):
    (tmp_path / "metaxy.toml").write_text(text)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(mx.ConfigError) as info:
        mx.init_metaxy()
    assert str(tmp_path / "metaxy.toml") in str(info.value)


def test_missing_entrypoint_module(graph, tmp_path, monkeypatch):
    (tmp_path / "metaxy.toml").write_text('entrypoints = ["mxcfg_does_not_exist.features"]\n')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(mx.ConfigError) as info:
        mx.init_metaxy()
    assert "mxcfg_does_not_exist" in str(info.value) and "metaxy.toml" in str(info.value)


def test_unknown_store_option(graph, tmp_path, monkeypatch):
    (tmp_path / "metaxy.toml").write_text('[stores.dev]\ntype = "sqlite"\n[stores.dev.config]\npth = "x.db"\n')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(mx.ConfigError) as info:
        mx.init_metaxy().get_store("dev")
    assert "pth" in str(info.value) and "metaxy.toml" in str(info.value)


def test_no_toml_gives_the_default_store_in_the_user_data_folder(graph, tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    cfg = mx.init_metaxy()
    assert cfg.path is None
    store = cfg.get_store()
    data_home = (tmp_path / "home" / "xdg-data").resolve()
    assert Path(store.path).resolve().is_relative_to(data_home)
    assert Path(store.path).name.endswith(".db")
    with store:
        pass
    assert Path(store.path).is_file()
    assert not any(empty.iterdir())


def test_store_without_path_uses_the_user_data_folder(graph, tmp_path, monkeypatch):
    make_project(tmp_path / "proj", store_path=None)
    monkeypatch.chdir(tmp_path / "proj")
    store = mx.init_metaxy().get_store("dev")
    assert Path(store.path).resolve().is_relative_to((tmp_path / "home" / "xdg-data").resolve())


def test_environment_overrides_file_and_store_path(graph, tmp_path, monkeypatch):
    project = tmp_path / "proj"
    make_project(project)
    monkeypatch.chdir(tmp_path)  # no metaxy.toml here or above
    monkeypatch.setenv("METAXY_CONFIG", str(project / "metaxy.toml"))
    cfg = mx.init_metaxy()
    assert cfg.path == (project / "metaxy.toml").resolve()
    assert Path(cfg.get_store("dev").path).resolve() == (project / "metadata.db").resolve()
    monkeypatch.setenv("METAXY_STORE_PATH", str(tmp_path / "override.db"))
    assert Path(cfg.get_store("dev").path) == tmp_path / "override.db"


def test_the_hash_settings_of_a_postgresql_store(graph, tmp_path, monkeypatch):
    # hash_settings (what a new --db store made for the project hashes with) asked the store for
    # requested_hash, which only the SQLite store had: an AttributeError in a PostgreSQL project
    (tmp_path / "metaxy.toml").write_text(
        'project = "demo"\n[stores.pg]\ntype = "postgresql"\n[stores.pg.config]\n'
        'connection_string = "postgresql://nobody@localhost:1/none"\nhash_algorithm = "md5"\n'
    )
    monkeypatch.chdir(tmp_path)
    cfg = mx.init_metaxy()
    assert cfg.hash_settings() == (mx.HashAlgorithm.MD5, None)
    assert cfg.hash_settings("pg") == (mx.HashAlgorithm.MD5, None)
