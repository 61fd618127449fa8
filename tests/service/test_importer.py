"""Importing samples from files: reading, mapping, validation, provenance, counts, the write."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import polars as pl
import pytest
import xxhash

import metaxy_tui as mx
from metaxy_tui.errors import InputError
from metaxy_tui.service.demo import demo_dir
from metaxy_tui.service.file_readers import read_table
from metaxy_tui.service.import_values import RowProblems, parse_text
from metaxy_tui.service.importer import ImportCancelled, apply_import, default_import_folder, plan_import, root_features
from metaxy_tui.service.project import Project
from metaxy_tui.service.status import all_statuses
from tests.helpers import store_digest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "import"
AUDIO_UPDATE = demo_dir() / "data" / "audio_update.csv"


def described(plan) -> list[str]:
    return [p.describe() for p in plan.problems]


# ----- reading files ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, rows", [("audio_new.csv", 2), ("audio.json", 2), ("audio.ndjson", 2), ("audio_new.parquet", 2)]
)
def test_read_table_reads_each_format(name, rows):
    df = read_table(FIXTURES / name)
    assert df.height == rows
    assert "audio_id" in df.columns


def test_csv_is_read_as_text_and_empty_fields_are_null(tmp_path):
    f = tmp_path / "a.csv"
    f.write_text("a,b\n1,\n,x\n")
    df = read_table(f)
    assert df.schema == {"a": pl.String, "b": pl.String}
    assert df.rows() == [("1", None), (None, "x")]


@pytest.mark.parametrize(
    "name, message, row",
    [
        ("ragged.csv", "line 3: 7 fields where the header has 6", 1),
        ("unterminated_quote.csv", "line 2: malformed CSV", 0),
        ("not_utf8.csv", "is not UTF-8 text", 0),
        ("broken.json", "malformed JSON at line 4, column 1", None),
        ("broken.ndjson", "line 2: malformed JSON", 1),
        ("arrays.json", "expected an object, found a JSON array", 0),
        ("not_parquet.parquet", "is not a Parquet file", None),
    ],
)
def test_malformed_files_name_file_and_row(name, message, row):
    with pytest.raises(InputError) as e:
        read_table(FIXTURES / name)
    assert e.value.source == str(FIXTURES / name)
    (problem,) = e.value.problems
    assert message in problem.message
    assert problem.row == row
    assert name in str(e.value)


def test_missing_folder_empty_and_unknown_kind_files(tmp_path):
    cases = {tmp_path / "nope.csv": "no such file", tmp_path: "is a folder, not a file"}
    (tmp_path / "empty.csv").write_text("")
    cases[tmp_path / "empty.csv"] = "the file is empty"
    (tmp_path / "notes.txt").write_text("a,b\n")
    cases[tmp_path / "notes.txt"] = "cannot tell the file's format from its extension '.txt'"
    for path, message in cases.items():
        with pytest.raises(InputError, match=message):
            read_table(path)
    assert read_table(tmp_path / "notes.txt", format="csv").columns == ["a", "b"]


def test_header_problems(tmp_path):
    (tmp_path / "dup.csv").write_text("a,b,a\n1,2,3\n")
    with pytest.raises(InputError, match="names column 'a' twice"):
        read_table(tmp_path / "dup.csv")
    (tmp_path / "blank.csv").write_text("a,,c\n1,2,3\n")
    with pytest.raises(InputError, match="column 2 has no name"):
        read_table(tmp_path / "blank.csv")


def test_json_mixed_value_kinds_are_text_then_reported_per_row(project, tmp_path):
    f = tmp_path / "mixed.ndjson"
    f.write_text(
        '{"audio_id": "a1", "speaker_id": "s", "duration_seconds": 1.0, "path": "p", '
        '"sample_rate": 16000, "recorded_at": "2024-01-01T00:00:00"}\n'
        '{"audio_id": "a2", "speaker_id": "s", "duration_seconds": 1.0, "path": "p", '
        '"sample_rate": "fast", "recorded_at": "2024-01-01T00:00:00"}\n'
    )
    plan = plan_import(project, "audio", f)
    assert described(plan) == ["row 2, column 'sample_rate': not an integer: 'fast'"]


# ----- typed values out of text -------------------------------------------------------------------


def test_parse_text_ints():
    from metaxy_tui.columns import ColumnType

    problems = RowProblems()
    s = pl.Series("n", [" 1", "3.0", "1e3", None, "x", "2.5", "inf", "1e30"])
    values, failed = parse_text(s, ColumnType("int"), "n", problems)
    assert values.to_list()[:4] == [1, 3, 1000, None]
    assert failed.to_list() == [False, False, False, False, True, True, True, True]
    assert [(p.row, p.message) for p in problems.items] == [
        (4, "not an integer: 'x'"),
        (6, "infinite value where an integer is required: 'inf'"),
        (5, "fraction in an integer column: '2.5'"),
        (7, "integer does not fit in 64 bits: '1e30'"),
    ]


def test_parse_text_nan_in_optional_int_is_no_value_and_bools():
    from metaxy_tui.columns import ColumnType

    problems = RowProblems()
    values, failed = parse_text(pl.Series(["NaN", "4"]), ColumnType("int", nullable=True), "n", problems)
    assert values.to_list() == [None, 4] and not failed.any() and not problems.items
    values, failed = parse_text(pl.Series(["NaN"]), ColumnType("int"), "n", problems)
    assert problems.items[-1].message == "NaN where an integer is required"
    values, failed = parse_text(pl.Series(["Yes", "0", "false", None, "maybe"]), ColumnType("bool"), "b", problems)
    assert values.to_list()[:4] == [True, False, False, None]
    assert failed.to_list() == [False, False, False, False, True]
    assert problems.items[-1].describe() == "row 5, column 'b': not true/false: 'maybe'"


# ----- planning -----------------------------------------------------------------------------------


def test_root_features_and_default_folder(project):
    assert root_features(project) == ["audio", "video"]
    assert default_import_folder(project) == demo_dir() / "data"


def test_plan_audio_update_with_its_provenance_column(project):
    plan = plan_import(project, "audio", AUDIO_UPDATE)
    assert plan.problems == []
    assert plan.provenance == "column"
    assert plan.mapping["provenance_default"] == "metaxy_provenance_by_field.default"
    assert plan.column_states["provenance_default"] == "provenance"
    # make_pending_work already wrote a0001, a0042, a0137, a0301 and a0302 from this file
    assert (plan.added, plan.changed, plan.unchanged, plan.removed) == (3, 0, 5, 0)
    assert plan.absent == 296
    assert plan.summary() == "3 added · 0 changed · 5 unchanged"
    assert plan.absent_note() == "partial batch: 296 stored samples not in the file are kept"
    assert plan.preview_rows == list(range(8))
    assert plan.preview_status == ["unchanged"] * 5 + ["added"] * 3
    assert plan.preview_cells[0][0] == "a0001"


def test_plan_full_set_counts_removed(project):
    plan = plan_import(project, "audio", AUDIO_UPDATE, full_set=True)
    assert (plan.added, plan.changed, plan.unchanged, plan.removed) == (3, 0, 5, 296)
    assert plan.summary() == "3 added · 0 changed · 5 unchanged · 296 removed"
    assert plan.remove_ids.height == 296


def test_plan_content_provenance_ignores_provenance_columns(project):
    plan = plan_import(project, "audio", AUDIO_UPDATE, provenance="content")
    assert plan.provenance == "content"
    assert plan.column_states["provenance_default"] == "ignored"
    assert (plan.added, plan.changed, plan.unchanged) == (3, 5, 0)


def test_auto_provenance_without_a_provenance_column_is_content(project):
    plan = plan_import(project, "audio", FIXTURES / "with_files.csv")
    assert plan.provenance == "content"
    assert plan.added == 2


def test_mapping_is_case_insensitive_and_json_text_provenance(project):
    plan = plan_import(project, "audio", FIXTURES / "provenance_json.csv")
    assert plan.mapping["Audio_ID"] == "audio_id"
    assert plan.problems == []
    apply_import(project, plan)
    rows = project.store.read_metadata("audio", filters=pl.col("audio_id").is_in(["a0401", "a0402"]))
    assert sorted(r["default"] for r in rows["metaxy_provenance_by_field"]) == ["p401", "p402"]


def test_flat_provenance_columns(project):
    plan = plan_import(project, "audio", FIXTURES / "provenance_flat.csv")
    assert described(plan) == ["row 2, column 'metaxy_provenance_by_field.default': missing value for field 'default'"]


def test_explicit_mapping_ignores_and_renames(project):
    plan = plan_import(project, "audio", FIXTURES / "unknown_column.csv")
    assert described(plan) == [
        "column 'mood': unknown column (feature 'audio' has: audio_id, speaker_id, duration_seconds, path, "
        "sample_rate, recorded_at): map it to a feature column or ignore it, or keep it as a column of its own"
    ]
    assert plan.column_states["mood"] == "unknown"
    plan = plan_import(project, "audio", FIXTURES / "unknown_column.csv", mapping={"mood": None})
    assert plan.problems == [] and plan.added == 1
    assert plan.column_states["mood"] == "ignored"
    plan = plan_import(project, "audio", FIXTURES / "unknown_column.csv", mapping={"mood": "speaker"})
    assert "cannot map to 'speaker'" in described(plan)[0]
    plan = plan_import(project, "audio", FIXTURES / "audio_new.csv", mapping={"path": "speaker_id"})
    assert any("all map to 'speaker_id'" in d for d in described(plan))


def test_store_export_reimports_unchanged(project, tmp_path):
    """A file written from read_metadata carries system columns: they are ignored or used."""
    project.store.read_metadata("audio").write_parquet(tmp_path / "audio.parquet")
    plan = plan_import(project, "audio", tmp_path / "audio.parquet")
    assert plan.problems == []
    assert (plan.added, plan.changed, plan.unchanged) == (0, 0, 301)
    assert plan.column_states["metaxy_created_at"] == "ignored"


# ----- problems -----------------------------------------------------------------------------------


def test_bad_values_are_reported_in_one_pass(project):
    plan = plan_import(project, "audio", FIXTURES / "bad_values.csv")
    assert described(plan) == [
        "row 1, column 'sample_rate': fraction in an integer column: '44100.5'",
        "row 2, column 'duration_seconds': not a number: 'abc'",
        "row 3, column 'audio_id': missing (null) id value",
        "row 4, column 'duration_seconds': NaN where a number is required",
        "row 4, column 'sample_rate': integer does not fit in 64 bits: '99999999999999999999'",
        "row 5, column 'recorded_at': not a datetime (use ISO 8601, e.g. 2024-05-01T12:30:00)",
    ]
    assert plan.to_write is None and not plan.ok
    err = str(plan.error())
    assert "bad_values.csv" in err and "feature 'audio'" in err


@pytest.mark.parametrize(
    "name, expected",
    [
        ("duplicate_ids.csv", ["duplicate id (audio_id='a0401') in rows 1, 3"]),
        ("missing_id_column.csv", ["column 'audio_id': missing id column"]),
        ("nan_duration.parquet", ["row 2, column 'duration_seconds': NaN where a number is required"]),
        ("audio.ndjson", ["row 2, column 'sample_rate': fraction in an integer column"]),
        (
            "provenance_bad_json.csv",
            [
                "row 2, column 'metaxy_provenance_by_field': not a JSON object of field -> "
                'provenance (like {"default": "..."}): \'not json\''
            ],
        ),
    ],
)
def test_validation_problems(project, name, expected):
    assert described(plan_import(project, "audio", FIXTURES / name)) == expected


def test_many_bad_rows_are_summarised(project, tmp_path):
    rows = ["audio_id,speaker_id,duration_seconds,path,sample_rate,recorded_at"]
    rows += [f"a{i},s,{'x' if i % 2 else 1.0},p,16000,2024-01-01T00:00:00" for i in range(20)]
    (tmp_path / "many.csv").write_text("\n".join(rows) + "\n")
    plan = plan_import(project, "audio", tmp_path / "many.csv")
    assert described(plan) == ["column 'duration_seconds': not a number (and 5 more rows)"] + [
        f"row {r}, column 'duration_seconds': not a number: 'x'" for r in (2, 4, 6, 8, 10)
    ]
    assert plan.preview_rows == list(range(20))


def test_problem_rows_past_the_preview_are_shown(project, tmp_path):
    rows = ["audio_id,speaker_id,duration_seconds,path,sample_rate,recorded_at"]
    rows += [f"a{i},s,{'x' if i == 33 else 1.0},p,16000,2024-01-01T00:00:00" for i in range(40)]
    (tmp_path / "late.csv").write_text("\n".join(rows) + "\n")
    plan = plan_import(project, "audio", tmp_path / "late.csv")
    assert described(plan) == ["row 34, column 'duration_seconds': not a number: 'x'"]
    assert plan.preview_rows == list(range(20)) + [33]
    assert plan.preview_cells[-1][2] == "x"


def test_header_only_file_has_no_rows(project, tmp_path):
    (tmp_path / "h.csv").write_text("audio_id,speaker_id,duration_seconds,path,sample_rate,recorded_at\n")
    plan = plan_import(project, "audio", tmp_path / "h.csv", full_set=True)
    assert "the file has no rows" in described(plan)


def test_unreadable_file_is_a_problem_not_a_crash(project, tmp_path):
    plan = plan_import(project, "audio", tmp_path / "gone.csv")
    assert described(plan) == ["no such file"]
    assert str(tmp_path / "gone.csv") in str(plan.error())


def test_only_root_features(project):
    with pytest.raises(InputError, match="is not a root feature"):
        plan_import(project, "speaker/embedding", AUDIO_UPDATE)


# ----- provenance from content and from files -----------------------------------------------------


def _frame():
    return pl.DataFrame(
        {
            "audio_id": ["a0401", "a0402"],
            "speaker_id": ["s1", "s2"],
            "duration_seconds": [1.5, 2.0],
            "path": ["x", "y"],
            "sample_rate": [16000, 44100],
            "recorded_at": [dt.datetime(2024, 1, 1, 12), dt.datetime(2024, 1, 2, 12)],
        }
    )


def test_content_hash_is_the_same_from_csv_and_parquet(project, tmp_path):
    df = _frame()
    df.write_parquet(tmp_path / "a.parquet")
    df.with_columns(pl.col("recorded_at").dt.strftime("%Y-%m-%dT%H:%M:%S")).write_csv(tmp_path / "a.csv")
    a = plan_import(project, "audio", tmp_path / "a.parquet")
    b = plan_import(project, "audio", tmp_path / "a.csv")
    pa = a.to_write["metaxy_provenance_by_field"].to_list()
    assert pa == b.to_write["metaxy_provenance_by_field"].to_list()
    c = plan_import(project, "audio", df.with_columns(pl.lit(1.75).alias("duration_seconds")))
    assert c.to_write["metaxy_provenance_by_field"].to_list() != pa
    assert c.source is None


def test_file_provenance_hashes_the_named_files(project):
    plan = plan_import(project, "audio", FIXTURES / "with_files.csv", provenance="file:path")
    assert plan.problems == []
    expected = str(xxhash.xxh64_intdigest((FIXTURES / "blobs" / "one.bin").read_bytes()))
    first = plan.to_write.filter(pl.col("audio_id") == "a0401")
    assert first["metaxy_provenance_by_field"][0] == {"default": expected}


def test_file_provenance_reports_missing_and_remote_files(project):
    seen = []
    plan = plan_import(
        project, "audio", FIXTURES / "with_missing_file.csv", provenance="file:path", progress=lambda *a: seen.append(a)
    )
    assert described(plan) == [
        "row 2, column 'path': cannot hash the file 'blobs/gone.bin': no such file",
        "row 3, column 'path': cannot hash the file 's3://bucket/a0403.flac': not a local file (only local "
        "paths can be hashed)",
    ]
    assert seen[-1] == ("hashing files", 3, 3)


def test_file_provenance_needs_the_column(project):
    plan = plan_import(project, "audio", FIXTURES / "audio_new.csv", provenance="file:nope")
    assert "no column 'nope' to read file paths from" in described(plan)


def test_planning_can_be_cancelled(project):
    with pytest.raises(ImportCancelled):
        plan_import(project, "audio", FIXTURES / "with_files.csv", provenance="file:path", cancelled=lambda: True)


# ----- applying -----------------------------------------------------------------------------------


def test_apply_writes_added_and_changed_and_statuses_move(project):
    before = all_statuses(project)["speaker/embedding"]
    plan = plan_import(project, "audio", AUDIO_UPDATE)
    stages = []
    result = apply_import(project, plan, progress=lambda *a: stages.append(a))
    assert result.written == 3 and result.deleted == 0
    assert stages[0] == ("validating", 0, 3) and stages[-1] == ("writing", 3, 3)
    after = all_statuses(project)["speaker/embedding"]
    assert (before.added, before.changed) == (1, 4)
    assert (after.added, after.changed) == (1, 6)  # spk_001 and spk_023 gain a recording
    again = plan_import(project, "audio", AUDIO_UPDATE)
    assert (again.added, again.changed, again.unchanged) == (0, 0, 8)
    ids = project.store.read_metadata("audio", filters=pl.col("audio_id") == "a0305")
    assert ids["metaxy_materialization_id"].to_list() == ["import:audio_update.csv"]


def test_apply_full_set_soft_deletes_the_rest(project):
    plan = plan_import(project, "audio", AUDIO_UPDATE, full_set=True)
    result = apply_import(project, plan)
    assert (result.written, result.deleted) == (3, 296)
    assert project.store.count("audio") == 8


def test_failed_and_cancelled_imports_leave_the_store_unchanged(project, demo_store):
    digest = store_digest(demo_store)
    for name in (
        "bad_values.csv",
        "duplicate_ids.csv",
        "ragged.csv",
        "broken.json",
        "not_parquet.parquet",
        "unknown_column.csv",
        "nan_duration.parquet",
    ):
        plan = plan_import(project, "audio", FIXTURES / name)
        with pytest.raises(InputError):
            apply_import(project, plan)
    plan = plan_import(project, "audio", AUDIO_UPDATE, full_set=True)
    with pytest.raises(ImportCancelled):
        apply_import(project, plan, cancelled=lambda: True)
    calls = []

    def cancel_mid_write() -> bool:
        calls.append(1)
        return len(calls) > 1  # passes the check before the write, cancels at the first batch

    with pytest.raises(ImportCancelled):
        apply_import(project, plan, cancelled=cancel_mid_write)
    assert store_digest(demo_store) == digest
    assert project.store.count("audio") == 301


def test_a_store_error_during_the_write_rolls_back(project, demo_store, monkeypatch):
    plan = plan_import(project, "audio", AUDIO_UPDATE)
    count = project.store.count("audio")

    def boom(done, total):
        raise OSError("disk full")

    with pytest.raises(OSError):
        apply_import(project, plan, progress=lambda stage, d, t: boom(d, t) if stage == "writing" else None)
    assert project.store.count("audio") == count


def test_optional_and_bool_columns(graph, store_path, tmp_path):
    class Clip(mx.BaseFeature, spec=mx.FeatureSpec(key="clip", id_columns=["clip_id"])):
        clip_id: int
        loud: bool
        rating: int | None
        note: str | None

    store = mx.SQLiteMetadataStore(store_path, graph=graph)
    store.open("w")
    project = Project(store, graph, graph, graph, "test")
    f = tmp_path / "clips.csv"
    f.write_text("clip_id,loud,rating,note\n1,yes,,hi\n2,no,NaN,\n3,TRUE,4,x\n")
    plan = plan_import(project, "clip", f)
    assert plan.problems == []
    apply_import(project, plan)
    rows = store.read_metadata("clip").sort("clip_id")
    assert rows.select("clip_id", "loud", "rating", "note").rows() == [
        (1, True, None, "hi"),
        (2, False, None, None),
        (3, True, 4, "x"),
    ]
    f.write_text("clip_id,loud\n1.5,maybe\n")
    plan = plan_import(project, "clip", f)
    assert described(plan) == [
        "row 1, column 'clip_id': fraction in an integer column: '1.5'",
        "row 1, column 'loud': not true/false: 'maybe'",
    ]
    store.close()


def test_a_copy_of_the_demo_file_imports_from_elsewhere(project, tmp_path):
    copy = tmp_path / "audio_update.csv"
    shutil.copyfile(AUDIO_UPDATE, copy)
    assert plan_import(project, "audio", str(copy)).added == 3


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json", "ndjson"])
def test_brackets_in_file_names_are_not_patterns(tmp_path, fmt):
    df = pl.DataFrame({"a": [1]})
    f = tmp_path / f"[x]y.{fmt}"
    getattr(df, f"write_{fmt}")(f)
    assert read_table(f).height == 1


def test_complete_path_and_shown_path(tmp_path, monkeypatch):
    from metaxy_tui.service.importer import complete_path, shown_path

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "audio.csv").write_text("a\n")
    (tmp_path / "data" / "notes.txt").write_text("")
    (tmp_path / "data" / ".hidden.csv").write_text("")
    assert complete_path(str(tmp_path / "da")) == str(tmp_path / "data") + "/"
    assert complete_path(str(tmp_path / "data") + "/") == str(tmp_path / "data" / "audio.csv")
    assert complete_path(str(tmp_path / "data" / "n")) is None
    assert complete_path(str(tmp_path / "nope" / "x")) is None
    monkeypatch.chdir(tmp_path)
    assert shown_path(tmp_path / "data") == "data"
    assert shown_path(Path("/")) == "/"


def test_switching_to_full_set_needs_no_new_plan(project):
    plan = plan_import(project, "audio", AUDIO_UPDATE)
    assert plan.removed == 0 and plan.remove_ids is None
    plan.full_set = True
    assert plan.removed == 296 and plan.remove_ids.height == 296
    assert plan.summary().endswith("296 removed")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path):
    f = tmp_path / "locked.csv"
    f.write_text("a\n1\n")
    f.chmod(0)
    try:
        with pytest.raises(InputError, match="cannot be read"):
            read_table(f)
    finally:
        f.chmod(0o644)


def test_extra_columns_are_kept_only_when_asked(project):
    """SPEC 1: the import stays strict unless the user asks to keep the columns it cannot map."""
    plan = plan_import(project, "audio", FIXTURES / "unknown_column.csv", keep_extra=True)
    assert plan.problems == [] and plan.column_states["mood"] == "extra"
    apply_import(project, plan)
    rows = project.store.read_metadata("audio", filters=pl.col("audio_id") == "a0401")
    assert rows.get_column("mood").to_list() == ["happy"]
    others = project.store.read_metadata("audio", filters=pl.col("audio_id") != "a0401")
    assert others.get_column("mood").null_count() == others.height  # earlier rows read back null
