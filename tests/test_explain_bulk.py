"""Explanations made in bulk: stable per sample, null `on` values left out (and said so), and the
fast JSON the same as the objects."""

from __future__ import annotations

import json

import polars as pl

import metaxy_tui as mx

G = mx.FeatureGraph()
with G.use():

    class Rec(mx.BaseFeature, spec=mx.FeatureSpec(key="rec", id_columns=["rec_id"], fields=["audio"])):
        rec_id: str
        speaker: str | None

    class Speaker(
        mx.BaseFeature,
        spec=mx.FeatureSpec(
            key="speaker",
            id_columns=["speaker"],
            deps=[mx.FeatureDep(Rec, lineage=mx.LineageRelationship.aggregation(on=["speaker"]))],
            fields=[mx.FieldSpec("embedding", code_version="1")],
        ),
    ):
        speaker: str

    class RecCopy(
        mx.BaseFeature, spec=mx.FeatureSpec(key="rec/copy", id_columns=["rec_id"], deps=[Rec], fields=["audio"])
    ):
        rec_id: str


def recs(*rows: tuple[str, str | None, str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "rec_id": [r[0] for r in rows],
            "speaker": [r[1] for r in rows],
            "metaxy_provenance_by_field": [{"audio": r[2]} for r in rows],
        },
        schema={
            "rec_id": pl.String,
            "speaker": pl.String,
            "metaxy_provenance_by_field": pl.Struct({"audio": pl.String}),
        },
    )


def groups_of(inc) -> pl.DataFrame:
    return inc.to_polars().unique(subset=["speaker"], keep="first") if hasattr(inc, "to_polars") else inc


def write_speakers(store, frame: pl.DataFrame) -> None:
    store.write_metadata(
        Speaker,
        frame.unique(subset=["speaker"], keep="first").select(
            "speaker", "metaxy_provenance_by_field", "metaxy_provenance"
        ),
    )


def test_a_new_speakers_reason_does_not_change_when_another_speaker_is_recomputed(tmp_path):
    with G.use(), mx.SQLiteMetadataStore(tmp_path / "s.db", graph=G) as store:
        store.write_metadata(Rec, recs(("a1", "s1", "1"), ("a2", "s1", "2"), ("a3", "s2", "3")))
        write_speakers(store, store.resolve_update(Speaker).added.to_polars())
        store.write_metadata(Rec, recs(("a9", "s9", "9"), ("a1", "s1", "1b")))  # a new speaker; s1 changes
        before = store.explain(Speaker).for_key({"speaker": "s9"})
        assert before.kind == "new_upstream" and "a9" in before.summary
        inc = store.resolve_update(Speaker)
        write_speakers(store, inc.changed.to_polars())  # recompute s1 only
        after = store.explain(Speaker)
        assert after.for_key({"speaker": "s1"}) is None
        assert after.for_key({"speaker": "s9"}) == before


def test_samples_without_a_group_are_left_out_everywhere(tmp_path):
    with G.use(), mx.SQLiteMetadataStore(tmp_path / "n.db", graph=G) as store:
        store.write_metadata(Rec, recs(("a1", "s1", "1"), ("a2", None, "2"), ("a3", None, "3"), ("a4", "s2", "4")))
        inc = store.resolve_update(Speaker)
        added = inc.added.to_polars()
        assert sorted(added.get_column("rec_id")) == ["a1", "a4"] and added.get_column("speaker").null_count() == 0
        assert store.pending_counts(Speaker) == inc.counts == {"added": 2, "changed": 0, "removed": 0}
        ex = store.explain(Speaker)
        assert {r.key["speaker"] for r in ex.reasons} == {"s1", "s2"}
        assert any("2 samples of rec have no speaker" in n and "no group" in n for n in ex.notes)
        write_speakers(store, added)  # the increment can be written as it is
        assert store.pending_counts(Speaker) == {"added": 0, "changed": 0, "removed": 0}
        # a member that loses its group is a change of that group, not a new null group
        store.write_metadata(Rec, recs(("a1", None, "1")))
        inc = store.resolve_update(Speaker)
        assert inc.counts == {"added": 0, "changed": 0, "removed": 1} == store.pending_counts(Speaker)
        reason = store.explain(Speaker).for_key({"speaker": "s1"})
        assert reason.kind == "upstream_gone" and "a1" in reason.summary


def test_the_fast_json_is_what_the_objects_say(tmp_path):
    with G.use(), mx.SQLiteMetadataStore(tmp_path / "j.db", graph=G) as store:
        store.write_metadata(Rec, recs(*[(f"a{i}", f"s{i % 3}", str(i)) for i in range(9)]))
        write_speakers(store, store.resolve_update(Speaker).added.to_polars())
        store.write_metadata(
            RecCopy,
            store.resolve_update(RecCopy)
            .added.to_polars()
            .select("rec_id", "metaxy_provenance_by_field", "metaxy_provenance"),
        )
        store.write_metadata(
            Rec, recs(("a1", "s1", 'q"uote\\'), ("a4", "s1", "4b"), ("a20", "s2", "new"), ("a30", "s7", "x"))
        )
        store.delete_metadata(Rec, ids=[{"rec_id": "a3"}])
        for feature in (Speaker, RecCopy):
            ex = store.explain(feature)
            assert ex.reasons, feature
            assert [json.loads(line) for line in ex.json_lines()] == [r.to_dict() for r in ex.reasons]
            assert sum(n for _g, n in ex.group_counts()) == len(ex.reasons)
        changed = store.explain(RecCopy).for_key({"rec_id": "a1"})
        assert changed.kind == "upstream_changed"
        assert changed.upstream[0].fields["audio"][1] == 'q"uote\\'
        assert changed.fields[0].because == ["rec.audio"]
        gone = store.explain(RecCopy).for_key({"rec_id": "a3"})
        assert gone.status == "removed" and "a3 is gone" in gone.summary
