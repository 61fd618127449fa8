"""The video_demo pipeline: load the upstream files, then bring every derived feature up to date.

    cd sample_data/video_demo
    python -m video_demo.pipeline             # materialize everything into demo.db
    python -m video_demo.pipeline --pending   # ... then change a few upstream samples (see README)

Only the public metaxy_tui API is used. Each derived feature has a deterministic "compute"
function (`COMPUTE`, keyed by feature key) that turns the rows of an increment (added plus
changed) into the rows to write; every written row carries the provenance of its increment
row, which is what makes the next `resolve_update` come back empty.

Lineage shapes, as the increments deliver them:
- identity (face detection, transcript): one row per chunk; write one row per row.
- expansion (video/chunk): one row per parent video; write one row per 10-second chunk,
  every chunk carrying its video's provenance.
- aggregation (speaker/embedding): one row per member recording; write one row per speaker.
"""

from __future__ import annotations

import argparse
import hashlib
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

import metaxy_tui as mx

from . import features as F
from . import generate_data as gen

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
PBF = "metaxy_provenance_by_field"
PROVENANCE = "metaxy_provenance"
SYSTEM_OUT = [PBF, PROVENANCE]

ROOT_FIELDS = {"audio": ["default"], "video": ["audio", "frames"]}
CHUNK_SECONDS = 10.0
EMBEDDING_DIM = 512
TRANSCRIBE_MODEL = "whisper-small"

Progress = Callable[[str, int, int], None]


# ----- reading the upstream files -----------------------------------------------------------


def with_provenance(df: pl.DataFrame, fields: list[str]) -> pl.DataFrame:
    """Fold flattened `provenance_<field>` columns into the `metaxy_provenance_by_field` struct."""
    flat = [f"provenance_{f}" for f in fields]
    return df.with_columns(pl.struct([pl.col(c).alias(f) for c, f in zip(flat, fields)]).alias(PBF)).drop(flat)


def _read(path: Path) -> pl.DataFrame:
    if path.suffix == ".csv":
        return pl.read_csv(path, try_parse_dates=True, schema_overrides={"speaker_id": pl.String})
    return pl.read_parquet(path)


def read_audio(path: Path | None = None) -> pl.DataFrame:
    """Audio samples (default data/audio.parquet), ready for resolve_update / write_metadata."""
    return with_provenance(_read(path or DATA_DIR / "audio.parquet"), ROOT_FIELDS["audio"])


def read_videos(path: Path | None = None) -> pl.DataFrame:
    """Video samples (default data/videos.csv), ready for resolve_update / write_metadata."""
    return with_provenance(_read(path or DATA_DIR / "videos.csv"), ROOT_FIELDS["video"])


# ----- deterministic "models" ---------------------------------------------------------------


def _digest(*parts: Any) -> bytes:
    return hashlib.sha256("/".join(str(p) for p in parts).encode("utf-8")).digest()


@mx.compute(F.VideoChunk)
def compute_chunks(videos: pl.DataFrame) -> pl.DataFrame:
    """Expansion: cut each video (one increment row per video) into 10-second chunks."""
    n = (pl.col("duration_s") / CHUNK_SECONDS).ceil().cast(pl.Int64).clip(lower_bound=1)
    out = (
        videos.select("video_id", "duration_s", PBF, PROVENANCE)
        .with_columns(pl.int_ranges(0, n).alias("chunk_id"))
        .explode("chunk_id")
        .with_columns((pl.col("chunk_id") * CHUNK_SECONDS).alias("start_s"))
    )
    out = out.with_columns(
        pl.min_horizontal(pl.col("start_s") + CHUNK_SECONDS, pl.col("duration_s")).alias("end_s"),
        pl.format("chunks/{}/{}.mp4", pl.col("video_id"), pl.col("chunk_id").cast(pl.String).str.zfill(4)).alias(
            "path"
        ),
    )
    return out.select("video_id", "chunk_id", "start_s", "end_s", "path", *SYSTEM_OUT)


_FACE_COUNTS = [0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 3, 4]


@mx.compute(F.FaceDetection)
def compute_face_detection(chunks: pl.DataFrame) -> pl.DataFrame:
    """Identity: a face count and best confidence per chunk, from a hash of ids and provenance."""
    n_faces, conf, boxes = [], [], []
    for vid, cid, pbf in chunks.select("video_id", "chunk_id", PBF).iter_rows():
        d = _digest("faces", vid, cid, pbf["faces"])
        n = _FACE_COUNTS[d[0] % len(_FACE_COUNTS)]
        n_faces.append(n)
        conf.append(0.0 if n == 0 else round(0.55 + int.from_bytes(d[1:3], "big") % 4400 / 10000, 4))
        boxes.append(f"faces/{vid}/{cid:04d}.json")
    return chunks.select("video_id", "chunk_id", *SYSTEM_OUT).with_columns(
        pl.Series("n_faces", n_faces, pl.Int64),
        pl.Series("max_confidence", conf, pl.Float64),
        pl.Series("boxes_path", boxes, pl.String),
    )


WORDS = {
    "en": (
        "so today we are going to look at the new setup and how it works in practice because "
        "honestly this part took longer than expected but the result is pretty good right "
        "let me show you what happens next"
    ).split(),
    "de": (
        "also heute schauen wir uns den neuen Aufbau an und wie das in der Praxis funktioniert "
        "ehrlich gesagt hat dieser Teil länger gedauert aber das Ergebnis ist ziemlich gut "
        "ich zeige euch was als nächstes passiert"
    ).split(),
    "fr": (
        "alors aujourd'hui on regarde la nouvelle installation et comment elle fonctionne en "
        "pratique honnêtement cette partie a pris plus de temps que prévu mais le résultat est "
        "plutôt bon je vous montre la suite"
    ).split(),
}
_LANGUAGES = ["en"] * 6 + ["de"] * 2 + ["fr"] * 2


def language_of(video_id: str) -> str:
    """Each video is in one language (60% en, 20% de, 20% fr)."""
    return _LANGUAGES[_digest("language", video_id)[0] % len(_LANGUAGES)]


def fake_sentence(language: str, seed: bytes) -> str:
    words = WORDS[language]
    n = 4 + seed[0] % 9
    picked = [words[seed[1 + i] % len(words)] for i in range(n)]
    return " ".join(picked).capitalize() + "."


@mx.compute(F.Transcript)
def compute_transcript(chunks: pl.DataFrame) -> pl.DataFrame:
    """Identity: a short fake sentence per chunk in the video's language, from a hash of ids and provenance."""
    text, language, n_words = [], [], []
    for vid, cid, pbf in chunks.select("video_id", "chunk_id", PBF).iter_rows():
        lang = language_of(vid)
        sentence = fake_sentence(lang, _digest("text", vid, cid, pbf["text"]))
        text.append(sentence)
        language.append(lang)
        n_words.append(len(sentence.split()))
    return chunks.select("video_id", "chunk_id", *SYSTEM_OUT).with_columns(
        pl.Series("text", text, pl.String),
        pl.Series("language", language, pl.String),
        pl.Series("n_words", n_words, pl.Int64),
        pl.lit(TRANSCRIBE_MODEL).alias("model"),
    )


@mx.compute(F.SpeakerEmbedding)
def compute_speaker_embedding(members: pl.DataFrame) -> pl.DataFrame:
    """Aggregation: reduce the member recordings (one increment row each) to one row per speaker."""
    return (
        members.group_by("speaker_id", maintain_order=True)
        .agg(pl.len().cast(pl.Int64).alias("n_recordings"), pl.col(PBF).first(), pl.col(PROVENANCE).first())
        .with_columns(
            pl.lit(EMBEDDING_DIM, pl.Int64).alias("n_dim"),
            pl.format("embeddings/{}.npy", pl.col("speaker_id")).alias("path"),
        )
        .select("speaker_id", "n_dim", "path", "n_recordings", *SYSTEM_OUT)
    )


COMPUTE: dict[str, Callable[[pl.DataFrame], pl.DataFrame]] = {
    "speaker/embedding": compute_speaker_embedding,
    "video/chunk": compute_chunks,
    "video/face_detection": compute_face_detection,
    "video/transcript": compute_transcript,
}
ROOT_SAMPLES: dict[str, Callable[[], pl.DataFrame]] = {"audio": read_audio, "video": read_videos}


# ----- materializing ------------------------------------------------------------------------


def _graph(store: mx.SQLiteMetadataStore) -> mx.FeatureGraph:
    return store.graph()


def _id_columns(store: mx.SQLiteMetadataStore, key: str) -> list[str]:
    return list(_graph(store).definition(key).id_columns)


def _todo(inc: mx.Increment) -> pl.DataFrame:
    frames = [f.to_polars() for f in (inc.added, inc.changed) if len(f)]
    return pl.concat(frames, how="vertical_relaxed") if frames else inc.added.to_polars()


def _summary(inc: mx.Increment) -> dict[str, int]:
    return dict(inc.counts) | {"written": 0, "deleted": 0}


def sync_root(
    store: mx.SQLiteMetadataStore,
    key: str,
    samples: pl.DataFrame,
    *,
    delete_removed: bool = True,
    materialization_id: str | None = None,
) -> dict[str, int]:
    """Make a root feature's current rows equal `samples`: write added/changed, soft-delete removed."""
    inc = store.resolve_update(key, samples=samples)
    out = _summary(inc)
    todo = _todo(inc)
    if todo.height:
        out["written"] = store.write_metadata(key, todo, materialization_id=materialization_id)
    if delete_removed and len(inc.removed):
        ids = inc.removed.to_polars().select(_id_columns(store, key))
        out["deleted"] = store.delete_metadata(key, ids=ids)
    return out


def materialize_feature(
    store: mx.SQLiteMetadataStore, key: str, *, delete_removed: bool = True, materialization_id: str | None = None
) -> dict[str, int]:
    """Resolve one derived feature, compute what is added or changed, write it; soft-delete removed."""
    inc = store.resolve_update(key)
    out = _summary(inc)
    todo = _todo(inc)
    ids = _id_columns(store, key)
    if todo.height:
        rows = COMPUTE[key](todo)
        out["written"] = store.write_metadata(key, rows, materialization_id=materialization_id)
        if len(inc.changed) and list(inc.key) != ids:
            # expansion: a recomputed parent may now have fewer children; hide the leftovers,
            # or the parent's children would disagree on provenance and stay "changed"
            parents = inc.changed.to_polars().select(inc.key).unique()
            stored = store.read_metadata(key, columns=ids).join(parents, on=list(inc.key), how="semi")
            stale = stored.join(rows.select(ids), on=ids, how="anti")
            if stale.height:
                out["deleted"] += store.delete_metadata(key, ids=stale)
    if delete_removed and len(inc.removed):
        gone = inc.removed.to_polars().select(ids).unique()
        out["deleted"] += store.delete_metadata(key, ids=gone)
    return out


def materialize(
    store: mx.SQLiteMetadataStore, *, progress: Progress | None = None, roots: bool = True, delete_removed: bool = True
) -> dict[str, dict[str, int]]:
    """Bring the demo's features up to date, in topological order.

    roots=True first syncs `audio` and `video` with the files in data/ (so upstream changes
    made by `make_pending_work` are reverted); roots=False leaves the roots as they are and
    only catches the derived features up with them. `progress(feature, done, total)` is
    called before the first feature and after each one. Returns, per feature, the counts
    of the increment it resolved (`added`, `changed`, `removed` samples) and the rows it
    `written` and `deleted`.
    """
    order = [k for k in _graph(store).plan().order() if k in COMPUTE or k in ROOT_SAMPLES]
    run_id = f"video_demo:{uuid.uuid4().hex[:12]}"
    report: dict[str, dict[str, int]] = {}
    if progress:
        progress("", 0, len(order))
    with store:
        for i, key in enumerate(order):
            if key in ROOT_SAMPLES:
                if roots:
                    report[key] = sync_root(
                        store, key, ROOT_SAMPLES[key](), delete_removed=delete_removed, materialization_id=run_id
                    )
            else:
                report[key] = materialize_feature(store, key, delete_removed=delete_removed, materialization_id=run_id)
            if progress:
                progress(key, i + 1, len(order))
    return report


# ----- pending work for the demo --------------------------------------------------------------


def make_pending_work(store: mx.SQLiteMetadataStore) -> dict[str, list[str]]:
    """Change a few upstream samples without recomputing anything downstream.

    audio: a0001, a0042, a0137 rewritten with new provenance; a0301 (new speaker spk_041) and
    a0302 added; a0300 (the only recording of spk_040) soft-deleted.
    video: v0007 and v0042 get new `frames` provenance, v0099 new `audio` provenance; v0121 added.
    All rows come from data/audio_update.csv and data/videos_update.parquet.
    Returns the ids touched, by kind.
    """
    audio_update = read_audio(DATA_DIR / "audio_update.csv")
    video_update = read_videos(DATA_DIR / "videos_update.parquet")
    audio_ids = gen.CHANGED_AUDIO + gen.NEW_AUDIO[:2]
    video_ids = gen.CHANGED_VIDEO_FRAMES + gen.CHANGED_VIDEO_AUDIO + gen.NEW_VIDEOS[:1]
    with store:
        store.write_metadata("audio", audio_update.filter(pl.col("audio_id").is_in(audio_ids)))
        store.delete_metadata("audio", ids=[{"audio_id": gen.SOLO_AUDIO}])
        store.write_metadata("video", video_update.filter(pl.col("video_id").is_in(video_ids)))
    return {
        "audio_changed": list(gen.CHANGED_AUDIO),
        "audio_added": gen.NEW_AUDIO[:2],
        "audio_deleted": [gen.SOLO_AUDIO],
        "video_frames_changed": list(gen.CHANGED_VIDEO_FRAMES),
        "video_audio_changed": list(gen.CHANGED_VIDEO_AUDIO),
        "video_added": gen.NEW_VIDEOS[:1],
    }


# ----- command line -------------------------------------------------------------------------


def _print_report(report: dict[str, dict[str, int]]) -> None:
    for key, c in report.items():
        extra = f", {c['deleted']} rows soft-deleted" if c["deleted"] else ""
        print(
            f"{key:<22} {c['added']:>5} added, {c['changed']:>5} changed, {c['removed']:>4} removed"
            f" -> {c['written']:>5} rows written{extra}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m video_demo.pipeline", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--derived-only",
        action="store_true",
        help="leave audio and video as stored; only catch the derived features up",
    )
    parser.add_argument(
        "--pending", action="store_true", help="afterwards, change a few upstream samples so that there is pending work"
    )
    args = parser.parse_args(argv)

    cfg = mx.init_metaxy()
    store = cfg.get_store("dev")
    t0 = time.perf_counter()
    report = materialize(store, roots=not args.derived_only)
    print(f"materialized into {store.path} in {time.perf_counter() - t0:.2f} s")
    _print_report(report)
    if args.pending:
        touched = make_pending_work(store)
        print("pending work created (nothing downstream recomputed):")
        for kind, ids in touched.items():
            print(f"  {kind}: {', '.join(ids)}")


if __name__ == "__main__":
    main()
