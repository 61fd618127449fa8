from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase, ReadOnlyDatabase

import metaxy_tui as mx

# ----- hypothesis profiles ----------------------------------------------------------------------------
# "ci" (the default): a fixed seed per test (derandomize: drawn from a hash of the test function, so
# every run tries the same examples until the test or Hypothesis changes) and, replayed first, the
# examples stored in tests/hypothesis-examples (committed, read-only here). "explore" (by hand, e.g.
# HYPOTHESIS_PROFILE=explore HYPOTHESIS_MAX=300): a new seed every run, and any failing example
# it finds is saved into tests/hypothesis-examples, to be committed so that CI replays it.
# Test modules build their settings on the loaded profile: this file is imported before them.
EXAMPLES = Path(__file__).resolve().parent / "hypothesis-examples"
_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(
    "ci",
    parent=settings(derandomize=True, **_common),
    database=ReadOnlyDatabase(DirectoryBasedExampleDatabase(EXAMPLES)),
)
settings.register_profile("explore", database=DirectoryBasedExampleDatabase(EXAMPLES), **_common)
# "record": CI's seeds, saving failures (tests/mutation/run_mutations.py --record-examples uses it on
# a copy of the tests with a bug put in the engine, and keeps the failing examples it finds)
settings.register_profile(
    "record", parent=settings(derandomize=True, **_common), database=DirectoryBasedExampleDatabase(EXAMPLES)
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_sessionfinish(session, exitstatus):
    """Stop this process's PostgreSQL test server (each xdist worker has its own) and remove its folder."""
    from tests import pg_server

    pg_server.stop_shared()


def pytest_terminal_summary(terminalreporter, config):
    """The lineage cases the graph property tests checked (tests/test_properties_graphs.py)."""
    cases = getattr(config, "metaxy_lineage_cases", None)
    if cases:
        terminalreporter.write_line(
            f"property tests, examples per lineage case ({settings.get_current_profile_name()} profile): "
            + ", ".join(f"{kind} {part} {n}" for (kind, part), n in sorted(cases.items()))
        )


@pytest.fixture
def graph():
    """A fresh, active feature graph for the test's feature classes."""
    g = mx.FeatureGraph()
    with g.use():
        yield g


@pytest.fixture(scope="session")
def pg_server():
    """A real PostgreSQL server for the session (tests/pg_server.py); skipped only without PostgreSQL."""
    from tests import pg_server as pgs

    if not pgs.available():
        pytest.skip(pgs.SKIP_REASON)
    return pgs.shared()


@pytest.fixture
def pg_url(pg_server):
    """A fresh, empty database on the session's server."""
    return pg_server.new_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_kind(request):
    return request.param


@pytest.fixture
def make_store(store_kind, request, tmp_path):
    """Builds the store under test: `make_store(path, **options)` gives an SQLite store at `path`, or
    (the postgresql parameter) a PostgreSQL store on one fresh database per distinct path, so
    engine tests run unchanged against both."""
    if store_kind == "sqlite":
        return mx.SQLiteMetadataStore
    server = request.getfixturevalue("pg_server")
    urls: dict[str, str] = {}

    def build(path=None, *args, **options):
        url = urls.setdefault(str(path), server.new_database())
        return mx.PostgreSQLMetadataStore(url, *args, **options)

    return build


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


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's hook turns the groups into node ids
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (`-n 2 --dist loadgroup`), the tests on the real Ray all run on one
    worker, so the session starts one local Ray, not one per worker."""
    for item in items:
        if item.get_closest_marker("ray") is not None:
            item.add_marker(pytest.mark.xdist_group("ray"))
