"""Building a graph's plan from its definitions, validating as it goes: the topological order
(unknown deps and cycles refused), each dep's columns and lineage, field-level lineage, the join
key and the key columns, and the versions (a field's from its code version and its parents').
"""

from __future__ import annotations

import hashlib

from .columns import ColumnType
from .definition import FeatureDefinition
from .errors import DefinitionError
from .keys import FieldKey, validate_column_name
from .spec import ALL, FeatureDep
from .vocabulary import LineageKind
from .graph_plan import DepPlan, FeaturePlan, GraphPlan


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _topological(defs: dict[str, FeatureDefinition]) -> list[str]:
    for name, d in defs.items():
        for dep in d.spec.deps:
            if dep.feature.to_string() not in defs:
                raise DefinitionError(name, f"depends on unknown feature {dep.feature.to_string()!r}")
    order: list[str] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = path[path.index(name) :] + [name]
            raise DefinitionError(name, "dependency cycle: " + " -> ".join(cycle))
        state[name] = 1
        for dep in sorted(defs[name].spec.deps, key=lambda x: x.feature.to_string()):
            visit(dep.feature.to_string(), path + [name])
        state[name] = 2
        order.append(name)

    for name in sorted(defs):
        visit(name, [])
    return order


def _dep_plan(owner: FeatureDefinition, dep: FeatureDep, up: FeatureDefinition) -> DepPlan:
    name = owner.name
    upname = up.name
    rename = dep.rename_map
    up_cols = list(up.columns)
    for old, new in rename.items():
        if old not in up.columns:
            raise DefinitionError(
                name,
                f"dep on {upname!r} renames {old!r}, which {upname!r} does not have "
                f"(its columns: {', '.join(up_cols)})",
            )
        validate_column_name(new, name)
        if new in up.id_columns and new != old:
            raise DefinitionError(name, f"dep on {upname!r} renames {old!r} to {new!r}, an id column of {upname!r}")
    renamed = {rename.get(c, c): c for c in up_cols}
    if len(renamed) != len(up_cols):
        raise DefinitionError(name, f"dep on {upname!r}: rename makes two columns share a name")
    ids = tuple(rename.get(c, c) for c in up.id_columns)
    keep = dict((n, renamed[n]) for n in ids)
    if dep.select is None:
        keep.update(renamed)
    else:
        for c in dep.select:
            if c not in renamed:
                raise DefinitionError(
                    name,
                    f"dep on {upname!r} selects {c!r}, which {upname!r} does not have "
                    f"after rename (its columns: {', '.join(renamed)})",
                )
            keep[c] = renamed[c]
    lineage = dep.lineage
    if lineage.kind == LineageKind.IDENTITY:
        on = ids
    elif lineage.kind == LineageKind.AGGREGATION:
        on = lineage.on if lineage.on is not None else owner.id_columns
    else:
        on = lineage.on or ()
    for c in on:
        if c not in renamed:
            raise DefinitionError(
                name,
                f"{lineage.kind} on {c!r}: upstream {upname!r} has no column {c!r} (its columns: {', '.join(renamed)})",
            )
        keep.setdefault(c, renamed[c])
    return DepPlan(dep, upname, lineage.kind, tuple(on), keep, ids, ())


def _field_parents(
    owner: FeatureDefinition, deps: list[DepPlan], defs: dict[str, FeatureDefinition]
) -> dict[str, tuple[tuple[str, str], ...]]:
    out: dict[str, tuple[tuple[str, str], ...]] = {}
    dep_names = [d.upstream for d in deps]
    for f in owner.spec.fields:
        fk = f.key.to_string()
        parents: list[tuple[str, str]] = []
        if f.deps is None:
            for up in dep_names:
                up_fields = defs[up].field_key_strings
                parents += [(up, fk)] if fk in up_fields else [(up, x) for x in up_fields]
        elif f.deps == ALL:
            for up in dep_names:
                parents += [(up, x) for x in defs[up].field_key_strings]
        else:
            for fd in f.deps:
                up = fd.feature.to_string()
                if up not in dep_names:
                    raise DefinitionError(
                        owner.name,
                        f"field {fk!r} depends on {up!r}, which is not among the "
                        f"feature's deps ({', '.join(dep_names) or 'none'})",
                    )
                up_fields = defs[up].field_key_strings
                if fd.fields == ALL:
                    parents += [(up, x) for x in up_fields]
                    continue
                for uf in fd.fields:
                    if uf.to_string() not in up_fields:
                        raise DefinitionError(
                            owner.name,
                            f"field {fk!r} depends on unknown field "
                            f"{up}.{uf.to_string()} ({up!r} has: {', '.join(up_fields)})",
                        )
                    parents.append((up, uf.to_string()))
        unique = sorted(set(parents), key=lambda p: f"{p[0]}.{p[1]}")
        out[fk] = tuple(unique)
    return out


def _join_key(owner: FeatureDefinition, deps: list[DepPlan], defs: dict[str, FeatureDefinition]) -> tuple[str, ...]:
    def d_types(d: DepPlan, c: str) -> str | None:
        src = d.columns.get(c)
        t = defs[d.upstream].columns.get(src) if src else None
        return t.name if t else None

    name = owner.name
    key: list[str] = []
    cols_seen: dict[str, str] = {}
    for d in deps:
        if key and not set(d.on) & set(key):
            raise DefinitionError(
                name,
                f"dep on {d.upstream!r} shares no key column with the other deps "
                f"({', '.join(key)} vs {', '.join(d.on)}); use rename",
            )
        shared_key = set(d.on) & set(key)
        for c in d.columns:
            if c in cols_seen and c not in shared_key:
                raise DefinitionError(
                    name,
                    f"column {c!r} comes from both {cols_seen[c]!r} and {d.upstream!r}; "
                    "use rename or select on one of the deps",
                )
            cols_seen.setdefault(c, d.upstream)
        key += [c for c in d.on if c not in key]
    for d in deps:
        for c in d.on:
            up_type = d_types(d, c)
            own = owner.columns.get(c)
            if own is not None and own.declared and up_type is not None and own.name != up_type:
                raise DefinitionError(
                    name,
                    f"column {c!r} is {own.name} here but {up_type} in {d.upstream!r}; "
                    "matching samples needs the same type",
                )
    # an expansion's children are keyed by their own ids: its `on` columns (the parent's ids)
    # travel with each child row without being part of the child's id (SPEC 3)
    expanded = {c for d in deps if d.kind == LineageKind.EXPANSION for c in d.on}
    missing = [c for c in key if c not in owner.id_columns and c not in expanded]
    if missing:
        raise DefinitionError(
            name,
            f"its deps are matched on {', '.join(key)}, but its id_columns "
            f"({', '.join(owner.id_columns)}) lack {', '.join(missing)}; "
            "rename the upstream columns or add them to id_columns",
        )
    return tuple(key)


def _without_clashing_extras(deps: list[DepPlan], defs: dict[str, FeatureDefinition]) -> list[DepPlan]:
    """Columns the data brought (not annotated upstream) that another dep also has are left out
    (the first dep keeps its own): unlike annotated ones, such a clash is the data's, not the
    definition's fault."""

    def declared(d: DepPlan, c: str) -> bool:
        t = defs[d.upstream].columns.get(d.columns[c])
        return t is None or t.declared

    annotated = {c for d in deps for c in d.columns if declared(d, c)}
    seen: set[str] = set()
    out = []
    for d in deps:
        keep = {
            c: src
            for c, src in d.columns.items()
            if c in d.on or declared(d, c) or (c not in annotated and c not in seen)
        }
        seen |= set(keep)
        out.append(
            d
            if len(keep) == len(d.columns)
            else DepPlan(d.dep, d.upstream, d.kind, d.on, keep, d.upstream_ids, d.fields)
        )
    return out


def _key_columns(
    owner: FeatureDefinition, deps: list[DepPlan], defs: dict[str, FeatureDefinition]
) -> dict[str, ColumnType]:
    """Key columns the feature's rows must carry that its class does not annotate, typed as in
    the upstream: an expansion's `on` columns, and id columns matched to an upstream's."""
    out: dict[str, ColumnType] = {}
    for d in deps:
        for c in d.on:
            own = owner.columns.get(c)
            if c in out or (own is not None and own.declared):
                continue
            up = defs[d.upstream].columns.get(d.columns[c])
            if up is not None:
                out[c] = ColumnType(up.name, False, declared=False)
    return out


def _build_plan(defs: dict[str, FeatureDefinition]) -> GraphPlan:
    order = _topological(defs)
    downstream: dict[str, list[str]] = {n: [] for n in order}
    for n in order:
        for dep in defs[n].spec.deps:
            downstream[dep.feature.to_string()].append(n)
    plans: dict[str, FeaturePlan] = {}
    defs = dict(defs)  # each entry becomes the planned definition (with its key columns) in turn
    for name in order:
        d = defs[name]
        deps = [_dep_plan(d, dep, defs[dep.feature.to_string()]) for dep in d.spec.deps]
        deps.sort(key=lambda x: x.optional)  # stable: required first, declared order kept
        deps = _without_clashing_extras(deps, defs)
        key = _join_key(d, deps, defs) if deps else d.id_columns
        d = defs[name] = d.with_columns(_key_columns(d, deps, defs))
        parents = _field_parents(d, deps, defs)
        used: dict[str, set[str]] = {}
        for ps in parents.values():
            for up, uf in ps:
                used.setdefault(up, set()).add(FieldKey(uf).struct_name)
        deps = [
            DepPlan(x.dep, x.upstream, x.kind, x.on, x.columns, x.upstream_ids, tuple(sorted(used.get(x.upstream, ()))))
            for x in deps
        ]
        field_versions: dict[str, str] = {}
        for f in d.spec.fields:
            fk = f.key.to_string()
            text = f"{name}.{fk}{f.code_version}" + "".join(plans[up].field_versions[uf] for up, uf in parents[fk])
            field_versions[fk] = _sha256(text)
        feature_version = _sha256("".join(k + field_versions[k] for k in sorted(field_versions)))
        plans[name] = FeaturePlan(
            d, tuple(deps), tuple(key), parents, field_versions, feature_version, tuple(sorted(downstream[name]))
        )
    project_version = _sha256("".join(k + plans[k].feature_version for k in sorted(plans)))
    return GraphPlan(plans, project_version)
