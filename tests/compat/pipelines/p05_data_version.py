"""Data versions supplied by the writer: an unchanged content hash stops propagation.

image -> thumbnail -> caption. The image and thumbnail writers put a content hash in
``metaxy_data_version_by_field``; downstream provenance is computed from data versions.

Runs:

1. 3 images, their thumbnails and captions
2. the same again: nothing to do
3. i1 is uploaded again (new provenance) with the same pixels: the image changes, its
   data version does not, so the thumbnail has nothing to do
4. i2's pixels change, but its thumbnail comes out the same: the thumbnail is recomputed,
   its data version stays, so the caption has nothing to do
5. i3's pixels change and so does its thumbnail: the caption is recomputed
6. the same again: nothing to do
"""

import hashlib

import polars as pl
from pydantic import Field

import metaxy_tui as mx
import report

STEPS = 6
STEP = report.step()

config = mx.init()


class Image(
    mx.BaseFeature,
    spec=mx.FeatureSpec(key="dv/image", id_columns=["image_id"], fields=["pixels"]),
):
    """Uploaded images."""

    image_id: str
    uri: str
    pixels: str = Field(description="Stand-in for the image content")


class Thumbnail(
    mx.BaseFeature,
    spec=mx.FeatureSpec(
        key="dv/thumbnail", id_columns=["image_id"], deps=[Image], fields=[mx.FieldSpec(key="thumb", code_version="1")]
    ),
):
    """A small version of the image."""

    image_id: str
    thumb: str


class Caption(
    mx.BaseFeature,
    spec=mx.FeatureSpec(key="dv/caption", id_columns=["image_id"], deps=[Thumbnail], fields=["text"]),
):
    """A caption generated from the thumbnail."""

    image_id: str
    text: str


def content_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def images() -> pl.DataFrame:
    rows = [
        ("i1", "i1_v2" if STEP >= 3 else "i1_v1", "cat-on-sofa"),
        ("i2", "i2_v2" if STEP >= 4 else "i2_v1", "dog-in-park-retouched" if STEP >= 4 else "dog-in-park"),
        ("i3", "i3_v2" if STEP >= 5 else "i3_v1", "sunset-cropped" if STEP >= 5 else "sunset"),
    ]
    return pl.DataFrame(
        {
            "image_id": [r[0] for r in rows],
            "uri": [f"s3://bucket/{r[0]}.png" for r in rows],
            "pixels": [r[2] for r in rows],
            "metaxy_provenance_by_field": [{"pixels": r[1]} for r in rows],
        }
    )


def thumbnail_of(pixels: str) -> str:
    """Thumbnails lose the details: a retouch does not show, a crop does."""
    return pixels.replace("-retouched", "")[:12]


SYSTEM = ["metaxy_provenance_by_field", "metaxy_provenance"]


def to_compute(increment, columns) -> pl.DataFrame:
    keep = [*columns, *SYSTEM]
    return pl.concat([increment.new.to_polars().select(keep), increment.stale.to_polars().select(keep)])


def main() -> None:
    store = config.get_store("dev")

    with store.open("w"):
        increment = store.resolve_update(Image, samples=images())
        report.resolve("dv/image", increment, ["image_id"], data_versions=True)
        todo = to_compute(increment, ["image_id", "uri", "pixels"])
        if todo.height:
            store.write(
                Image,
                todo.with_columns(
                    metaxy_data_version_by_field=pl.struct(
                        pixels=pl.col("pixels").map_elements(content_hash, return_dtype=pl.String)
                    )
                ),
            )

    with store.open("w"):
        increment = store.resolve_update(Thumbnail)
        report.resolve("dv/thumbnail", increment, ["image_id"], data_versions=True)
        todo = to_compute(increment, ["image_id", "pixels"])
        if todo.height:
            thumbs = todo.with_columns(thumb=pl.col("pixels").map_elements(thumbnail_of, return_dtype=pl.String))
            store.write(
                Thumbnail,
                thumbs.drop("pixels").with_columns(
                    metaxy_data_version_by_field=pl.struct(
                        thumb=pl.col("thumb").map_elements(content_hash, return_dtype=pl.String)
                    )
                ),
            )

    with store.open("w"):
        increment = store.resolve_update(Caption)
        report.resolve("dv/caption", increment, ["image_id"], data_versions=True)
        todo = to_compute(increment, ["image_id", "thumb"])
        if todo.height:
            store.write(Caption, todo.with_columns(text=pl.format("a picture of {}", pl.col("thumb"))).drop("thumb"))

    with store:
        for key, feature in (("dv/image", Image), ("dv/thumbnail", Thumbnail), ("dv/caption", Caption)):
            report.read(key, store.read(feature).collect().to_polars(), ["image_id"])


if __name__ == "__main__":
    main()
