"""N:1 aggregation: audio recordings -> one embedding per speaker (the seed's pipeline, extended).

Runs:

1. 4 recordings of 2 speakers: 2 embeddings computed, each from 2 recordings
2. the same again: nothing to do
3. a1 re-recorded (a1_v2): only s1's embedding is recomputed
4. a5 added for s1: s1's embedding recomputed from 3 recordings
5. a2 gone from the samples: it is deleted, s1's embedding changes (a member removed)
6. s2's recordings (a3, a4) gone: deleted; s2's embedding is orphaned and deleted
7. a6 arrives without a speaker (null `on` value)
"""

import narwhals as nw
import polars as pl
from pydantic import Field

import metaxy_tui as mx
import report

STEPS = 7
STEP = report.step()

config = mx.init()


class Audio(
    mx.BaseFeature,
    spec=mx.FeatureSpec(key="audio", id_columns=["audio_id"], fields=["default"]),
):
    """Audio recordings of different speakers."""

    audio_id: str
    speaker_id: str | None = Field(description="Who speaks; unknown for some recordings")
    duration_seconds: float
    path: str


class SpeakerEmbedding(
    mx.BaseFeature,
    spec=mx.FeatureSpec(
        key="speaker/embedding",
        id_columns=["speaker_id"],
        deps=[mx.FeatureDep(feature=Audio, lineage=mx.LineageRelationship.aggregation(on=["speaker_id"]))],
        fields=[mx.FieldSpec(key="embedding", code_version="1")],
    ),
):
    """One embedding per speaker from all their recordings."""

    speaker_id: str
    n_dim: int
    path: str


def audio_samples() -> pl.DataFrame:
    rows = [
        ("a1", "s1", 30.5, "a1_v2" if STEP >= 3 else "a1_v1"),
        ("a2", "s1", 45.2, "a2_v1"),
        ("a3", "s2", 60.0, "a3_v1"),
        ("a4", "s2", 35.8, "a4_v1"),
    ]
    if STEP >= 4:
        rows.append(("a5", "s1", 25.0, "a5_v1"))
    if STEP >= 5:
        rows = [r for r in rows if r[0] != "a2"]
    if STEP >= 6:
        rows = [r for r in rows if r[1] != "s2"]
    if STEP >= 7:
        rows.append(("a6", None, 12.0, "a6_v1"))
    return pl.DataFrame(
        [
            {
                "audio_id": audio_id,
                "speaker_id": speaker_id,
                "duration_seconds": duration,
                "path": f"audio/{audio_id}.wav",
                "metaxy_provenance_by_field": {"default": provenance},
            }
            for audio_id, speaker_id, duration, provenance in rows
        ],
        schema_overrides={"speaker_id": pl.String},
    )


def main() -> None:
    store = config.get_store("dev")

    with store.open("w"):
        diff = store.resolve_update(Audio, samples=audio_samples())
        report.resolve("audio", diff, ["audio_id"], extra=["speaker_id"])
        if len(diff.new) > 0:
            print(f"Found {len(diff.new)} new audio recordings")
            store.write(Audio, diff.new)
        if len(diff.stale) > 0:
            print(f"Found {len(diff.stale)} changed audio recordings")
            store.write(Audio, diff.stale)
        if len(diff.orphaned) > 0:
            gone = diff.orphaned.to_polars()["audio_id"].to_list()
            print(f"Deleting {len(gone)} recordings no longer present")
            store.delete(Audio, filters=[nw.col("audio_id").is_in(gone)], soft=True)

    with store.open("w"):
        diff = store.resolve_update(SpeakerEmbedding)
        report.resolve("speaker/embedding", diff, ["speaker_id", "audio_id"], removed_ids=["speaker_id"])
        todo = pl.concat([diff.new.to_polars(), diff.stale.to_polars()], how="diagonal_relaxed")
        speakers = sorted(s for s in todo["speaker_id"].unique().to_list() if s is not None)
        print(f"Found {len(speakers)} speakers that need embedding computation")
        embeddings = []
        for speaker_id in speakers:
            members = todo.filter(pl.col("speaker_id") == speaker_id)
            print(f"  Computing embedding for speaker {speaker_id} from {len(members)} audio recordings")
            embeddings.append(
                {
                    "speaker_id": speaker_id,
                    "n_dim": 512,
                    "path": f"embeddings/{speaker_id}.npy",
                    "metaxy_provenance_by_field": members["metaxy_provenance_by_field"][0],
                    "metaxy_provenance": members["metaxy_provenance"][0],
                }
            )
        if embeddings:
            print(f"Writing embeddings for {len(embeddings)} speakers")
            store.write(SpeakerEmbedding, pl.DataFrame(embeddings))
        gone = diff.orphaned.to_polars()["speaker_id"].to_list()
        if gone:
            print(f"Deleting embeddings of {len(gone)} speakers without recordings")
            store.delete(SpeakerEmbedding, filters=nw.col("speaker_id").is_in(gone))

    with store:
        report.read("audio", store.read(Audio).collect().to_polars(), ["audio_id"])
        report.read("speaker/embedding", store.read(SpeakerEmbedding).collect().to_polars(), ["speaker_id"])


if __name__ == "__main__":
    main()
