"""Deletes and re-adds: soft deletes hide rows until written again, hard deletes remove them.

document -> embedding (identity). Each run ends with reads of both features, with and
without the soft-deleted rows.

Runs:

1. 4 documents and their embeddings
2. d2 soft-deleted: the embedding of d2 is orphaned, and soft-deleted too
3. the documents are resolved again (from a listing of ids and provenance only): d2 is new (a deleted row is not current), written
   back, and its embedding is new again
4. d3 hard-deleted: gone from every read; its embedding is orphaned and hard-deleted
5. d4 soft-deleted, then the samples bring it back with a new provenance: new at the root,
   its (still stored) embedding is stale
6. d3 comes back: new everywhere
"""

import narwhals as nw
import polars as pl

import metaxy_tui as mx
import report

STEPS = 6
STEP = report.step()

config = mx.init()


class Document(
    mx.BaseFeature,
    spec=mx.FeatureSpec(key="del/document", id_columns=["doc_id"], fields=["default"]),
):
    """Documents to index."""

    doc_id: int
    title: str


class Embedding(
    mx.BaseFeature,
    spec=mx.FeatureSpec(
        key="del/embedding",
        id_columns=["doc_id"],
        deps=[Document],
        fields=[mx.FieldSpec(key="vector", code_version="1")],
    ),
):
    """A text embedding of a document."""

    doc_id: int
    dim: int


def documents() -> pl.DataFrame:
    ids = [1, 2, 3, 4] if STEP != 4 and STEP != 5 else [1, 2, 4]
    return pl.DataFrame(
        {
            "doc_id": ids,
            "title": [f"Document {i}" for i in ids],
            "metaxy_provenance_by_field": [
                {"default": f"d{i}_v2" if (i == 4 and STEP >= 5) else f"d{i}_v1"} for i in ids
            ],
        }
    )


def sync_documents(store) -> None:
    catalogue = documents()
    # resolve on the listing alone (ids and provenance), then load what is to be written
    listing = catalogue.select("doc_id", "metaxy_provenance_by_field")
    increment = store.resolve_update(Document, samples=listing)
    report.resolve("del/document", increment, ["doc_id"])
    for frame in (increment.new, increment.stale):
        if len(frame):
            store.write(Document, frame.to_polars().join(catalogue.select("doc_id", "title"), on="doc_id"))


def sync_embeddings(store, soft: bool = True) -> None:
    increment = store.resolve_update(Embedding)
    report.resolve("del/embedding", increment, ["doc_id"])
    for frame in (increment.new, increment.stale):
        if len(frame):
            store.write(
                Embedding,
                frame.to_polars()
                .select("doc_id", "metaxy_provenance_by_field", "metaxy_provenance")
                .with_columns(dim=pl.lit(384)),
            )
    gone = increment.orphaned.to_polars()["doc_id"].to_list()
    if gone:
        store.delete(Embedding, filters=[nw.col("doc_id").is_in(gone)], soft=soft)


def main() -> None:
    store = config.get_store("dev")

    with store.open("w"):
        if STEP == 2:
            store.delete(Document, filters=[nw.col("doc_id") == 2], soft=True)
        elif STEP == 4:
            store.delete(Document, filters=nw.col("doc_id") == 3, soft=False)
        elif STEP == 5:
            store.delete(Document, filters=[nw.col("doc_id") == 4])
        if STEP != 2 and STEP != 4:
            sync_documents(store)
        sync_embeddings(store, soft=STEP != 4)

    with store:
        for key, feature in (("del/document", Document), ("del/embedding", Embedding)):
            report.read(key, store.read(feature).collect().to_polars(), ["doc_id"])
            report.read(
                key,
                store.read(feature, include_soft_deleted=True).collect().to_polars(),
                ["doc_id"],
                label=f"read {key} with soft-deleted rows",
            )


if __name__ == "__main__":
    main()
