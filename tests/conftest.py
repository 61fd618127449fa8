from __future__ import annotations

import pytest

import metaxy_tui as mx


@pytest.fixture
def graph():
    """A fresh, active feature graph for the test's feature classes."""
    g = mx.FeatureGraph()
    with g.use():
        yield g


@pytest.fixture
def store_path(tmp_path):
    return tmp_path / "store.db"


@pytest.fixture(scope="session")
def demo_store_master(tmp_path_factory):
    """The demo store (materialized, then pending work made), built once per test session."""
    from metaxy_tui.service.demo import build_demo

    path = tmp_path_factory.mktemp("demo") / "demo.db"
    build_demo(path)
    return path


@pytest.fixture
def demo_store(demo_store_master, tmp_path):
    """A private copy of the demo store for one test."""
    import shutil

    target = tmp_path / "demo.db"
    shutil.copyfile(demo_store_master, target)
    return target


@pytest.fixture
def project(demo_store):
    """The demo project (its code loaded) on `demo_store`, closed after the test.

    Test files that need another kind of project define their own `project` fixture.
    """
    from metaxy_tui.service.demo import open_demo_project

    p = open_demo_project(demo_store)
    yield p
    p.close()


@pytest.fixture(scope="session")
def ray_address():
    """The address of a real local Ray (2 CPUs), one for the whole test session (tests/ray_cluster.py);
    its token authentication is on, as for a new local Ray, so RAY_AUTH_MODE=token is set meanwhile."""
    import importlib.util

    from tests.ray_cluster import ENV, local_cluster

    if importlib.util.find_spec("ray") is None:  # not imported here: Ray reads RAY_AUTH_MODE when imported
        pytest.skip('Ray is not installed (pip install -e ".[test]" brings it)')
    with pytest.MonkeyPatch.context() as mp:
        for name, value in ENV.items():
            mp.setenv(name, value)
        with local_cluster() as address:
            yield address
