"""Everything the definition says about one feature, plus its row count and status."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from ...service.graph_diff import FeatureGraph
from ...service.status import FeatureStatus
from .feature_tree import status_text

NARROW = 70  # below this width fields and deps are listed, not tabulated


def _lineage(dp) -> str:
    return dp.dep.lineage.kind + (" (optional)" if dp.optional else "")


def _dep_columns(dp) -> str:
    renamed = {down: src for down, src in dp.columns.items() if down != src}
    return ", ".join(f"{src}→{down}" if down in renamed else down for down, src in dp.columns.items())


def _field_lines(fp, d) -> list[Text]:
    out = []
    for f in d.spec.fields:
        fk = f.key.to_string()
        line = Text("  ")
        line.append(fk, style="bold")
        line.append(f"  {fp.field_versions[fk][:8]}", style="cyan")
        parents = ", ".join(f"{u}.{uf}" for u, uf in fp.field_parents[fk])
        if parents:
            line.append(f"  ← {parents}")
        line.append(f"\n    code version {f.code_version}", style="dim")
        out.append(line)
    return out


def _dep_lines(fp) -> list[Text]:
    out = []
    for dp in fp.deps:
        line = Text("  ")
        line.append(dp.upstream, style="bold")
        line.append(f"  {_lineage(dp)}" + (f" on {', '.join(dp.on)}" if dp.on else ""))
        line.append(f"\n    columns: {_dep_columns(dp)}", style="dim")
        out.append(line)
    return out


def feature_renderable(graph: FeatureGraph, key: str, status: FeatureStatus | None, narrow: bool = False):
    plan = graph.plan()
    fp = plan[key]
    d = fp.definition
    title = Text(key, style="bold")
    title.append(f"   version {fp.feature_version[:8]}", style="cyan")
    parts: list = [title]
    if d.description:
        parts.append(Text(d.description, style="italic"))
    info = Table.grid(padding=(0, 2))
    info.add_column(style="dim", no_wrap=True)
    info.add_column()
    info.add_row("status", status_text(status))
    info.add_row("rows", Text(f"{status.rows:,}" if status is not None else "…"))
    info.add_row("id columns", Text(", ".join(d.id_columns)))
    other = [c for c in d.columns if c not in d.id_columns]
    if any(c in d.column_descriptions for c in d.columns):  # one a line, each with its description
        lines = Text()
        for i, c in enumerate(list(d.id_columns) + other):
            lines.append(("\n" if i else "") + f"{c}: {d.columns[c].describe()}")
            if c in d.column_descriptions:
                lines.append(f" — {d.column_descriptions[c]}", style="italic")
        info.add_row("columns", lines)
    else:
        info.add_row("columns", Text(", ".join(f"{c}: {d.columns[c].describe()}" for c in other) or "-"))
    info.add_row("upstream", Text(", ".join(d.upstream for d in fp.deps) or "- (root)"))
    info.add_row("downstream", Text(", ".join(fp.downstream) or "-"))
    parts += [Text(""), info, Text("")]

    if narrow:  # at 80 columns the tab is about 50 wide: one field (and one dep) per block instead of a table
        parts += [Text("fields", style="italic"), *_field_lines(fp, d), Text("")]
        if fp.deps:
            parts += [Text("deps", style="italic"), *_dep_lines(fp)]
        return Group(*parts)

    fields = Table(title="fields", title_justify="left", expand=True, show_edge=False)
    fields.add_column("field", no_wrap=True)
    fields.add_column("code version", no_wrap=True)
    fields.add_column("version", style="cyan", no_wrap=True)
    fields.add_column("depends on")
    for f in d.spec.fields:
        fk = f.key.to_string()
        parents = ", ".join(f"{u}.{uf}" for u, uf in fp.field_parents[fk]) or "-"
        fields.add_row(Text(fk), Text(f.code_version), fp.field_versions[fk][:8], Text(parents))
    parts += [fields, Text("")]

    if fp.deps:
        deps = Table(title="deps", title_justify="left", expand=True, show_edge=False)
        deps.add_column("upstream", no_wrap=True)
        deps.add_column("lineage")
        deps.add_column("on")
        deps.add_column("columns")
        for dp in fp.deps:
            deps.add_row(Text(dp.upstream), Text(_lineage(dp)), Text(", ".join(dp.on)), Text(_dep_columns(dp)))
        parts.append(deps)
    return Group(*parts)


class FeatureView(VerticalScroll):
    """Shows the selected feature's definition."""

    DEFAULT_CSS = """
    FeatureView { padding: 0 1; }
    """

    def __init__(self, graph: FeatureGraph | Callable[[], FeatureGraph], **kwargs) -> None:
        super().__init__(**kwargs)
        self._graph = graph  # or how to get it when shown: columns the data brought may have appeared
        self.feature_key: str | None = None
        self.feature_status: FeatureStatus | None = None
        self._body = Static(Text("Select a feature on the left.", style="dim"), id="feature-body")

    def compose(self):
        yield self._body

    @property
    def graph(self) -> FeatureGraph:
        return self._graph() if callable(self._graph) else self._graph

    def show(self, key: str | None, status: FeatureStatus | None = None) -> None:
        self.feature_key = key
        self.feature_status = status
        graph = self.graph
        if key is None or key not in graph:
            self._body.update(Text("Select a feature on the left.", style="dim"))
            return
        self._body.update(feature_renderable(graph, key, status, narrow=0 < self.size.width < NARROW))

    def on_resize(self) -> None:
        if self.feature_key is not None:
            self.show(self.feature_key, self.feature_status)

    def update_status(self, status: FeatureStatus) -> None:
        if status.key == self.feature_key:
            self.show(self.feature_key, status)
