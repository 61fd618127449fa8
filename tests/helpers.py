"""Helpers shared by test files: `from tests.helpers import ...`."""

from __future__ import annotations

import hashlib
from pathlib import Path

import metaxy_tui as mx


def store_digest(path: Path) -> str:
    """The store's bytes: the database file and its write-ahead log."""
    h = hashlib.sha256()
    for suffix in ("", "-wal"):
        f = Path(str(path) + suffix)
        h.update(f.read_bytes() if f.exists() else b"")
    return h.hexdigest()


INITIAL = "__metaxy_initial__"  # a field's code version when none is given


def declare_seed(audio_cv: str = INITIAL, embedding_cv: str = "1"):
    """The seed's features (audio -> speaker/embedding by aggregation on speaker_id), declared in the active graph."""

    class Audio(
        mx.BaseFeature,
        spec=mx.FeatureSpec(
            key="audio", id_columns=["audio_id"], fields=[mx.FieldSpec("default", code_version=audio_cv)]
        ),
    ):
        audio_id: str
        speaker_id: str
        duration_seconds: float
        path: str

    class SpeakerEmbedding(
        mx.BaseFeature,
        spec=mx.FeatureSpec(
            key="speaker/embedding",
            id_columns=["speaker_id"],
            deps=[mx.FeatureDep(feature=Audio, lineage=mx.LineageRelationship.aggregation(on=["speaker_id"]))],
            fields=[mx.FieldSpec(key="embedding", code_version=embedding_cv)],
        ),
    ):
        speaker_id: str
        n_dim: int
        path: str

    return Audio, SpeakerEmbedding
