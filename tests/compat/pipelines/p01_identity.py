"""Identity (1:1) lineage: recordings -> transcripts -> summaries.

Runs (``python p01_identity.py N`` against the same store, as a runbook with patches would):

1. a transcript resolved before any recording exists; then 3 recordings, their
   transcripts and summaries computed from scratch
2. the same again: nothing to do
3. r1 re-recorded (new provenance), r4 added, r3 gone from the samples: r3 is orphaned at
   the root and deleted there, then orphaned downstream and deleted there too
4. the transcript's code version goes 1 -> 2: every transcript and summary comes back new,
   the recordings stay as they are
5. r2's transcript is deleted by hand: it comes back new and is recomputed; its summary
   has nothing to do (same transcript provenance)
6. the code version goes back to 1: the version-1 rows are current again, r2's included
   (the delete acted on version 2 only), so nothing is to do
"""

import narwhals as nw
import polars as pl
from pydantic import Field

import metaxy_tui as mx
import report

STEPS = 6
STEP = report.step()

config = mx.init()


class Recording(
    mx.BaseFeature,
    spec=mx.FeatureSpec(key="identity/recording", id_columns=["recording_id"], fields=["default"]),
):
    """A voice recording."""

    recording_id: str
    path: str
    duration_seconds: float = Field(description="Length of the recording")


class Transcript(
    mx.BaseFeature,
    spec=mx.FeatureSpec(
        key="identity/transcript",
        id_columns=["recording_id"],
        deps=[Recording],
        fields=[mx.FieldSpec(key="text", code_version="2" if STEP in (4, 5) else "1")],
    ),
):
    """Speech-to-text of one recording."""

    recording_id: str
    n_words: int = Field(description="Words in the transcript")


class Summary(
    mx.BaseFeature,
    spec=mx.FeatureSpec(
        key="identity/summary",
        id_columns=["recording_id"],
        deps=[mx.FeatureDep(feature=Transcript)],
        fields=["summary"],
    ),
):
    """A one-line summary of a transcript."""

    recording_id: str
    n_sentences: int


def recordings() -> pl.DataFrame:
    rows = [
        ("r1", "rec/r1.wav", 12.5, "r1_v2" if STEP >= 3 else "r1_v1"),
        ("r2", "rec/r2.wav", 30.0, "r2_v1"),
        ("r3", "rec/r3.wav", 7.25, "r3_v1"),
        ("r4", "rec/r4.wav", 61.0, "r4_v1"),
    ]
    if STEP >= 3:
        rows = [r for r in rows if r[0] != "r3"]
    else:
        rows = [r for r in rows if r[0] != "r4"]
    return pl.DataFrame(
        {
            "recording_id": [r[0] for r in rows],
            "path": [r[1] for r in rows],
            "duration_seconds": [r[2] for r in rows],
            "metaxy_provenance_by_field": [{"default": r[3]} for r in rows],
        }
    )


def to_compute(increment, columns) -> pl.DataFrame:
    """new + stale rows of an increment, reduced to what a compute step keeps."""
    keep = [*columns, "metaxy_provenance_by_field", "metaxy_provenance"]
    return pl.concat([increment.new.to_polars().select(keep), increment.stale.to_polars().select(keep)])


def main() -> None:
    store = config.get_store("dev")

    if STEP == 1:
        # nothing written yet: what does a derived feature resolve to?
        with store:
            try:
                report.resolve(
                    "identity/transcript",
                    store.resolve_update(Transcript),
                    ["recording_id"],
                    label="transcript before any recording",
                )
            except Exception as exc:  # Metaxy 0.1.11 raises here
                report.error("identity/transcript", exc, label="transcript before any recording")

    with store.open("w"):
        increment = store.resolve_update(Recording, samples=recordings())
        report.resolve("identity/recording", increment, ["recording_id"], extra=["path"])
        print(f"recordings: {len(increment.new)} new, {len(increment.stale)} changed, {len(increment.orphaned)} gone")
        if len(increment.new) or len(increment.stale):
            store.write(Recording, to_compute(increment, ["recording_id", "path", "duration_seconds"]))
        gone = increment.orphaned.to_polars()["recording_id"].to_list()
        if gone:
            store.delete(Recording, filters=[nw.col("recording_id").is_in(gone)])

    if STEP == 5:
        with store.open("w"):
            store.delete(Transcript, filters=[nw.col("recording_id") == "r2"], soft=True)

    with store.open("w"):
        increment = store.resolve_update(Transcript)
        report.resolve("identity/transcript", increment, ["recording_id"], extra=["duration_seconds"])
        todo = to_compute(increment, ["recording_id", "duration_seconds"])
        if todo.height:
            store.write(
                Transcript,
                todo.with_columns(n_words=(pl.col("duration_seconds") * 2).cast(pl.Int64)).drop("duration_seconds"),
            )
        gone = increment.orphaned.to_polars()["recording_id"].to_list()
        if gone:
            store.delete(Transcript, filters=nw.col("recording_id").is_in(gone))

    with store.open("w"):
        increment = store.resolve_update(Summary)
        report.resolve("identity/summary", increment, ["recording_id"], extra=["n_words"])
        todo = to_compute(increment, ["recording_id", "n_words"])
        if todo.height:
            store.write(Summary, todo.with_columns(n_sentences=pl.col("n_words") // 10).drop("n_words"))
        gone = increment.orphaned.to_polars()["recording_id"].to_list()
        if gone:
            store.delete(Summary, filters=[nw.col("recording_id").is_in(gone)])

    with store:
        for key, feature in (
            ("identity/recording", Recording),
            ("identity/transcript", Transcript),
            ("identity/summary", Summary),
        ):
            report.read(key, store.read(feature).collect().to_polars(), ["recording_id"])
    report.versions({"identity/recording": Recording, "identity/transcript": Transcript, "identity/summary": Summary})


if __name__ == "__main__":
    main()
