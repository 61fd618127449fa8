"""A writer process that commits when told to: test_resolve_one_commit.py runs it next to a resolve.

    python commit_child.py

It prints `ready` once its imports are done (so that a commit then costs milliseconds), then
reads commands from stdin, one a line, and answers each on stdout once it is done (a write:
once its transaction has committed):

    open <path>   open the store file for writing (closing the one open before)
    rewrite <k>   one write_metadata: items 0..CHANGING-1 get note n<k> and provenance v<k>
    move <k>      one write_metadata that adds MOVED new items m<k>_<i> and soft-deletes
                  (delete_ids, same transaction) the MOVED lowest-numbered items still there
    quit          close the store and exit

    answer:       ok <the command as given>

The module also gives the test its feature graph and rows, so both agree on them: one root
(one/item) and one derived feature of every lineage kind reading it (one/copy identity,
one/group aggregation on grp, one/part expansion on item_id). An item's `note` and its
provenance always change together (note n<k>, provenance v<k>), so a resolved row whose
note and provenance come from two different commits can be told apart.
"""

from __future__ import annotations

import sys

import polars as pl

import metaxy_tui as mx

ITEM, COPY, GROUP, PART = "one/item", "one/copy", "one/group", "one/part"
DERIVED = (COPY, GROUP, PART)
ITEMS = 60  # item_0 .. item_59
GROUPS = 12  # grp = g<i mod 12>: five members a group
CHANGING = 5  # items 0..4 are rewritten (pending: under resolve's 40% share, so it picks rows by key)
MOVED = 10
PARTS = 2  # children an expansion writes per item


def build_graph() -> mx.FeatureGraph:
    graph = mx.FeatureGraph()
    with graph.use():

        class Item(mx.BaseFeature, spec=mx.FeatureSpec(key=ITEM, id_columns=["item_id"], fields=["default"])):
            item_id: str
            grp: str
            note: str

        class Copy(
            mx.BaseFeature,
            spec=mx.FeatureSpec(
                key=COPY, id_columns=["item_id"], deps=[Item], fields=[mx.FieldSpec("out", code_version="1")]
            ),
        ):
            item_id: str
            note: str

        class Group(
            mx.BaseFeature,
            spec=mx.FeatureSpec(
                key=GROUP,
                id_columns=["grp"],
                deps=[mx.FeatureDep(Item, lineage=mx.LineageRelationship.aggregation(on=["grp"]))],
                fields=[mx.FieldSpec("summary", code_version="1")],
            ),
        ):
            grp: str

        class Part(
            mx.BaseFeature,
            spec=mx.FeatureSpec(
                key=PART,
                id_columns=["item_id", "part"],
                deps=[mx.FeatureDep(Item, lineage=mx.LineageRelationship.expansion(on=["item_id"]))],
                fields=[mx.FieldSpec("out", code_version="1")],
            ),
        ):
            item_id: str
            part: int
            note: str

    return graph


def items(numbers, k: int, prefix: str = "item") -> pl.DataFrame:
    """Root rows for item numbers: note n<k>, provenance v<k>."""
    numbers = list(numbers)
    return pl.DataFrame(
        {
            "item_id": [f"{prefix}_{i}" for i in numbers],
            "grp": [f"g{i % GROUPS}" for i in numbers],
            "note": [f"n{k}"] * len(numbers),
            "metaxy_provenance_by_field": [{"default": f"v{k}"}] * len(numbers),
        }
    )


def materialize(store, name: str) -> None:
    """Write a derived feature's added and changed samples, delete its removed ones."""
    inc = store.resolve_update(name)
    rows = pl.concat([inc.added.to_polars(), inc.changed.to_polars()], how="diagonal_relaxed")
    if len(inc.removed):
        key = list(inc.key)
        store.delete_metadata(name, ids=inc.removed.to_polars().select(key))
    if rows.height == 0:
        return
    keep = ["metaxy_provenance_by_field", "metaxy_provenance"]
    if name == COPY:
        out = rows.select("item_id", "note", *keep)
    elif name == GROUP:
        out = rows.group_by("grp", maintain_order=True).agg(pl.first(c) for c in keep)
    else:
        out = pl.concat([rows.select("item_id", pl.lit(p).alias("part"), "note", *keep) for p in range(PARTS)])
    store.write_metadata(name, out)


def main() -> None:
    graph = build_graph()
    store = None
    print("ready", flush=True)
    while line := sys.stdin.readline():
        words = line.split()
        if not words:
            continue
        if words[0] == "quit":
            break
        if words[0] == "open":
            if store is not None:
                store.close()
            store = mx.SQLiteMetadataStore(line.split(" ", 1)[1].rstrip("\n"), graph=graph)
            store.open("w")
            print(f"ok {line.rstrip()}", flush=True)
            continue
        k = int(words[1])
        if words[0] == "rewrite":
            store.write_metadata(ITEM, items(range(CHANGING), k))
        elif words[0] == "move":
            present = store.read_metadata(ITEM).get_column("item_id").to_list()
            doomed = sorted(present, key=lambda i: (i.split("_")[0], int(i.split("_")[1])))[:MOVED]
            store.write_metadata(
                ITEM, items(range(MOVED), k, prefix=f"m{k}"), delete_ids=pl.DataFrame({"item_id": doomed})
            )
        else:
            raise SystemExit(f"unknown command {line!r}")
        print(f"ok {line.rstrip()}", flush=True)
    if store is not None:
        store.close()


if __name__ == "__main__":
    main()
