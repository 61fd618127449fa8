"""1:N expansion: videos -> chunks (keyed by their own id) -> face detection on the frames.

Chunks are identified by ``chunk_id`` alone; they carry the parent's ``video_id`` (the
expansion's ``on`` column), through which they are matched to their video. Face detection
reads only the chunks' ``frames`` field.

Runs:

1. 3 videos split into 2, 3 and 2 chunks; faces detected on all 7
2. the same again: nothing to do
3. v2's audio is re-encoded and it now splits into 2 chunks: its old chunks are deleted
   (by the parent's ``video_id``) and rewritten; face detection has nothing to redo for
   them (it reads only frames) and its result for the chunk that went is orphaned
4. v3 is gone: deleted; its chunks come back once as orphaned (one row for the parent)
   and are deleted by ``video_id``; their face detections are orphaned and deleted
5. the video's audio code version goes 1 -> 2: videos and chunks come back as new, face
   detection (frames only) still has nothing to do
6. the same again: nothing to do
"""

import narwhals as nw
import polars as pl
from pydantic import Field

import metaxy_tui as mx
import report

STEPS = 6
STEP = report.step()

config = mx.init()


class Video(
    mx.BaseFeature,
    spec=mx.FeatureSpec(
        key="video/raw",
        id_columns=["video_id"],
        fields=[mx.FieldSpec(key="audio", code_version="2" if STEP >= 5 else "1"), "frames"],
    ),
):
    """Raw videos."""

    video_id: str
    path: str = Field(description="Where the video is stored")


class VideoChunk(
    mx.BaseFeature,
    spec=mx.FeatureSpec(
        key=["video", "chunk"],
        id_columns=["chunk_id"],
        deps=[mx.FeatureDep(feature=Video, lineage=mx.LineageRelationship.expansion(on=["video_id"]))],
        fields=["audio", "frames"],
    ),
):
    """Fixed-length pieces of a video."""

    video_id: str = Field(description="The parent video")
    chunk_id: str
    path: str
    start_s: float


class FaceDetection(
    mx.BaseFeature,
    spec=mx.FeatureSpec(
        key=["video", "faces"],
        id_columns=["chunk_id"],
        deps=[VideoChunk],
        fields=[mx.FieldSpec(key="faces", code_version="1", deps=[mx.FieldDep(feature=VideoChunk, fields=["frames"])])],
    ),
):
    """Faces found in a chunk's frames."""

    chunk_id: str
    num_faces: int


def videos() -> pl.DataFrame:
    rows = [("v1", "a1_v1", "f1_v1"), ("v2", "a2_v2" if STEP >= 3 else "a2_v1", "f2_v1"), ("v3", "a3_v1", "f3_v1")]
    if STEP >= 4:
        rows = rows[:2]
    return pl.DataFrame(
        {
            "video_id": [r[0] for r in rows],
            "path": [f"videos/{r[0]}.mp4" for r in rows],
            "metaxy_provenance_by_field": [{"audio": r[1], "frames": r[2]} for r in rows],
        }
    )


def split(video_id: str) -> int:
    """How many chunks a video splits into (v2 splits differently once re-encoded)."""
    return {"v1": 2, "v2": 2 if STEP >= 3 else 3, "v3": 2}[video_id]


def main() -> None:
    store = config.get_store("dev")

    with store.open("w"):
        increment = store.resolve_update(Video, samples=nw.from_native(videos()))
        report.resolve("video/raw", increment, ["video_id"], extra=["path"])
        for frame in (increment.new, increment.stale):
            if len(frame) > 0:
                store.write(Video, frame)
        gone = increment.orphaned.to_polars()["video_id"].to_list()
        if gone:
            store.delete(Video, filters=[nw.col("video_id").is_in(gone)])

    with store.open("w"):
        increment = store.resolve_update(VideoChunk)
        report.resolve("video/chunk", increment, ["video_id"], extra=["path"])
        print(f"Found {len(increment.new)} new videos and {len(increment.stale)} stale videos that need chunking")
        parents = pl.concat(
            [
                increment.new.to_polars().select("video_id", "path", "metaxy_provenance_by_field", "metaxy_provenance"),
                increment.stale.to_polars().select(
                    "video_id", "path", "metaxy_provenance_by_field", "metaxy_provenance"
                ),
            ]
        )
        redo = increment.stale.to_polars()["video_id"].to_list()
        if redo:
            # a re-split replaces all of a stale video's chunks: drop the old ones by the parent's id
            store.delete(VideoChunk, filters=[nw.col("video_id").is_in(redo)])
        for row in parents.iter_rows(named=True):
            n = split(row["video_id"])
            chunks = pl.DataFrame(
                {
                    "video_id": [row["video_id"]] * n,
                    "chunk_id": [f"{row['video_id']}_{i}" for i in range(n)],
                    "path": [f"{row['path']}_{i}" for i in range(n)],
                    "start_s": [10.0 * i for i in range(n)],
                    # all the chunks of a video share its provenance
                    "metaxy_provenance_by_field": [row["metaxy_provenance_by_field"]] * n,
                    "metaxy_provenance": [row["metaxy_provenance"]] * n,
                }
            )
            print(f"Writing {n} chunks for video {row['video_id']}")
            store.write(VideoChunk, nw.from_native(chunks))
        gone = increment.orphaned.to_polars()["video_id"].to_list()
        if gone:
            # one orphaned row per parent: its video_id deletes every chunk of it
            store.delete(VideoChunk, filters=nw.col("video_id").is_in(gone))

    with store.open("w"):
        increment = store.resolve_update(FaceDetection)
        report.resolve("video/faces", increment, ["chunk_id"])
        print(
            f"Found {len(increment.new)} new video chunks and {len(increment.stale)} stale video chunks "
            "that need face recognition"
        )
        faces = [
            {
                "chunk_id": row["chunk_id"],
                "num_faces": int(row["chunk_id"][-1]) + 1,
                "metaxy_provenance_by_field": row["metaxy_provenance_by_field"],
                "metaxy_provenance": row["metaxy_provenance"],
            }
            for frame in (increment.new, increment.stale)
            for row in frame.to_polars().iter_rows(named=True)
        ]
        if faces:
            store.write(FaceDetection, pl.DataFrame(faces))
        gone = increment.orphaned.to_polars()["chunk_id"].to_list()
        if gone:
            store.delete(FaceDetection, filters=[nw.col("chunk_id").is_in(gone)])

    with store:
        report.read("video/raw", store.read(Video).collect().to_polars(), ["video_id"])
        report.read("video/chunk", store.read(VideoChunk).collect().to_polars(), ["chunk_id"])
        report.read("video/faces", store.read(FaceDetection).collect().to_polars(), ["chunk_id"])
    report.versions({"video/raw": Video, "video/chunk": VideoChunk, "video/faces": FaceDetection})


if __name__ == "__main__":
    main()
