"""Compute functions for the Ray tests: the demo's, failing on chosen samples.

A module of the project's own, outside site-packages (the tests put this folder on sys.path),
as a user's compute module is: the Ray executor must ship it to the workers.
"""

from __future__ import annotations

import os

import polars as pl
from video_demo.pipeline import compute_chunks

RAISING = "v0007"
CRASHING = "v0042"


def chunks_raising(videos: pl.DataFrame) -> pl.DataFrame:
    if RAISING in videos.get_column("video_id").to_list():
        raise RuntimeError("GPU on fire")
    return compute_chunks(videos)


def chunks_crashing(videos: pl.DataFrame) -> pl.DataFrame:
    """A lost worker: the process dies in the middle of the batch."""
    if CRASHING in videos.get_column("video_id").to_list():
        os._exit(1)
    return compute_chunks(videos)
