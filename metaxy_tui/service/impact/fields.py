"""Which fields move: field-level lineage (`field_parents`) walked down from the fields a change
starts at, the features in graph order, why each field moves, and the readers that stay valid."""

from __future__ import annotations


from ...graph import GraphPlan


def _closure(gp: GraphPlan, start: set[tuple[str, str]]) -> dict[str, set[str]]:
    """Every (feature, field) whose parents lead back to one of `start`, start included."""
    readers: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for key, p in gp.features.items():
        for f, parents in p.field_parents.items():
            for parent in parents:
                readers.setdefault(parent, []).append((key, f))
    seen = set(start)
    stack = list(start)
    while stack:
        for r in readers.get(stack.pop(), ()):
            if r not in seen:
                seen.add(r)
                stack.append(r)
    out: dict[str, set[str]] = {}
    for key, f in seen:
        out.setdefault(key, set()).add(f)
    return out


def _in_order(gp: GraphPlan, moved: dict[str, set[str]]) -> list[tuple[str, set[str]]]:
    return [(k, moved[k]) for k in gp.order() if k in moved] + [
        (k, v) for k, v in moved.items() if k not in gp.features
    ]


def _via(gp: GraphPlan, key: str, fields: set[str], moved: dict[str, set[str]]) -> list[str]:
    if key not in gp.features:
        return []
    out = []
    for f in sorted(fields):
        parents = [f"{u}.{uf}" for u, uf in gp[key].field_parents.get(f, ()) if uf in moved.get(u, ())]
        if parents:
            out.append(f"{f} ← {', '.join(parents)}")
    return out


def _unaffected(gp: GraphPlan, moved: dict[str, set[str]]) -> list[str]:
    """Features reading a moved feature but none of its moved fields: their samples stay valid."""
    out = []
    for key in gp.order():
        if key in moved:
            continue
        p = gp[key]
        readers = [d.upstream for d in p.deps if d.upstream in moved]
        if not readers:
            continue
        reads = sorted({f"{u}.{uf}" for ps in p.field_parents.values() for u, uf in ps if u in readers})
        out.append(
            f"{key}: reads only {', '.join(reads) or 'no field'} of {', '.join(readers)}; its samples stay "
            f"valid (resolve shows them removed until {', '.join(readers)} is recomputed)"
        )
    return out
