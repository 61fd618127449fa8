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
    lines = ["---", f"title: {title}", "---", "flowchart TB",
             f"    %% Snapshot version: {plan.project_version[:8] if keys else 'none'}",
             "    %%{init: {'flowchart': {'htmlLabels': true, 'curve': 'basis'}, "
             "'themeVariables': {'fontSize': '14px'}}}%%"]
    for key in keys:
        fp = plan[key]
        fields = "".join(f"<br/>- {html.escape(f.key.to_string())} ({fp.field_versions[f.key.to_string()][:8]})"
                         for f in sorted(fp.definition.spec.fields, key=lambda f: f.key.to_string()))
        label = (f'<div style="text-align:left"><b>{html.escape(key)}</b><br/>{fp.feature_version[:8]}'
                 f'<br/><font color="#999">---</font>{fields}</div>')
        lines.append(f'    {_node_id(key)}["{label}"]')
    for key in keys:
        for d in plan[key].deps:
            if d.upstream in keys:
                lines.append(f"    {_node_id(d.upstream)} --> {_node_id(key)}")
    return "\n".join(lines)
