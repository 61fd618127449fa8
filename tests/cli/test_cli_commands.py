"""Every `metaxy-tui` subcommand's happy path, in process (click.testing.CliRunner on metaxy_tui.cli.cli).

Each test works on a private copy of the demo store (`demo_store`, tests/conftest.py) opened with
the global `--db`, so no project code is imported here: the commands read the graph recorded in
the store. Runs with a project's code (`--config`) are real subprocesses: test_cli_project.py.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from metaxy_tui.cli import cli

DEMO_DATA = Path(__file__).resolve().parents[2] / "sample_data" / "video_demo" / "data"
FEATURES = ["audio", "speaker/embedding", "video", "video/chunk", "video/face_detection", "video/transcript"]
COMMANDS = [
    "list",
    "describe",
    "graph",
    "status",
    "import",
    "resolve",
    "approve",
    "history",
    "export",
    "push",
    "trace",
    "diff",
    "demo",
    "copy",
]


def run(db: Path | str | None, *args: str, input: str | None = None):
    argv = (["--db", str(db)] if db is not None else []) + list(args)
    return CliRunner().invoke(cli, argv, input=input, catch_exceptions=False)


def ok(result) -> str:
    assert result.exit_code == 0, (result.exit_code, result.output)
    return result.stdout


def error_lines(result) -> list[str]:
    assert "Traceback" not in result.output
    return [line for line in result.stderr.splitlines() if line.strip()]


def one_error(result, code: int = 1) -> str:
    assert result.exit_code == code, (result.exit_code, result.output)
    lines = error_lines(result)
    assert len(lines) == 1, lines
    assert lines[0].startswith("metaxy-tui: error: "), lines
    return lines[0]


def status_json(db: Path) -> dict[str, dict]:
    return {s["feature"]: s for s in json.loads(ok(run(db, "status", "--format", "json")))}


# ----- list, describe, graph, status --------------------------------------------------------------


def test_list_plain_when_piped_and_json(demo_store):
    out = ok(run(demo_store, "list"))
    lines = out.splitlines()
    assert lines[0].split("\t") == ["feature", "version", "fields", "upstream"]  # plain, tab-separated
    rows = {line.split("\t")[0]: line.split("\t") for line in lines[1:]}
    assert list(rows) == FEATURES
    assert rows["audio"][1:] == ["c9762705", "default (80200592)", "-"]
    assert rows["speaker/embedding"][1:] == ["83296faf", "embedding (8b5b20fb)", "audio"]

    data = json.loads(ok(run(demo_store, "list", "--format", "json")))
    assert [d["feature"] for d in data] == FEATURES
    for d in data:
        assert set(d) >= {"feature", "version", "fields", "deps"}
        assert len(d["version"]) == 8 and all(len(v) == 8 for v in d["fields"].values())
    by = {d["feature"]: d for d in data}
    assert by["speaker/embedding"] == {
        "feature": "speaker/embedding",
        "version": "83296faf",
        "fields": {"embedding": "8b5b20fb"},
        "deps": ["audio"],
    }
    assert by["video"]["fields"] == {"audio": "eb91ed45", "frames": "53d88b74"}


def test_describe_text_and_json(demo_store):
    out = ok(run(demo_store, "describe", "speaker/embedding"))
    assert out.splitlines()[0].startswith("speaker/embedding  version 83296faf")
    assert "id columns: speaker_id" in out
    assert "pending: 1 added · 4 changed · 1 removed" in out
    assert "embedding\t1\t8b5b20fb\taudio.default" in out
    assert "audio\taggregation\tspeaker_id\tno" in out

    d = json.loads(ok(run(demo_store, "describe", "speaker/embedding", "--format", "json")))
    assert set(d) >= {"feature", "description", "version", "id_columns", "columns", "fields", "deps", "rows", "pending"}
    assert d["version"].startswith("83296faf") and len(d["version"]) == 64
    assert d["id_columns"] == ["speaker_id"]
    assert set(d["columns"]) == {"speaker_id", "n_dim", "path", "n_recordings"}
    assert d["fields"] == [
        {
            "field": "embedding",
            "code_version": "1",
            "version": d["fields"][0]["version"],
            "depends_on": ["audio.default"],
        }
    ]
    assert d["fields"][0]["version"].startswith("8b5b20fb")
    assert [(x["feature"], x["lineage"], x["on"]) for x in d["deps"]] == [("audio", "aggregation", ["speaker_id"])]
    assert d["rows"] == 40
    assert d["pending"] == {"added": 1, "changed": 4, "removed": 1}

    root = json.loads(ok(run(demo_store, "describe", "audio", "--format", "json")))
    assert root["rows"] == 301 and root["pending"] is None and root["deps"] == []


def test_graph_terminal_and_mermaid(demo_store):
    out = ok(run(demo_store, "graph"))
    for key in FEATURES:
        assert f"─ {key} " in out
    assert "version 83296faf" in out and "embedding (8b5b20fb)" in out
    assert "pending" in out  # statuses are drawn

    mmd = ok(run(demo_store, "graph", "--format", "mermaid"))
    lines = [line.strip() for line in mmd.splitlines()]
    assert lines[:4] == ["---", "title: Feature Graph", "---", "flowchart TB"]
    nodes = [line.split("[", 1)[0] for line in lines if '["<div' in line]
    assert nodes == ["audio", "speaker_embedding", "video", "video_chunk", "video_face_detection", "video_transcript"]
    edges = sorted(line for line in lines if "-->" in line)
    assert edges == [
        "audio --> speaker_embedding",
        "video --> video_chunk",
        "video_chunk --> video_face_detection",
        "video_chunk --> video_transcript",
    ]
    assert (
        'video_chunk["<div style="text-align:left"><b>video/chunk</b><br/>fd42acb9<br/><font color="#999">---'
        '</font><br/>- audio (b79ffd43)<br/>- frames (3b66894a)</div>"]'
    ) in lines


def test_graph_neighbourhood(demo_store):
    mmd = ok(run(demo_store, "graph", "--format", "mermaid", "--feature", "video/chunk", "--up", "1", "--down", "0"))
    nodes = [line.strip().split("[", 1)[0] for line in mmd.splitlines() if '["<div' in line]
    assert nodes == ["video", "video_chunk"]
    assert [line.strip() for line in mmd.splitlines() if "-->" in line] == ["video --> video_chunk"]

    mmd = ok(run(demo_store, "graph", "--format", "mermaid", "--feature", "video/chunk", "--up", "0"))
    nodes = {line.strip().split("[", 1)[0] for line in mmd.splitlines() if '["<div' in line}
    assert nodes == {"video_chunk", "video_face_detection", "video_transcript"}

    out = ok(run(demo_store, "graph", "--feature", "speaker/embedding", "--no-status"))
    assert "speaker/embedding" in out and "audio" in out and "video" not in out


def test_status_table_is_plain_when_piped(demo_store):
    out = ok(run(demo_store, "status"))
    lines = out.splitlines()
    assert lines[0] == "feature\tstatus\trows\tadded\tchanged\tremoved"
    assert "speaker/embedding\tpending\t40\t1\t4\t1" in lines
    assert "video/chunk\tpending\t3833\t1\t3\t0" in lines


def test_status_json_has_the_documented_keys(demo_store):
    data = json.loads(ok(run(demo_store, "status", "--format", "json")))
    assert [d["feature"] for d in data] == FEATURES
    for d in data:
        assert set(d) >= {"feature", "status", "rows", "added", "changed", "removed", "waiting_on", "error"}
        assert d["status"] in {"root", "up_to_date", "pending", "waiting", "error"}
        assert d["error"] is None
    by = {d["feature"]: d for d in data}
    assert (by["audio"]["status"], by["audio"]["rows"]) == ("root", 301)
    assert (
        by["speaker/embedding"]["status"],
        by["speaker/embedding"]["added"],
        by["speaker/embedding"]["changed"],
        by["speaker/embedding"]["removed"],
    ) == ("pending", 1, 4, 1)
    assert by["video/face_detection"]["status"] == "waiting"
    assert by["video/face_detection"]["waiting_on"] == ["video/chunk"]


def test_status_assert_in_sync_exits_1_with_pending_work(demo_store):
    r = run(demo_store, "status", "--assert-in-sync")
    assert r.exit_code == 1
    assert "speaker/embedding" in r.stdout  # the table is still printed
    assert error_lines(r) == ["metaxy-tui: not in sync: speaker/embedding, video/chunk"]
    r = run(demo_store, "status", "--assert-in-sync", "--format", "json")
    assert r.exit_code == 1 and json.loads(r.stdout)[1]["status"] == "pending"


def test_assert_in_sync_passes_on_a_demo_without_pending_work(tmp_path):
    db = tmp_path / "clean.db"
    out = ok(run(None, "demo", "--db", str(db), "--no-tui", "--no-pending"))
    assert out.strip() == str(db)
    r = run(db, "status", "--assert-in-sync")
    assert r.exit_code == 0, r.output
    assert r.stderr == ""


# ----- resolve ------------------------------------------------------------------------------------


def test_resolve_table_json_csv(demo_store):
    out = ok(run(demo_store, "resolve", "speaker/embedding"))
    assert out.splitlines()[0] == "speaker/embedding: 1 added · 4 changed · 1 removed"
    assert out.splitlines()[1] == "status\tspeaker_id\tprovenance"

    data = json.loads(ok(run(demo_store, "resolve", "speaker/embedding", "--format", "json")))
    assert set(data) >= {"feature", "key", "counts", "samples"}
    assert data["feature"] == "speaker/embedding" and data["key"] == ["speaker_id"]
    assert data["counts"] == {"added": 1, "changed": 4, "removed": 1}
    got = {(s["status"], s["speaker_id"]) for s in data["samples"]}
    assert got == {
        ("added", "spk_041"),
        ("changed", "spk_011"),
        ("changed", "spk_012"),
        ("changed", "spk_019"),
        ("changed", "spk_039"),
        ("removed", "spk_040"),
    }
    assert all(set(s) == {"status", "speaker_id", "provenance"} and s["provenance"] for s in data["samples"])

    rows = list(csv.DictReader(io.StringIO(ok(run(demo_store, "resolve", "video/chunk", "--format", "csv")))))
    assert list(rows[0]) == ["status", "video_id", "provenance"]
    assert {(r["status"], r["video_id"]) for r in rows} == {
        ("added", "v0121"),
        ("changed", "v0007"),
        ("changed", "v0042"),
        ("changed", "v0099"),
    }


def test_resolve_explain_names_the_changed_recordings(demo_store):
    data = json.loads(ok(run(demo_store, "resolve", "speaker/embedding", "--explain", "--format", "json")))
    assert set(data) >= {"feature", "key", "counts", "samples", "groups", "reasons"}
    for s in data["samples"]:
        assert {"reason", "reason_group"} <= set(s) and s["reason"]
    assert sum(g["count"] for g in data["groups"]) == 6
    kinds = {
        "never_computed",
        "new_upstream",
        "feature_version",
        "deleted_here",
        "upstream_changed",
        "upstream_gone",
        "upstream_version",
        "unknown_inputs",
    }
    for r in data["reasons"]:
        assert set(r) >= {"status", "kind", "key", "summary", "group", "fields", "upstream", "definition"}
        assert r["kind"] in kinds
    by_key = {r["key"]["speaker_id"]: r for r in data["reasons"]}
    spk019 = by_key["spk_019"]
    assert spk019["status"] == "changed" and spk019["kind"] == "upstream_changed"
    assert "a0001" in spk019["summary"]
    assert [(u["feature"], u["ids"], u["change"]) for u in spk019["upstream"]] == [
        ("audio", {"audio_id": "a0001"}, "changed")
    ]
    assert set(spk019["upstream"][0]["fields"]["default"]) == {"then", "now"}
    assert spk019["fields"][0]["field"] == "embedding" and spk019["fields"][0]["because"] == ["audio.default"]
    assert spk019["fields"][0]["then"] != spk019["fields"][0]["now"]
    # the other recordings make_pending_work changed, added and deleted
    assert "a0042" in by_key["spk_039"]["summary"] and "a0137" in by_key["spk_012"]["summary"]
    assert by_key["spk_041"]["kind"] == "new_upstream" and "a0301" in by_key["spk_041"]["summary"]
    assert by_key["spk_040"]["kind"] == "upstream_gone" and "a0300" in by_key["spk_040"]["summary"]

    out = ok(run(demo_store, "resolve", "speaker/embedding", "--explain"))
    line = next(x for x in out.splitlines() if x.startswith("changed\tspk_019\t"))
    assert "a0001" in line


def test_resolve_refuses_a_root_feature(demo_store):
    msg = one_error(run(demo_store, "resolve", "audio"))
    assert "audio is a root feature" in msg and "import audio" in msg


# ----- import -------------------------------------------------------------------------------------


def test_import_dry_run_writes_nothing(demo_store):
    before = demo_store.read_bytes()
    out = ok(run(demo_store, "import", "audio", str(DEMO_DATA / "audio_update.csv"), "--dry-run"))
    assert "3 added · 0 changed · 5 unchanged" in out and "nothing written" in out
    data = json.loads(
        ok(run(demo_store, "import", "audio", str(DEMO_DATA / "audio_update.csv"), "--dry-run", "--json"))
    )
    assert set(data) >= {
        "feature",
        "file",
        "rows",
        "added",
        "changed",
        "unchanged",
        "removed",
        "full_set",
        "provenance",
        "dry_run",
        "problems",
        "written",
    }
    assert (
        data["rows"],
        data["added"],
        data["changed"],
        data["unchanged"],
        data["dry_run"],
        data["written"],
        data["problems"],
    ) == (8, 3, 0, 5, True, 0, [])
    # another provenance mode: a hash of each row's content, so every known row now differs
    data = json.loads(
        ok(
            run(
                demo_store,
                "import",
                "audio",
                str(DEMO_DATA / "audio_update.csv"),
                "--dry-run",
                "--json",
                "--provenance",
                "content",
            )
        )
    )
    assert (data["provenance"], data["added"], data["changed"]) == ("content", 3, 5)
    assert demo_store.read_bytes() == before
    assert status_json(demo_store)["audio"]["rows"] == 301


def test_import_changes_statuses(demo_store):
    before = status_json(demo_store)
    out = ok(run(demo_store, "import", "audio", str(DEMO_DATA / "audio_update.csv")))
    assert "3 added" in out and "3 samples written to audio" in out
    after = status_json(demo_store)
    assert before["audio"]["rows"] == 301 and after["audio"]["rows"] == 304
    assert (before["speaker/embedding"]["changed"], after["speaker/embedding"]["changed"]) == (4, 6)
    # the same file again: nothing left to import
    data = json.loads(ok(run(demo_store, "import", "audio", str(DEMO_DATA / "audio_update.csv"), "--json")))
    assert (data["added"], data["changed"], data["unchanged"], data["written"]) == (0, 0, 8, 0)


def test_import_full_set_soft_deletes_what_the_file_lacks(demo_store, tmp_path):
    ok(run(demo_store, "export", "audio", "-o", str(tmp_path / "all.csv")))
    lines = (tmp_path / "all.csv").read_text().splitlines()
    (tmp_path / "ten.csv").write_text("\n".join(lines[:11]) + "\n")
    data = json.loads(ok(run(demo_store, "import", "audio", str(tmp_path / "ten.csv"), "--full-set", "--json")))
    assert (data["full_set"], data["unchanged"], data["removed"], data["deleted"]) == (True, 10, 291, 291)
    assert status_json(demo_store)["audio"]["rows"] == 10


BAD_ROWS = {  # (the CSV line, the problem it carries)
    "fraction": "a0900,spk_001,12.5,audio/a.flac,44100.5,2024-09-01T10:00:00",
    "missing_id": ",spk_002,13.5,audio/b.flac,16000,2024-09-01T10:00:00",
    "dup1": "a0901,spk_003,14.5,audio/c.flac,16000,2024-09-01T10:00:00",
    "dup2": "a0901,spk_003,15.5,audio/d.flac,16000,2024-09-01T10:00:00",
}
HEADER = "audio_id,speaker_id,duration_seconds,path,sample_rate,recorded_at"


def write_csv(path: Path, *rows: str) -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def test_import_bad_csv_names_row_and_column_and_writes_nothing(demo_store, tmp_path):
    bad = write_csv(tmp_path / "bad.csv", BAD_ROWS["fraction"], BAD_ROWS["missing_id"])
    before = demo_store.read_bytes()
    r = run(demo_store, "import", "audio", str(bad))
    assert r.exit_code == 1 and r.stdout == ""
    lines = error_lines(r)
    assert len(lines) == 2, lines
    assert all(line.startswith(f"metaxy-tui: error: {bad}: ") for line in lines)
    assert "row 1" in lines[0] and "'sample_rate'" in lines[0] and "44100.5" in lines[0]
    assert "row 2" in lines[1] and "'audio_id'" in lines[1]
    data = json.loads(run(demo_store, "import", "audio", str(bad), "--json").stdout)
    assert [(p["row"], p["column"]) for p in data["problems"]] == [(1, "sample_rate"), (2, "audio_id")]
    assert data["written"] == 0
    assert demo_store.read_bytes() == before


def test_import_duplicate_ids_are_refused(demo_store, tmp_path):
    bad = write_csv(tmp_path / "dup.csv", BAD_ROWS["dup1"], BAD_ROWS["dup2"])
    before = demo_store.read_bytes()
    msg = one_error(run(demo_store, "import", "audio", str(bad)))
    assert "duplicate id" in msg and "audio_id='a0901'" in msg and "rows 1, 2" in msg
    assert demo_store.read_bytes() == before


def test_import_bad_csv_reports_every_problem(demo_store, tmp_path):
    bad = write_csv(tmp_path / "bad.csv", *BAD_ROWS.values())
    before = demo_store.read_bytes()
    r = run(demo_store, "import", "audio", str(bad))
    assert demo_store.read_bytes() == before
    assert r.exit_code == 1
    lines = error_lines(r)
    assert any("row 1" in x and "sample_rate" in x for x in lines)
    assert any("row 2" in x and "audio_id" in x for x in lines)
    assert any("duplicate" in x and "a0901" in x and "3, 4" in x for x in lines), lines
    assert len(lines) == 3


def test_import_unknown_provenance_mode_is_a_usage_error(demo_store):
    r = run(demo_store, "import", "audio", str(DEMO_DATA / "audio_update.csv"), "--provenance", "bogus")
    assert r.exit_code in (1, 2), r.output
    assert "internal error" not in r.stderr and "bogus" in r.stderr


# ----- export -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json"])
def test_export_round_trips(demo_store, tmp_path, fmt):
    target = tmp_path / f"speakers.{fmt}"
    out = ok(run(demo_store, "export", "audio", "--format", fmt, "-o", str(target)))
    assert out.strip() == f"301 rows of audio written to {target} ({fmt})"
    df = {"csv": pl.read_csv, "parquet": pl.read_parquet, "json": pl.read_json}[fmt](target)
    assert df.height == 301
    assert df.get_column("audio_id").n_unique() == 301
    assert {"audio_id", "speaker_id", "metaxy_provenance"} <= set(df.columns)
    # read back in: every sample is known and unchanged
    data = json.loads(ok(run(demo_store, "import", "audio", str(target), "--dry-run", "--json")))
    assert (data["rows"], data["added"], data["changed"], data["unchanged"]) == (301, 0, 0, 301)


def test_export_derived_feature_by_extension_and_filter(demo_store, tmp_path):
    ok(run(demo_store, "export", "video/chunk", "-o", str(tmp_path / "chunks.json")))
    assert len(json.loads((tmp_path / "chunks.json").read_text())) == 3833
    ok(run(demo_store, "export", "audio", "-o", str(tmp_path / "s19.csv"), "--filter", "spk_019"))
    df = pl.read_csv(tmp_path / "s19.csv")
    assert df.height > 0 and set(df.get_column("speaker_id")) == {"spk_019"}


def test_export_refuses_to_overwrite_and_unknown_formats(demo_store, tmp_path):
    target = tmp_path / "a.csv"
    target.write_text("keep me")
    assert "--force" in one_error(run(demo_store, "export", "audio", "-o", str(target)))
    assert target.read_text() == "keep me"
    ok(run(demo_store, "export", "audio", "-o", str(target), "--force"))
    assert pl.read_csv(target).height == 301
    assert "--format" in one_error(run(demo_store, "export", "audio", "-o", str(tmp_path / "a.txt")))
    assert not (tmp_path / "a.txt").exists()


# ----- approve and history ------------------------------------------------------------------------


def history(db: Path, *args: str) -> list[dict]:
    return json.loads(ok(run(db, "history", "--format", "json", *args)))


def test_approve_accept_ids_then_history(demo_store):
    out = ok(run(demo_store, "approve", "speaker/embedding", "--accept", "--ids", "spk_019", "--yes"))
    assert out.strip() == "accept speaker/embedding: 1 of 1 samples, ok"
    log = history(demo_store)
    assert len(log) == 1
    entry = log[0]
    assert set(entry) >= {
        "id",
        "at",
        "user",
        "action",
        "feature",
        "feature_version",
        "n_samples",
        "ids",
        "duration_s",
        "outcome",
        "detail",
    }
    assert (entry["action"], entry["feature"], entry["n_samples"], entry["ids"], entry["outcome"]) == (
        "accept",
        "speaker/embedding",
        1,
        [{"speaker_id": "spk_019"}],
        "ok",
    )
    assert entry["feature_version"].startswith("83296faf")
    assert entry["at"].endswith("+00:00")
    resolved = json.loads(ok(run(demo_store, "resolve", "speaker/embedding", "--format", "json")))
    assert "spk_019" not in {s["speaker_id"] for s in resolved["samples"]}
    assert resolved["counts"] == {"added": 1, "changed": 3, "removed": 1}


@pytest.fixture
def codeless_store(demo_store):
    """The demo store, but recorded as another project: opened with --db alone, it has no code."""
    conn = sqlite3.connect(demo_store)
    conn.execute("UPDATE _metaxy_snapshots SET project = 'elsewhere'")
    conn.commit()
    conn.close()
    return demo_store


def test_approve_recompute_without_a_compute_function_fails_and_is_audited(codeless_store):
    # a store opened with --db alone has no code: the attempt fails, says why, and is recorded
    demo_store = codeless_store
    r = run(demo_store, "approve", "speaker/embedding", "--recompute", "--ids", "spk_019", "--yes")
    assert r.exit_code == 1
    assert "no compute function" in r.stdout
    [entry] = history(demo_store)
    assert (entry["action"], entry["outcome"], entry["ids"]) == ("recompute", "failed", [{"speaker_id": "spk_019"}])


def test_approve_delete_removed_and_multi_column_ids(demo_store):
    out = ok(run(demo_store, "approve", "speaker/embedding", "--delete-removed", "--all", "--yes"))
    assert out.strip() == "delete_removed speaker/embedding: 1 of 1 samples, ok"
    assert status_json(demo_store)["speaker/embedding"]["removed"] == 0
    ok(run(demo_store, "approve", "video/chunk", "--accept", "--ids", "video_id=v0007", "--yes"))
    log = history(demo_store)
    assert [(e["action"], e["feature"], e["ids"]) for e in log] == [
        ("accept", "video/chunk", [{"video_id": "v0007"}]),
        ("delete_removed", "speaker/embedding", [{"speaker_id": "spk_040"}]),
    ]


def test_history_filters(demo_store):
    ok(run(demo_store, "approve", "speaker/embedding", "--delete-removed", "--all", "--yes"))
    ok(run(demo_store, "approve", "video/chunk", "--accept", "--all", "--yes"))
    assert [e["feature"] for e in history(demo_store)] == ["video/chunk", "speaker/embedding"]
    assert [e["feature"] for e in history(demo_store, "--feature", "speaker/embedding")] == ["speaker/embedding"]
    assert len(history(demo_store, "--since", "1h")) == 2
    assert len(history(demo_store, "--since", "2000-01-01")) == 2
    assert history(demo_store, "--since", "2999-01-01T00:00") == []
    assert len(history(demo_store, "--limit", "1")) == 1
    table = ok(run(demo_store, "history"))
    assert table.splitlines()[0] == "time\tuser\taction\tfeature\tversion\tsamples\tseconds\toutcome"
    assert "\taccept\tvideo/chunk\tfd42acb9\t" in table
    assert "--since" in one_error(run(demo_store, "history", "--since", "yesterday"), 2)


def test_approve_needs_an_action_and_a_selection(demo_store):
    before = demo_store.read_bytes()
    # wrong arguments are usage errors (exit 2); asking for something impossible is bad input (exit 1)
    assert "--recompute" in one_error(run(demo_store, "approve", "speaker/embedding", "--yes"), 2)
    assert "--ids" in one_error(run(demo_store, "approve", "speaker/embedding", "--accept", "--yes"), 2)
    assert "--all-pending" in one_error(run(demo_store, "approve", "--all-pending", "--accept", "--yes"), 2)
    assert "root feature" in one_error(run(demo_store, "approve", "audio", "--accept", "--all", "--yes"))
    msg = one_error(run(demo_store, "approve", "video/face_detection", "--accept", "--ids", "v0007", "--yes"), 2)
    assert "video_id, chunk_id" in msg
    assert "not a int" in one_error(
        run(demo_store, "approve", "video/face_detection", "--accept", "--ids", "video_id=v0007,chunk_id=x", "--yes"), 2
    )
    assert demo_store.read_bytes() == before


def test_approve_refuses_two_actions(demo_store):
    before = demo_store.read_bytes()
    r = run(demo_store, "approve", "speaker/embedding", "--recompute", "--accept", "--all", "--yes")
    assert r.exit_code in (1, 2), r.output
    assert demo_store.read_bytes() == before


def test_approve_malformed_ids_is_bad_input(demo_store):
    r = run(demo_store, "approve", "video/face_detection", "--accept", "--ids", "video_id=v0007,chunk_id", "--yes")
    assert r.exit_code == 2, r.output  # a malformed argument: a usage error
    assert "internal error" not in r.stderr and "--ids" in r.stderr


def test_history_since_out_of_range_is_bad_input(demo_store):
    r = run(demo_store, "history", "--since", "99999999999d")
    assert r.exit_code == 2, r.output  # a malformed argument: a usage error
    assert "internal error" not in r.stderr and "--since" in r.stderr


def test_approve_all_pending_says_why_it_skipped(codeless_store):
    r = run(codeless_store, "approve", "--all-pending", "--yes")
    assert r.exit_code == 1, r.output  # not everything could be done
    assert "no compute function" in r.output, r.output


# ----- push, diff and demo (what can be done without project code) -----------------------------------


def test_push_and_diff_code_need_project_code(codeless_store):
    demo_store = codeless_store
    before = demo_store.read_bytes()
    assert "metaxy.toml" in one_error(run(demo_store, "push"))
    assert "no feature code" in one_error(run(demo_store, "diff"))
    out = ok(run(demo_store, "diff", "latest", "latest"))
    assert out.splitlines() == [out.splitlines()[0], "no changes"]
    data = json.loads(ok(run(demo_store, "diff", "1", "latest", "--format", "json")))
    assert data["changes"] == [] and data["from"] == data["to"]
    assert "no snapshot '99'" in one_error(run(demo_store, "diff", "99", "latest"))
    assert demo_store.read_bytes() == before


def test_demo_builds_a_store_with_pending_work(tmp_path):
    db = tmp_path / "sub" / "demo.db"
    r = run(None, "demo", "--db", str(db), "--no-tui")
    assert ok(r).strip() == str(db)
    assert db.is_file()
    st = status_json(db)
    assert st["audio"]["rows"] == 301 and st["speaker/embedding"]["status"] == "pending"
    # rebuilding a demo store is allowed, overwriting anything else is not
    ok(run(None, "demo", "--db", str(db), "--no-tui"))
    other = tmp_path / "notes.db"
    other.write_bytes(b"precious" * 100)
    assert "not a demo store" in one_error(run(None, "demo", "--db", str(other), "--no-tui"))
    assert other.read_bytes() == b"precious" * 100


# ----- help and missing stores, for every command ---------------------------------------------------


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_every_help_has_an_example(command):
    r = CliRunner().invoke(cli, ([command] if command else []) + ["--help"])
    assert r.exit_code == 0
    assert "Example" in r.output
    assert "metaxy-tui " in r.output.split("Example", 1)[1]


@pytest.mark.parametrize(
    "args",
    [
        ["list"],
        ["describe", "audio"],
        ["graph"],
        ["status"],
        ["import", "audio", str(DEMO_DATA / "audio_update.csv")],
        ["resolve", "speaker/embedding"],
        ["approve", "--all-pending", "--yes"],
        ["history"],
        ["export", "audio", "-o", "{tmp}/x.csv"],
        ["push"],
        ["diff"],
        ["trace", "audio", "a0001"],
    ],
)
def test_missing_store_is_one_error_and_creates_nothing(tmp_path, args):
    missing = tmp_path / "nope.db"
    msg = one_error(run(missing, *[a.replace("{tmp}", str(tmp_path)) for a in args]))
    assert f"no store at {missing}" in msg
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_global_options_come_before_the_command(demo_store):
    r = CliRunner().invoke(cli, ["status", "--db", str(demo_store)])
    assert r.exit_code == 2 and "No such option" in r.stderr


def test_approve_ids_takes_several_ids_as_documented(demo_store):
    r = run(demo_store, "approve", "speaker/embedding", "--accept", "--ids", "spk_019", "spk_039", "--yes")
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == "accept speaker/embedding: 2 of 2 samples, ok"


def test_approve_repeated_ids(demo_store):
    out = ok(
        run(demo_store, "approve", "speaker/embedding", "--accept", "--ids", "spk_019", "--ids", "spk_039", "--yes")
    )
    assert out.strip() == "accept speaker/embedding: 2 of 2 samples, ok"
    [entry] = history(demo_store)
    assert sorted(d["speaker_id"] for d in entry["ids"]) == ["spk_019", "spk_039"]


def test_approve_ids_that_are_not_pending_are_named(demo_store):
    r = run(demo_store, "approve", "speaker/embedding", "--accept", "--ids", "spk_O19", "--yes")
    assert "spk_O19" in r.output, r.output
