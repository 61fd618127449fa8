"""Generate the demo's upstream metadata into data/ (deterministic: fixed seed, stdlib `random`).

    python -m video_demo.generate_data          # from sample_data/video_demo/

Writes
    data/videos.csv              120 videos (v0001..v0120)
    data/audio.parquet           300 recordings (a0001..a0300) from 40 speakers (spk_001..spk_040)
    data/audio_update.csv        5 new recordings (a0301..a0305) and 3 changed ones (a0001, a0042, a0137)
    data/videos_update.parquet   2 new videos (v0121, v0122) and 3 changed ones:
                                 v0007 and v0042 (frames re-encoded), v0099 (audio remastered)

Provenance is flattened into one string column per field (`provenance_default` for audio,
`provenance_audio` / `provenance_frames` for videos) holding content-hash-like strings: the
first 16 hex digits of the SHA-1 of a made-up description of the content.

Shape guarantees the demo and tests rely on: spk_040 has exactly one recording (a0300), so
deleting it removes a speaker; a0301 is the first recording of a new speaker (spk_041); the
changed audio rows keep their speaker; changed videos keep their duration (same chunks).
The files are committed; rerunning this rewrites them byte for byte identically.
"""

from __future__ import annotations

import hashlib
import random
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

SEED = 20240501
DATA_DIR = Path(__file__).resolve().parent.parent / "data"

N_VIDEOS = 120
N_AUDIO = 300
N_SPEAKERS = 40

CHANGED_AUDIO = ["a0001", "a0042", "a0137"]
NEW_AUDIO = ["a0301", "a0302", "a0303", "a0304", "a0305"]
SOLO_AUDIO = "a0300"  # the only recording of spk_040
CHANGED_VIDEO_FRAMES = ["v0007", "v0042"]
CHANGED_VIDEO_AUDIO = ["v0099"]
NEW_VIDEOS = ["v0121", "v0122"]

FPS = [24.0, 25.0, 29.97, 30.0, 60.0]
RESOLUTIONS = [(1280, 720), (1920, 1080), (3840, 2160)]
SAMPLE_RATES = [16000, 22050, 44100, 48000]
SUBJECTS = [
    "Kitchen tour",
    "Morning standup recap",
    "Bike repair: rear derailleur",
    "Garden walkthrough",
    "Product demo",
    "Interview",
    "Conference talk",
    "Unboxing",
    "Piano practice",
    "Street market",
    "Cooking pasta",
    "Lab safety briefing",
    "Warehouse inventory",
    "Drone flyover",
    "Podcast episode",
    "Customer call",
    "Lecture: linear algebra",
    "Team offsite",
    "Beach sunset",
    "Workshop intro",
    "Sourdough bake",
    "Dog training",
    "Office hours",
    "Trail run",
    "Studio session",
]
SUFFIXES = ["take {n}", "part {n}", "day {n}", "v{n}", "episode {n}", "draft {n}"]
SUFFIX_WEIGHTS = [4, 3, 2, 1, 2, 1]


def content_hash(text: str) -> str:
    """A content-hash-like string: the first 16 hex digits of SHA-1(text)."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def _timestamp(rng: random.Random) -> datetime:
    start = datetime(2024, 1, 1, 8, 0, 0)
    return start + timedelta(days=rng.randrange(0, 366), seconds=rng.randrange(0, 12 * 3600))


def _video_row(rng: random.Random, n: int, speakers: list[str]) -> dict:
    vid = f"v{n:04d}"
    recorded = _timestamp(rng)
    subject = rng.choice(SUBJECTS)
    suffix = rng.choices(SUFFIXES, SUFFIX_WEIGHTS)[0].format(n=rng.randint(1, 9))
    width, height = rng.choices(RESOLUTIONS, [3, 6, 1])[0]
    if rng.random() < 0.45:
        path = f"s3://acme-media/raw/videos/{recorded:%Y/%m}/{vid}.mp4"
    else:
        path = f"videos/{recorded:%Y/%m}/{vid}.mp4"
    return {
        "video_id": vid,
        "title": f"{subject}, {suffix}",
        "path": path,
        "duration_s": round(rng.uniform(20.0, 600.0), 2),
        "fps": rng.choice(FPS),
        "width": width,
        "height": height,
        "speaker_id": rng.choice(speakers) if rng.random() < 0.4 else None,
        "recorded_at": recorded,
        "provenance_audio": content_hash(f"{vid}:audio-track:{path}:v1"),
        "provenance_frames": content_hash(f"{vid}:frames:{path}:{width}x{height}:v1"),
    }


def _audio_row(rng: random.Random, n: int, speaker: str) -> dict:
    aid = f"a{n:04d}"
    recorded = _timestamp(rng)
    rate = rng.choices(SAMPLE_RATES, [3, 1, 3, 4])[0]
    ext = "flac" if rate >= 44100 else "wav"
    if rng.random() < 0.5:
        path = f"s3://acme-speech/raw/{speaker}/{aid}.{ext}"
    else:
        path = f"audio/{speaker}/{aid}.{ext}"
    return {
        "audio_id": aid,
        "speaker_id": speaker,
        "duration_seconds": round(rng.uniform(2.0, 180.0), 2),
        "path": path,
        "sample_rate": rate,
        "recorded_at": recorded,
        "provenance_default": content_hash(f"{aid}:{speaker}:{path}:{rate}:v1"),
    }


def generate() -> dict[str, pl.DataFrame]:
    rng = random.Random(SEED)
    speakers = [f"spk_{i:03d}" for i in range(1, N_SPEAKERS + 1)]

    # audio: spk_001..spk_039 get two recordings each, then the rest at random; spk_040 only a0300
    regular = speakers[:-1]
    owners = regular * 2 + [rng.choice(regular) for _ in range(N_AUDIO - 1 - 2 * len(regular))]
    rng.shuffle(owners)
    owners.append(speakers[-1])
    audio_rows = [_audio_row(rng, i + 1, spk) for i, spk in enumerate(owners)]
    video_rows = [_video_row(rng, i + 1, speakers) for i in range(N_VIDEOS)]

    by_id = {r["audio_id"]: r for r in audio_rows}
    audio_update = []
    for aid in CHANGED_AUDIO:  # re-recorded: same speaker, new file contents
        row = dict(by_id[aid])
        row["duration_seconds"] = round(row["duration_seconds"] + rng.uniform(-1.5, 1.5), 2)
        row["provenance_default"] = content_hash(f"{aid}:{row['speaker_id']}:{row['path']}:v2")
        audio_update.append(row)
    new_speakers = ["spk_041", rng.choice(regular), rng.choice(regular), "spk_041", rng.choice(regular)]
    for aid, spk in zip(NEW_AUDIO, new_speakers):
        audio_update.append(_audio_row(rng, int(aid[1:]), spk))

    vby_id = {r["video_id"]: r for r in video_rows}
    videos_update = []
    for vid in CHANGED_VIDEO_FRAMES:  # re-encoded video stream, same audio track
        row = dict(vby_id[vid])
        row["provenance_frames"] = content_hash(f"{vid}:frames:{row['path']}:reencode-h265:v2")
        videos_update.append(row)
    for vid in CHANGED_VIDEO_AUDIO:  # remastered audio track, same frames
        row = dict(vby_id[vid])
        row["provenance_audio"] = content_hash(f"{vid}:audio-track:{row['path']}:remaster:v2")
        videos_update.append(row)
    for vid in NEW_VIDEOS:
        videos_update.append(_video_row(rng, int(vid[1:]), speakers))

    video_schema = {
        "video_id": pl.String,
        "title": pl.String,
        "path": pl.String,
        "duration_s": pl.Float64,
        "fps": pl.Float64,
        "width": pl.Int64,
        "height": pl.Int64,
        "speaker_id": pl.String,
        "recorded_at": pl.Datetime("us"),
        "provenance_audio": pl.String,
        "provenance_frames": pl.String,
    }
    audio_schema = {
        "audio_id": pl.String,
        "speaker_id": pl.String,
        "duration_seconds": pl.Float64,
        "path": pl.String,
        "sample_rate": pl.Int64,
        "recorded_at": pl.Datetime("us"),
        "provenance_default": pl.String,
    }
    return {
        "videos": pl.DataFrame(video_rows, schema=video_schema),
        "audio": pl.DataFrame(audio_rows, schema=audio_schema),
        "audio_update": pl.DataFrame(audio_update, schema=audio_schema),
        "videos_update": pl.DataFrame(videos_update, schema=video_schema),
    }


def write(data_dir: Path = DATA_DIR) -> list[Path]:
    frames = generate()
    data_dir.mkdir(parents=True, exist_ok=True)
    out = {
        "videos.csv": frames["videos"],
        "audio.parquet": frames["audio"],
        "audio_update.csv": frames["audio_update"],
        "videos_update.parquet": frames["videos_update"],
    }
    paths = []
    for name, df in out.items():
        path = data_dir / name
        if name.endswith(".csv"):
            df.write_csv(path, datetime_format="%Y-%m-%dT%H:%M:%S")
        else:
            df.write_parquet(path, statistics=False)
        paths.append(path)
    return paths


def main() -> None:
    for path in write():
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
