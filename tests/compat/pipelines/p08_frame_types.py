"""Frames of every kind in and out: polars, pandas, pyarrow and narwhals.

reading (root) -> station (N:1 on ``station``) and reading -> calibrated (1:1).

Runs:

1. samples as a pandas frame; readings written as pandas (Arrow-backed), station
   summaries computed in pandas and written as a narwhals frame, calibrated values as a
   pyarrow table
2. samples as a narwhals frame over pandas: r2 changes, r5 is added; the increment's
   narwhals frames are written as they are
3. samples as a pyarrow table: r3 changes; outputs written as narwhals frames over polars;
   reads with ``columns=`` and ``filters=``
"""

import narwhals as nw
import pandas as pd
import polars as pl
import pyarrow as pa

import metaxy_tui as mx
import report

STEPS = 3
STEP = report.step()

config = mx.init()


class Reading(
    mx.BaseFeature,
    spec=mx.FeatureSpec(key="ft/reading", id_columns=["reading_id"], fields=["default"]),
):
    """Sensor readings."""

    reading_id: int
    station: str
    value: float


class Station(
    mx.BaseFeature,
    spec=mx.FeatureSpec(
        key="ft/station",
        id_columns=["station"],
        deps=[mx.FeatureDep(feature=Reading, lineage=mx.LineageRelationship.aggregation(on=["station"]))],
        fields=[mx.FieldSpec(key="mean", code_version="1")],
    ),
):
    """Per-station mean of the readings."""

    station: str
    mean_value: float
    n: int


class Calibrated(
    mx.BaseFeature,
    spec=mx.FeatureSpec(
        key="ft/calibrated",
        id_columns=["reading_id"],
        deps=[Reading],
        fields=[mx.FieldSpec(key="value", code_version="1")],
    ),
):
    """A reading with the calibration applied."""

    reading_id: int
    calibrated: float


def samples():
    rows = [
        (1, "north", 10.0, "r1_v1"),
        (2, "north", 12.5 if STEP >= 2 else 12.0, "r2_v2" if STEP >= 2 else "r2_v1"),
        (3, "south", 7.0 if STEP >= 3 else 7.5, "r3_v2" if STEP >= 3 else "r3_v1"),
        (4, "south", 8.0, "r4_v1"),
    ]
    if STEP >= 2:
        rows.append((5, "east", 3.0, "r5_v1"))
    data = {
        "reading_id": [r[0] for r in rows],
        "station": [r[1] for r in rows],
        "value": [r[2] for r in rows],
        "metaxy_provenance_by_field": [{"default": r[3]} for r in rows],
    }
    if STEP == 1:
        return pd.DataFrame(data)
    if STEP == 2:
        return nw.from_native(pd.DataFrame(data), eager_only=True)
    return pa.table(data)


def main() -> None:
    store = config.get_store("dev")

    with store.open("w"):
        increment = store.resolve_update(Reading, samples=samples())
        report.resolve("ft/reading", increment, ["reading_id"], extra=["station", "value"])
        for frame in (increment.new, increment.stale):
            if len(frame):
                if STEP == 1:  # pandas, with the provenance struct kept as an Arrow struct column
                    frame = frame.to_polars().to_pandas(use_pyarrow_extension_array=True)
                store.write(Reading, frame)

    with store.open("w"):
        increment = store.resolve_update(Station)
        report.resolve("ft/station", increment, ["station", "reading_id"], removed_ids=["station"])
        members = pd.concat([increment.new.to_pandas(), increment.stale.to_pandas()])
        if len(members):
            summary = pd.DataFrame(
                [
                    {
                        "station": station,
                        "mean_value": float(group["value"].mean()),
                        "n": int(len(group)),
                        "metaxy_provenance_by_field": group["metaxy_provenance_by_field"].iloc[0],
                        "metaxy_provenance": group["metaxy_provenance"].iloc[0],
                    }
                    for station, group in members.groupby("station", sort=True)
                ]
            )
            store.write(Station, nw.from_native(pl.from_pandas(summary)))

    with store.open("w"):
        increment = store.resolve_update(Calibrated)
        report.resolve("ft/calibrated", increment, ["reading_id"])
        todo = pl.concat([increment.new.to_polars(), increment.stale.to_polars()], how="diagonal_relaxed")
        if todo.height:
            out = todo.select(
                "reading_id",
                (pl.col("value") * 1.1).round(3).alias("calibrated"),
                "metaxy_provenance_by_field",
                "metaxy_provenance",
            )
            store.write(Calibrated, out.to_arrow() if STEP < 3 else nw.from_native(out))

    with store:
        report.read("ft/reading", store.read(Reading).collect().to_polars(), ["reading_id"])
        report.read("ft/station", store.read(Station).collect().to_polars(), ["station"])
        report.read("ft/calibrated", store.read(Calibrated).collect().to_polars(), ["reading_id"])
        if STEP == 3:
            south = store.read(Reading, filters=[nw.col("station") == "south"], columns=["reading_id", "value"])
            report.read(
                "ft/reading", south.collect().to_polars(), ["reading_id"], label="read ft/reading south, two columns"
            )
            pandas_rows = store.read(Calibrated).collect().to_pandas()
            print(f"{len(pandas_rows)} calibrated readings, mean {pandas_rows['calibrated'].mean():.3f}")


if __name__ == "__main__":
    main()
