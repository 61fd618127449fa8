"""The feature graph as text: Mermaid (as Metaxy draws it) and neighbourhood selection."""

from __future__ import annotations

import html

from ..graph import FeatureGraph


def neighbourhood(graph: FeatureGraph, feature: str | None, up: int | None, down: int | None) -> list[str]:
    """Keys within `up` hops upstream and `down` hops downstream of `feature` (all by default)."""
    plan = graph.plan()
    if feature is None:
        return plan.order()
    graph.feature_plan(feature)  # unknown features raise here
    keep = {feature}
    frontier = {feature}
    for _ in range(up if up is not None else len(plan.features)):
        frontier = {d.upstream for k in frontier for d in plan[k].deps} - keep
        keep |= frontier
    frontier = {feature}
    for _ in range(down if down is not None else len(plan.features)):
        frontier = {c for k in frontier for c in plan[k].downstream} - keep
        keep |= frontier
    return [k for k in plan.order() if k in keep]


def _node_id(key: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in key)


def mermaid(graph: FeatureGraph, keys: list[str] | None = None, *, title: str = "Feature Graph") -> str:
    """A Mermaid flowchart: one node per feature with key, version and fields; edges upstream -> downstream."""
    plan = graph.plan()
    keys = keys if keys is not None else plan.order()
    lines = [
        "---",
        f"title: {title}",
        "---",
        "flowchart TB",
        f"    %% Snapshot version: {plan.project_version[:8] if keys else 'none'}",
        "    %%{init: {'flowchart': {'htmlLabels': true, 'curve': 'basis'}, 'themeVariables': {'fontSize': '14px'}}}%%",
    ]
    for key in keys:
        fp = plan[key]
        fields = "".join(
            f"<br/>- {html.escape(f.key.to_string())} ({fp.field_versions[f.key.to_string()][:8]})"
            for f in sorted(fp.definition.spec.fields, key=lambda f: f.key.to_string())
        )
        label = (
            f'<div style="text-align:left"><b>{html.escape(key)}</b><br/>{fp.feature_version[:8]}'
            f'<br/><font color="#999">---</font>{fields}</div>'
        )
        lines.append(f'    {_node_id(key)}["{label}"]')
    for key in keys:
        for d in plan[key].deps:
            if d.upstream in keys:
                lines.append(f"    {_node_id(d.upstream)} --> {_node_id(key)}")
    return "\n".join(lines)


_STROKES = {"added": "#2e7d32", "removed": "#c62828", "changed": "#ef6c00"}


def mermaid_diff(old: FeatureGraph, new: FeatureGraph, changes: list, *, title: str = "Feature Graph Changes") -> str:
    """Both graphs in one Mermaid flowchart: added features rounded, removed ones as stadiums,
    changed versions as `old → new`, each outlined in its change's colour (as Metaxy's
    `graph-diff render --format mermaid`)."""
    old_plan = old.plan() if len(old) else None
    new_plan = new.plan() if len(new) else None
    status = {c.feature: c for c in changes}
    keys = [k for k in (new_plan.order() if new_plan else [])]
    keys += [k for k in (old_plan.order() if old_plan else []) if k not in keys]
    lines = [
        "---",
        f"title: {title}",
        "---",
        "flowchart TB",
        f"    %% Snapshot version: {new_plan.project_version[:8] if new_plan else 'none'}",
        "    %%{init: {'flowchart': {'htmlLabels': true, 'curve': 'basis'}, 'themeVariables': {'fontSize': '14px'}}}%%",
    ]
    for key in keys:
        change = status.get(key)
        fp = new_plan[key] if new_plan is not None and key in new_plan.features else old_plan[key]  # type: ignore[index]
        if change is not None and change.change == "changed" and change.version_changed:
            version = f'<font color="red">{change.old_version[:8]}</font> → <font color="green">{change.new_version[:8]}</font>'
        else:
            version = fp.feature_version[:8]
        moved = {f.field: f for f in (change.fields if change is not None else [])}
        fields = []
        for f in sorted({s.key.to_string() for s in fp.definition.spec.fields} | set(moved)):
            fc = moved.get(f)
            if fc is None:
                fields.append(f"<br/>- {html.escape(f)} ({fp.field_versions[f][:8]})")
            elif fc.change == "added":
                fields.append(f'<br/>- <font color="green">{html.escape(f)}</font> ({(fc.new_version or "")[:8]})')
            elif fc.change == "removed":
                fields.append(f'<br/>- <font color="red">{html.escape(f)}</font> (removed)')
            else:
                fields.append(
                    f'<br/>- <font color="orange">{html.escape(f)}</font> '
                    f'(<font color="red">{(fc.old_version or "")[:8]}</font> → '
                    f'<font color="green">{(fc.new_version or "")[:8]}</font>)'
                )
        label = (
            f'<div style="text-align:left"><b>{html.escape(key)}</b><br/>{version}'
            f'<br/><font color="#999">---</font>{"".join(fields)}</div>'
        )
        kind = change.change if change is not None else None
        opening, closing = {"added": ("(", ")"), "removed": ("([", "])")}.get(kind or "", ("[", "]"))
        lines.append(f'    {_node_id(key)}{opening}"{label}"{closing}')
    for key in keys:
        plan = new_plan if new_plan is not None and key in new_plan.features else old_plan
        for d in plan[key].deps:  # type: ignore[index]
            if d.upstream in keys:
                lines.append(f"    {_node_id(d.upstream)} --> {_node_id(key)}")
    styles = [
        f"    style {_node_id(c.feature)} stroke:{_STROKES[c.change]},stroke-width:2px"
        for c in sorted(changes, key=lambda c: c.feature)
        if c.change in _STROKES
    ]
    if styles:
        lines += [""] + styles
    return "\n".join(lines)
