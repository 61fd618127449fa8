"""Every provenance string equals real Metaxy 0.1.11's for the same inputs.

The reference was recorded by running Metaxy 0.1.11 itself
(tests/fixtures/make_metaxy_reference.py, in a separate virtualenv). Versions are not
compared: 0.1.11 truncates and chains truncated versions, the SPEC keeps them whole.
Removed frames are compared by key, because 0.1.11 collapses an expansion's removed
children to one arbitrary row per parent while we report every child row.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

import metaxy_tui as mx
from metaxy_tui.columns import ColumnType
from metaxy_tui.definition import FeatureDefinition
from metaxy_tui.spec import FeatureSpec

REFERENCE = json.loads((Path(__file__).parent / "fixtures" / "metaxy_0_1_11_reference.json").read_text())


def build_graph(features: list[dict]) -> mx.FeatureGraph:
    defs = []
    for f in features:
        spec = FeatureSpec.from_dict(f)
        columns = {c: ColumnType(t) for c, t in f["columns"].items()}
        defs.append(FeatureDefinition.build(spec, columns, None, None, "reference"))
    return mx.FeatureGraph.from_definitions(defs)


def canonical(rows: list[dict], columns: list[str]) -> list[tuple]:
    out = []
    for r in rows:
        out.append(tuple(json.dumps(r.get(c), sort_keys=True) for c in columns))
    return sorted(set(out))


@pytest.mark.parametrize("scenario", REFERENCE["scenarios"], ids=lambda s: s["name"])
def test_same_provenance_as_metaxy_0_1_11(make_store, scenario, tmp_path):
    path = tmp_path / "compat.db"
    graph = build_graph(scenario["features"])
    store = make_store(path, scenario["hash_algorithm"], scenario["hash_truncation_length"], graph=graph)
    store.open("w")
    try:
        for i, step in enumerate(scenario["steps"]):
            op = step["op"]
            where = f"{scenario['name']} step {i} ({op} {step.get('feature', '')})"
            if op in ("write", "write_increment"):
                store.write_metadata(step["feature"], pl.DataFrame(step["rows"], infer_schema_length=None))
            elif op == "delete":
                store.delete_metadata(step["feature"], ids=step["ids"], soft=step.get("soft", True))
            elif op == "redefine":
                store.close()
                graph = build_graph(step["features"])
                store = make_store(path, scenario["hash_algorithm"], scenario["hash_truncation_length"], graph=graph)
                store.open("w")
            elif op == "resolve":
                samples = step.get("samples")
                inc = store.resolve_update(
                    step["feature"], samples=pl.DataFrame(samples, infer_schema_length=None) if samples else None
                )
                plan = graph.feature_plan(step["feature"])
                for name in ("added", "changed", "removed"):
                    want = step["expected"][name]
                    got = getattr(inc, name).to_polars()
                    if name == "removed":
                        cols = list(plan.key) + ["metaxy_provenance"]
                    else:
                        cols = [c for c in want["sort_by"] if c in got.columns] + [
                            "metaxy_provenance_by_field",
                            "metaxy_provenance",
                        ]
                    got_rows = canonical(got.to_dicts(), cols)
                    want_rows = canonical(want["rows"], cols)
                    assert got_rows == want_rows, f"{where}: {name} differs"
            else:
                raise AssertionError(f"unknown op {op}")
    finally:
        store.close()
