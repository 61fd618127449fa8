"""Hashes in SVG snapshots: masked in the stored file, checked against an independent derivation.

A snapshot accepted with `--snapshot-update` would accept whatever hash the engine printed. So
every hash-like token on screen is first checked here, in the same test, against values
derived without the engine's hashing code, then replaced by `#`s of the same length before
the SVG is compared or stored. A wrong version or provenance fails even after an update.

- Definition versions (SPEC §2): sha256 over the definitions, here with hashlib: field version
  = sha256("<feature>.<field>" + code_version + the parent fields' full versions, in sorted
  "<up>.<field>" order); feature version = sha256(field key + field version, over sorted fields);
  project version = sha256(key + feature version, over sorted features). Only the graph's
  structure (which field reads which) is taken from the engine; every stored snapshot counts.
- Sample provenance (SPEC §3): read raw from SQLite. A row's `metaxy_provenance` must equal
  H("|".join(its provenance by field, in field order)) computed here with xxhash / hashlib, for
  every row of every table. The hashes each derived feature (with one dep) should have now are
  computed here from the upstream rows (identity, expansion, aggregation), pending samples
  included. What may be shown is a derived value, a stored per-field hash or a data version (a
  cut value is checked as a prefix).
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import xxhash

from metaxy_tui.graph import FeatureGraph

# a hex run of 8+ or a decimal run of 12+ characters standing alone (not part of a word, a CSS colour, a path or
# a fraction); decimal runs shorter than 12 are counts and sizes
TOKEN = re.compile(r"(?<![#\w.,:-])(?:[0-9a-f]{8,64}|\d{12,20})(?![\w:-])")
HEXISH = re.compile(r"^(?=.*[a-f])[0-9a-f]+$|^\d+$")


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def definition_versions(graph: FeatureGraph) -> set[str]:
    """Every feature, field and project version of `graph`, derived here."""
    plan = graph.plan()
    field_versions: dict[tuple[str, str], str] = {}
    out: set[str] = set()
    for key in plan.order():
        fp = plan[key]
        for f in fp.definition.spec.fields:
            fk = f.key.to_string()
            parents = sorted(fp.field_parents[fk], key=lambda p: f"{p[0]}.{p[1]}")
            field_versions[key, fk] = _sha(f"{key}.{fk}" + f.code_version + "".join(field_versions[p] for p in parents))
    features = {}
    for key in plan.order():
        fields = sorted(f.key.to_string() for f in plan[key].definition.spec.fields)
        features[key] = _sha("".join(fk + field_versions[key, fk] for fk in fields))
    out |= set(field_versions.values()) | set(features.values())
    out.add(_sha("".join(k + features[k] for k in sorted(features))))
    return out


def _hasher(algorithm: str, truncation: str):
    cut = int(truncation) if truncation else None
    fn = {
        "xxhash64": lambda b: str(xxhash.xxh64_intdigest(b)),
        "xxhash32": lambda b: str(xxhash.xxh32_intdigest(b)),
        "sha256": lambda b: hashlib.sha256(b).hexdigest(),
        "md5": lambda b: hashlib.md5(b).hexdigest(),
    }[algorithm]
    return lambda text: fn(text.encode())[:cut]


def store_values(path: str | Path) -> tuple[set[str], set[str]]:
    """(provenance values derived here, every stored per-field hash and data version) of a store file;
    asserts that each stored row provenance is the derived one."""
    conn = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
    try:
        info = dict(conn.execute("SELECT key, value FROM _metaxy_info"))
        h = _hasher(info.get("hash_algorithm", "xxhash64"), info.get("hash_truncation_length", ""))
        derived: set[str] = set()
        stored: set[str] = set()
        versions: set[str] = set()
        for (graph_json,) in conn.execute("SELECT graph FROM _metaxy_snapshots"):
            versions |= definition_versions(FeatureGraph.from_snapshot(json.loads(graph_json)))
        for (table,) in conn.execute("SELECT table_name FROM _metaxy_features").fetchall():
            columns = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
            by_field = sorted(
                (c for c in columns if c.startswith("metaxy_provenance_by_field.")), key=lambda c: c.split(".", 1)[1]
            )
            data = [c for c in columns if c.startswith("metaxy_data_version")]
            picked = ", ".join(f'"{c}"' for c in [*by_field, "metaxy_provenance", *data])
            for row in conn.execute(f'SELECT {picked} FROM "{table}" WHERE metaxy_deleted_at IS NULL'):
                fields, provenance, rest = row[: len(by_field)], row[len(by_field)], row[len(by_field) + 1 :]
                if any(v is None for v in fields):
                    continue
                expected = h("|".join(fields))
                assert provenance == expected, f"{table}: stored provenance {provenance} != derived {expected}"
                derived.add(expected)
                stored |= {str(v) for v in (*fields, *rest) if v is not None}
        latest = conn.execute("SELECT graph FROM _metaxy_snapshots ORDER BY id DESC LIMIT 1").fetchone()
        if latest:
            derived |= expected_provenance(conn, FeatureGraph.from_snapshot(json.loads(latest[0])), h)
        return derived | versions, stored
    finally:
        conn.close()


def _current_rows(conn: sqlite3.Connection, plan, key: str) -> list[dict]:
    """The latest live rows of `key` under its current feature version, as dicts."""
    table = conn.execute("SELECT table_name FROM _metaxy_features WHERE feature_key = ?", (key,)).fetchone()
    fv = conn.execute(
        "SELECT id FROM _metaxy_feature_versions WHERE feature_key = ? AND feature_version = ?",
        (key, plan[key].feature_version),
    ).fetchone()
    if not table or not fv:
        return []
    cur = conn.execute(
        f'SELECT * FROM "{table[0]}" WHERE _mx_fv = ? AND _mx_superseded IS NULL AND metaxy_deleted_at IS NULL',
        (fv[0],),
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur]


def _data_version(row: dict, field: str) -> str:
    own = row.get(f"metaxy_data_version_by_field.{field}")
    return own if own is not None else row[f"metaxy_provenance_by_field.{field}"]


def expected_provenance(conn: sqlite3.Connection, graph: FeatureGraph, h) -> set[str]:
    """SPEC §3, computed here from the stored upstream rows: the field and row hashes every derived
    feature with one dep should have now (pending samples included). Features with several deps
    are left to the row-level check."""
    plan = graph.plan()
    out: set[str] = set()
    for key in plan.order():
        fp = plan[key]
        if len(fp.deps) != 1:
            continue
        dep = fp.deps[0]
        rows = _current_rows(conn, plan, dep.upstream)
        if not rows:
            continue
        if dep.dep.lineage.kind == "aggregation":
            ids = list(plan[dep.upstream].definition.id_columns)
            groups: dict[tuple, list[dict]] = {}
            for row in rows:
                on = tuple(row[c] for c in dep.on)
                if None not in on:
                    groups.setdefault(on, []).append(row)
            inputs = []
            for members in groups.values():
                members.sort(key=lambda r: tuple(r[c] for c in ids))
                fields = {f.key.to_string() for f in plan[dep.upstream].definition.spec.fields}
                inputs.append({uf: h("|".join(_data_version(m, uf) for m in members)) for uf in fields})
        else:  # identity and expansion: one input per upstream row (expansion children carry the parent's)
            inputs = [
                {
                    f.key.to_string(): _data_version(row, f.key.to_string())
                    for f in plan[dep.upstream].definition.spec.fields
                }
                for row in rows
            ]
        for values in inputs:
            field_hashes = {}
            for f in fp.definition.spec.fields:
                fk = f.key.to_string()
                parts = [fk, f.code_version]
                for up, uf in sorted(fp.field_parents[fk], key=lambda p: f"{p[0]}.{p[1]}"):
                    parts += [f"{up}.{uf}", values[uf]]
                field_hashes[fk] = h("|".join(parts))
            out |= set(field_hashes.values())
            out.add(h("|".join(field_hashes[k] for k in sorted(field_hashes))))
    return out


def svg_text(svg: str) -> str:
    """The characters an SVG screenshot shows, one text run after the other."""
    return html.unescape(" ".join(re.findall(r"<text[^>]*>([^<]*)</text>", svg))).replace("\xa0", " ")


def tokens(text: str) -> set[str]:
    return {t for t in TOKEN.findall(text) if HEXISH.match(t)}


def check(svg: str, known: Iterable[str], literals: Iterable[str] = ()) -> list[str]:
    """The hash-like tokens on screen that are no prefix of a known value (nor an allowed literal)."""
    known = list(known)
    literals = set(literals)
    return sorted(t for t in tokens(svg_text(svg)) if t not in literals and not any(k.startswith(t) for k in known))


def mask(svg: str) -> str:
    """The SVG with every hash-like token in its text replaced by '#'s of the same length."""

    def text_node(m: re.Match) -> str:
        raw = html.unescape(m.group(2)).replace("\xa0", " ")
        masked = TOKEN.sub(lambda t: "#" * len(t.group(0)) if HEXISH.match(t.group(0)) else t.group(0), raw)
        if masked == raw:
            return m.group(0)
        return m.group(1) + html.escape(masked, quote=False).replace(" ", "&#160;") + m.group(3)

    return re.sub(r"(<text[^>]*>)([^<]*)(</text>)", text_node, svg)
