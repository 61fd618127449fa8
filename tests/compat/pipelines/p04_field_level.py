"""Field-level dependencies: a code change of one field moves only the fields that read it.

video (audio, frames) -> crop (audio <- video.audio, frames <- video.frames)
                         crop -> face_detection (faces <- crop.frames)
video -> speech_to_text (transcription <- video.audio)
crop + speech_to_text -> clip: audio and frames mapped automatically, summary on every
                         field, caption on speech_to_text.transcription and crop.frames

Runs:

1. 3 videos, everything computed
2. the same again: nothing to do
3. crop.audio's code version 1 -> 2: crop comes back new (its audio hashes move, its frames
   hashes do not), face_detection and speech_to_text have nothing to do, clip comes back new
4. video.frames' code version 1 -> 2: video, crop, face_detection and clip come back new;
   speech_to_text (audio only) has nothing to do
5. s2's audio is re-recorded: only the audio-derived fields of s2 move
6. the same again: nothing to do
"""

import polars as pl

import metaxy_tui as mx
import report
from metaxy_tui.metadata_store.system import SystemTableStorage

STEPS = 6
STEP = report.step()

config = mx.init()


class Video(
    mx.BaseFeature,
    spec=mx.FeatureSpec(
        key="fl/video",
        id_columns=["sample_uid"],
        fields=[
            mx.FieldSpec(key="audio", code_version="1"),
            mx.FieldSpec(key="frames", code_version="2" if STEP >= 4 else "1"),
        ],
    ),
):
    """Video metadata (root)."""

    sample_uid: int
    frames: int
    duration: float


class Crop(
    mx.BaseFeature,
    spec=mx.FeatureSpec(
        key="fl/crop",
        id_columns=["sample_uid"],
        deps=[mx.FeatureDep(feature=Video)],
        fields=[
            mx.FieldSpec(
                key="audio", code_version="2" if STEP >= 3 else "1", deps=[mx.FieldDep(feature=Video, fields=["audio"])]
            ),
            mx.FieldSpec(key="frames", code_version="1", deps=[mx.FieldDep(feature=Video, fields=["frames"])]),
        ],
    ),
):
    """Cropped video."""

    sample_uid: int
    width: int


class FaceDetection(
    mx.BaseFeature,
    spec=mx.FeatureSpec(
        key="fl/face_detection",
        id_columns=["sample_uid"],
        deps=[mx.FeatureDep(feature=Crop)],
        fields=[mx.FieldSpec(key="faces", code_version="1", deps=[mx.FieldDep(feature=Crop, fields=["frames"])])],
    ),
):
    """Faces in the cropped frames."""

    sample_uid: int
    n_faces: int


class SpeechToText(
    mx.BaseFeature,
    spec=mx.FeatureSpec(
        key="fl/stt",
        id_columns=["sample_uid"],
        deps=[mx.FeatureDep(feature=Video)],
        fields=[
            mx.FieldSpec(key="transcription", code_version="1", deps=[mx.FieldDep(feature=Video, fields=["audio"])])
        ],
    ),
):
    """Transcription of the audio track."""

    sample_uid: int
    n_words: int


class Clip(
    mx.BaseFeature,
    spec=mx.FeatureSpec(
        key="fl/clip",
        id_columns=["sample_uid"],
        deps=[
            mx.FeatureDep(feature=Crop, select=["width"]),
            mx.FeatureDep(feature=SpeechToText, select=["n_words"]),
        ],
        fields=[
            "audio",
            "frames",
            mx.FieldSpec(key="summary", deps=mx.SpecialFieldDep.ALL),
            mx.FieldSpec(
                key="caption",
                code_version="1",
                deps=[
                    mx.FieldDep(feature=SpeechToText, fields=["transcription"]),
                    mx.FieldDep(feature=Crop, fields=["frames"]),
                ],
            ),
        ],
    ),
):
    """A captioned clip built from the crop and the transcription."""

    sample_uid: int
    label: str


def videos() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "sample_uid": [1, 2, 3],
            "frames": [100, 250, 75],
            "duration": [4.0, 10.0, 3.0],
            "metaxy_provenance_by_field": [
                {"audio": "audio_1", "frames": "frames_1"},
                {"audio": "audio_2b" if STEP >= 5 else "audio_2", "frames": "frames_2"},
                {"audio": "audio_3", "frames": "frames_3"},
            ],
        }
    )


def pending(increment) -> pl.DataFrame:
    frames = [f.to_polars() for f in (increment.new, increment.stale)]
    return pl.concat([f for f in frames if f.height] or frames[:1], how="diagonal_relaxed")


def compute(store, key: str, feature, columns: dict) -> None:
    increment = store.resolve_update(feature)
    report.resolve(key, increment, ["sample_uid"])
    todo = pending(increment)
    print(f"{key}: {len(increment.new)} new, {len(increment.stale)} stale")
    if todo.height:
        out = todo.select("sample_uid", "metaxy_provenance_by_field", "metaxy_provenance").with_columns(
            **{name: expr for name, expr in columns.items()}
        )
        store.write(feature, out)


def main() -> None:
    store = config.get_store("dev")

    with store.open("w"):
        # as Metaxy's examples do: record the graph before computing anything
        result = SystemTableStorage(store).push_graph_snapshot()
        print(f"Graph project_version: {result.project_version}")
        report.event("push graph snapshot", has_project_version=bool(result.project_version))
        increment = store.resolve_update(Video, samples=videos())
        report.resolve("fl/video", increment, ["sample_uid"])
        todo = pending(increment)
        if todo.height:
            store.write(Video, todo)

    with store.open("w"):
        compute(store, "fl/crop", Crop, {"width": pl.lit(640)})
        compute(store, "fl/face_detection", FaceDetection, {"n_faces": pl.col("sample_uid") % 3})
        compute(store, "fl/stt", SpeechToText, {"n_words": pl.col("sample_uid") * 7})
        compute(store, "fl/clip", Clip, {"label": pl.format("clip-{}", pl.col("sample_uid"))})

    with store:
        for key, feature in (("fl/crop", Crop), ("fl/clip", Clip)):
            report.read(key, store.read(feature).collect().to_polars(), ["sample_uid"])
    report.versions(
        {
            "fl/video": Video,
            "fl/crop": Crop,
            "fl/face_detection": FaceDetection,
            "fl/stt": SpeechToText,
            "fl/clip": Clip,
        }
    )


if __name__ == "__main__":
    main()
