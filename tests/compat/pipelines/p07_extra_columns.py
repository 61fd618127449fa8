"""Columns a frame carries but the feature class does not annotate are stored and read back.

item -> score (identity). The items' frames carry ``source`` and ``score`` on top of the
annotated ``name``; the score writer adds ``model_name``.

Runs:

1. 2 items with the extra columns: they pass through the increment, are stored and read
   back; the scores' increment carries them too; the scores are written with ``model_name``
2. i3 arrives without ``score`` but with a new extra column ``lang``: the rows written
   before read back ``lang`` as null, i3 reads ``score`` as null
3. i1 changes (new provenance, another source): its row and extra values are replaced
"""

import polars as pl
from pydantic import Field

import metaxy_tui as mx
import report

STEPS = 3
STEP = report.step()

config = mx.init()


class Item(
    mx.BaseFeature,
    spec=mx.FeatureSpec(key="extra/item", id_columns=["item_id"], fields=["default"]),
):
    """Catalogue items."""

    item_id: str
    name: str = Field(description="Display name")


class Score(
    mx.BaseFeature,
    spec=mx.FeatureSpec(
        key="extra/score", id_columns=["item_id"], deps=[Item], fields=[mx.FieldSpec(key="value", code_version="1")]
    ),
):
    """A model's score of an item."""

    item_id: str
    value: float = Field(description="Score between 0 and 1")


def items() -> pl.DataFrame:
    first = pl.DataFrame(
        {
            "item_id": ["i1", "i2"],
            "name": ["Kettle", "Teapot"],
            "source": ["crawler-b" if STEP >= 3 else "crawler-a", "manual"],
            "score": [0.5, 0.75],
            "metaxy_provenance_by_field": [{"default": "i1_v2" if STEP >= 3 else "i1_v1"}, {"default": "i2_v1"}],
        }
    )
    if STEP == 1:
        return first
    later = pl.DataFrame(
        {
            "item_id": ["i3"],
            "name": ["Mug"],
            "source": ["import"],
            "lang": ["de"],
            "metaxy_provenance_by_field": [{"default": "i3_v1"}],
        }
    )
    return pl.concat([first, later], how="diagonal")


def main() -> None:
    store = config.get_store("dev")

    with store.open("w"):
        increment = store.resolve_update(Item, samples=items())
        report.resolve("extra/item", increment, ["item_id"], extra=["name", "source", "score"])
        for frame in (increment.new, increment.stale):
            if len(frame):
                rows = frame.to_polars()
                if rows["score"].null_count() == rows.height:
                    # items without a score: the frame written leaves the column out
                    rows = rows.drop("score")
                store.write(Item, rows)

    with store.open("w"):
        increment = store.resolve_update(Score)
        report.resolve("extra/score", increment, ["item_id"], extra=["name", "source"])
        rows = [
            {
                "item_id": row["item_id"],
                "value": round(len(row["name"]) / 10, 2),
                "model_name": "scorer-1",
                "metaxy_provenance_by_field": row["metaxy_provenance_by_field"],
                "metaxy_provenance": row["metaxy_provenance"],
            }
            for frame in (increment.new, increment.stale)
            for row in frame.to_polars().iter_rows(named=True)
        ]
        if rows:
            store.write(Score, pl.DataFrame(rows))

    with store:
        report.read("extra/item", store.read(Item).collect().to_polars(), ["item_id"])
        report.read("extra/score", store.read(Score).collect().to_polars(), ["item_id"])


if __name__ == "__main__":
    main()
