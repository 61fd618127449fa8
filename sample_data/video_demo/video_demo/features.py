"""The video_demo feature graph.

    audio ──(N:1 on speaker_id)──> speaker/embedding

    video ──(1:N on video_id)──> video/chunk ──(1:1)──> video/face_detection   (field faces <- chunk.frames)
                                             └─(1:1)──> video/transcript       (field text  <- chunk.audio)

`video` has two fields, `audio` and `frames`; `video/chunk` maps them one to one (automatic
field mapping), and the two chunk-level models each read only one of them, so a change to a
video's frames recomputes face detection but not transcripts, and the other way round.
"""

from __future__ import annotations

from datetime import datetime

import metaxy_tui as mx


class Audio(
    mx.BaseFeature,
    spec=mx.FeatureSpec(
        key="audio",
        id_columns=["audio_id"],
        fields=["default"],
    ),
):
    """Audio recordings of speakers, one row per recording file."""

    audio_id: str
    speaker_id: str
    duration_seconds: float
    path: str
    sample_rate: int
    recorded_at: datetime


class SpeakerEmbedding(
    mx.BaseFeature,
    spec=mx.FeatureSpec(
        key="speaker/embedding",
        id_columns=["speaker_id"],
        deps=[
            mx.FeatureDep(
                feature=Audio,
                lineage=mx.LineageRelationship.aggregation(on=["speaker_id"]),
            )
        ],
        fields=[mx.FieldSpec(key="embedding", code_version="1")],
    ),
):
    """Speaker embedding aggregated from all of a speaker's audio recordings (N:1)."""

    speaker_id: str
    n_dim: int
    path: str
    n_recordings: int


class Video(
    mx.BaseFeature,
    spec=mx.FeatureSpec(
        key="video",
        id_columns=["video_id"],
        fields=["audio", "frames"],
    ),
):
    """Source videos, with separate provenance for their audio track and their frames."""

    video_id: str
    title: str
    path: str
    duration_s: float
    fps: float
    width: int
    height: int
    speaker_id: str | None
    recorded_at: datetime


class VideoChunk(
    mx.BaseFeature,
    spec=mx.FeatureSpec(
        key="video/chunk",
        id_columns=["video_id", "chunk_id"],
        deps=[
            mx.FeatureDep(
                feature=Video,
                lineage=mx.LineageRelationship.expansion(on=["video_id"]),
            )
        ],
        # no field deps: each field maps to the video field with the same key
        fields=["audio", "frames"],
    ),
):
    """Ten-second chunks cut from each video (1:N expansion)."""

    video_id: str
    chunk_id: int
    start_s: float
    end_s: float
    path: str


class FaceDetection(
    mx.BaseFeature,
    spec=mx.FeatureSpec(
        key="video/face_detection",
        id_columns=["video_id", "chunk_id"],
        deps=[VideoChunk],
        fields=[
            mx.FieldSpec(
                key="faces",
                code_version="1",
                deps=[mx.FieldDep(feature="video/chunk", fields=["frames"])],
            )
        ],
    ),
):
    """Faces detected in each chunk's frames (reads only the chunk's frames)."""

    video_id: str
    chunk_id: int
    n_faces: int
    max_confidence: float
    boxes_path: str


class Transcript(
    mx.BaseFeature,
    spec=mx.FeatureSpec(
        key="video/transcript",
        id_columns=["video_id", "chunk_id"],
        deps=[VideoChunk],
        fields=[
            mx.FieldSpec(
                key="text",
                deps=[mx.FieldDep(feature="video/chunk", fields=["audio"])],
            )
        ],
    ),
):
    """Speech transcript of each chunk's audio track (reads only the chunk's audio)."""

    video_id: str
    chunk_id: int
    text: str
    language: str
    n_words: int
    model: str
