"""A writer process for tests/postgres/test_pg_concurrency.py: `python writer.py URL NAME ROUNDS [ROWS] [--hang]`.

Writes ROUNDS frames of ROWS rows (its own ids, plus 20 ids every writer writes) into the root
feature `item`, and after each resolves and writes the derived feature `item/copy` (identity).
With --hang it writes one large frame and stops inside the transaction (after the rows went to
the server, before the commit), printing "hanging", to be killed there.
"""

from __future__ import annotations

import sys
import time

import polars as pl

import metaxy_tui as mx

SHARED = 20


def graph() -> mx.FeatureGraph:
    g = mx.FeatureGraph()
    with g.use():

        class Item(mx.BaseFeature, spec=mx.FeatureSpec(key="item", id_columns=["item_id"], fields=["a"])):
            item_id: str
            writer: str

        class Copy(
            mx.BaseFeature, spec=mx.FeatureSpec(key="item/copy", id_columns=["item_id"], deps=[Item], fields=["a"])
        ):
            item_id: str
            writer: str

    return g


def frame(name: str, r: int, rows: int) -> pl.DataFrame:
    ids = [f"{name}-{r}-{k}" for k in range(rows - SHARED)] + [f"shared-{k}" for k in range(SHARED)]
    return pl.DataFrame(
        {"item_id": ids, "writer": [name] * len(ids), "metaxy_provenance_by_field": [{"a": f"{name}-{r}"}] * len(ids)}
    )


def main() -> None:
    url, name, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rows = int(sys.argv[4]) if len(sys.argv) > 4 and not sys.argv[4].startswith("--") else 200
    store = mx.PostgreSQLMetadataStore(url, graph=graph())
    with store:
        if "--hang" in sys.argv:

            def stop(done: int, total: int) -> None:
                if done == total:
                    print("hanging", flush=True)
                    time.sleep(600)

            store.write("item", frame(name, 0, rows), progress=stop)
            return
        for r in range(rounds):
            store.write("item", frame(name, r, rows))
            inc = store.resolve_update("item/copy")
            todo = pl.concat([inc.added.to_polars(), inc.changed.to_polars()])
            if todo.height:
                store.write("item/copy", todo.select("item_id", "writer", "metaxy_provenance_by_field"))
    print("done", flush=True)


if __name__ == "__main__":
    main()
