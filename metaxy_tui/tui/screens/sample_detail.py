"""One sample: provenance by field, versions, times, history, and the samples it is made
from and feeds. Each linked sample opens its own detail (enter); escape goes back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header, OptionList, Static
from textual.widgets.option_list import Option

from ...service.detail import LinkedGroup, SampleDetail, SampleRef, sample_detail
from ...service.project import Project
from ...service.samples import format_ids, format_time, format_value
from ...service.review import error_text
from ...vocabulary import LineageKind
from ..messages import TraceRequested
from ..widgets.key_footer import KeyFooter
from ..fit import fit_titles

STATE_STYLES = {
    "current": "bold green",
    "deleted": "bold red",
    "earlier version": "bold yellow",
    "not stored": "bold red",
}
SHORT = 8  # hashes and versions are shown this long where space is short


def short(value: str | None, n: int = SHORT) -> str:
    return "-" if not value else value if len(value) <= n else value[:n]


class SampleDetailScreen(Screen):
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("r", "reload", "Reload"),
        Binding("c", "copy_ids", "Copy ids", tooltip="Copy this sample's id values"),
        Binding("t", "trace", "Trace", tooltip="This sample's lineage across the pipeline, as a tree"),
    ]

    DEFAULT_CSS = """
    SampleDetailScreen #detail-title { height: auto; padding: 0 1; background: $panel; }
    SampleDetailScreen #detail-scroll { height: 1fr; padding: 0 1; }
    SampleDetailScreen #detail-links-title { height: 1; padding: 0 1; background: $panel; }
    SampleDetailScreen #detail-links { height: auto; max-height: 45%; border: none; padding: 0 1; }
    """

    @dataclass
    class Loaded(Message):
        detail: SampleDetail

    @dataclass
    class Failed(Message):
        error: str

    def __init__(self, project: Project, feature: str, ids: dict[str, Any]) -> None:
        super().__init__()
        self.project = project
        self.ref = SampleRef(feature, dict(ids))
        self.detail: SampleDetail | None = None
        self.links: list[SampleRef] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self._title(), id="detail-title")
        with VerticalScroll(id="detail-scroll"):
            yield Static(Text("loading…", style="dim"), id="detail-body")
        yield Static(Text("Upstream and downstream samples (enter opens one)", style="bold"), id="detail-links-title")
        yield OptionList(id="detail-links")
        yield KeyFooter()

    def _fit_titles(self) -> None:
        self.title, self.sub_title = fit_titles("metaxy-tui", f"sample of {self.ref.feature}", self.app.size.width)

    def on_resize(self) -> None:
        self._fit_titles()

    def on_mount(self) -> None:
        self._fit_titles()
        self.query_one("#detail-links", OptionList).focus()
        self.load()

    def _title(self, state: str | None = None) -> Text:
        text = Text(self.ref.feature, style="bold")
        text.append("  ")
        text.append(format_ids(self.ref.ids))
        if state is not None:
            text.append("   ")
            text.append(state, style=STATE_STYLES.get(state, "bold"))
        return text

    # ----- loading --------------------------------------------------------------------------------
    def action_reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="sample-detail", name="sample detail")
    def load(self) -> None:
        try:
            detail = sample_detail(self.project, self.ref.feature, self.ref.ids)
        except Exception as e:
            self.post_message(self.Failed(error_text(e)))
            return
        self.post_message(self.Loaded(detail))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self.detail = message.detail
        self.query_one("#detail-title", Static).update(self._title(message.detail.state))
        self.query_one("#detail-body", Static).update(detail_renderable(message.detail))
        self._fill_links(message.detail)

    @on(Failed)
    def _failed(self, message: Failed) -> None:
        self.query_one("#detail-body", Static).update(Text(message.error, style="red"))

    # ----- linked samples -------------------------------------------------------------------------
    def _fill_links(self, detail: SampleDetail) -> None:
        links = self.query_one("#detail-links", OptionList)
        highlighted = links.highlighted
        links.clear_options()
        self.links = []
        options: list[Option] = []
        for group in detail.upstream + detail.downstream:
            options.append(Option(group_heading(group), disabled=True))
            for sample in group.samples:
                options.append(Option(link_label(group, sample), id=str(len(self.links))))
                self.links.append(sample.ref)
            if group.total > len(group.samples):
                options.append(
                    Option(Text(f"  └ … and {group.total - len(group.samples):,} more", style="dim"), disabled=True)
                )
            elif not group.samples:
                options.append(Option(Text(f"  └ {group.note or 'none'}", style="dim italic"), disabled=True))
        if not options:
            why = (
                "nothing is stored under these ids"
                if not detail.found
                else "this feature has no upstream and no downstream features"
            )
            options.append(Option(Text(why, style="dim italic"), disabled=True))
        links.add_options(options)
        if self.links:
            first = next(i for i, o in enumerate(options) if not o.disabled)
            links.highlighted = highlighted if highlighted is not None and not options[highlighted].disabled else first

    @on(OptionList.OptionSelected, "#detail-links")
    def _open_link(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is None:
            return
        ref = self.links[int(event.option.id)]
        self.app.push_screen(SampleDetailScreen(self.project, ref.feature, ref.ids))

    def highlighted_link(self) -> SampleRef | None:
        links = self.query_one("#detail-links", OptionList)
        if links.highlighted is None:
            return None
        option = links.get_option_at_index(links.highlighted)
        return self.links[int(option.id)] if option.id is not None else None

    # ----- keys -----------------------------------------------------------------------------------
    def action_back(self) -> None:
        self.dismiss()

    def action_trace(self) -> None:
        self.post_message(TraceRequested(self.project, self.ref.feature, self.ref.ids))

    def action_copy_ids(self) -> None:
        text = format_ids(self.ref.ids)
        self.app.copy_to_clipboard(text)
        self.notify(f"Copied {text}", timeout=3, markup=False)


# ----- rendering (plain functions of the detail: easy to test and to reuse) ----------------------


def group_heading(group: LinkedGroup) -> Text:
    arrow = "↑ upstream" if group.direction == "upstream" else "↓ downstream"
    text = Text(f"{arrow} ", style="bold cyan" if group.direction == "upstream" else "bold magenta")
    text.append(group.feature, style="bold")
    text.append(f" · {group.kind} on {format_ids(group.on)} · {group.relation}", style="dim")
    if group.total:
        text.append(f" · {group.total:,}", style="dim")
    return text


def link_label(group: LinkedGroup, sample) -> Text:
    text = Text()
    text.append("  └ ", style="dim")
    text.append(format_ids(sample.ref.ids))
    text.append("   data version ", style="dim")
    text.append(short(sample.data_version, 12), style="cyan")
    if len(sample.data_version_by_field) > 1 or group.kind == LineageKind.AGGREGATION:
        parts = [f"{f} {short(v, 12)}" for f, v in sample.data_version_by_field.items()]
        text.append("  (" + ", ".join(parts) + ")", style="dim")
    text.no_wrap = True
    text.overflow = "ellipsis"
    return text


def _grid() -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    return grid


def detail_renderable(detail: SampleDetail) -> Group:
    parts: list = [Text(detail.description, style="italic dim"), Text("")]
    if detail.values:
        values = _grid()
        for name, value in detail.values.items():
            shown = format_value(value, detail.column_types.get(name))
            values.add_row(name, Text(shown) if value is not None else Text("null", style="dim italic"))
        parts += [values, Text("")]

    info = _grid()
    info.add_row("provenance", Text(detail.provenance or "-"))
    same = detail.data_version is None or detail.data_version == detail.provenance
    info.add_row("data version", Text("= provenance" if same else detail.data_version, style="dim" if same else ""))
    fv = Text(short(detail.feature_version), style="cyan")
    if detail.feature_version is not None and detail.feature_version != detail.current_feature_version:
        fv.append(f"  (the current version is {short(detail.current_feature_version)})", style="yellow")
    elif detail.feature_version is not None:
        fv.append("  (current)", style="dim")
    info.add_row("feature version", fv)
    info.add_row("created", Text(format_time(detail.created_at) or "-"))
    info.add_row("updated", Text(format_time(detail.updated_at) or "-"))
    if detail.deleted_at is not None:
        info.add_row("deleted", Text(format_time(detail.deleted_at), style="red"))
    info.add_row("materialization", Text(detail.materialization_id or "-"))
    parts += [info, Text("")]

    fields = Table(
        title="provenance by field",
        title_justify="left",
        title_style="bold",
        expand=True,
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
    )
    fields.add_column("field", no_wrap=True)
    fields.add_column("provenance", no_wrap=True)
    fields.add_column("data version", no_wrap=True)
    fields.add_column("field version", style="cyan", no_wrap=True)
    fields.add_column("code version", no_wrap=True)
    fields.add_column("from")
    for f in detail.fields:
        dv = Text("= provenance", style="dim") if f.data_version is None else Text(f.data_version)
        fields.add_row(
            Text(f.field),
            Text(f.provenance or "-"),
            dv,
            short(f.field_version),
            Text(f.code_version),
            Text(", ".join(f.parents) or "- (root)", style="dim"),
        )
    parts += [fields, Text("")]

    history = Table(
        title=f"history · {detail.history_total} stored row{'s' if detail.history_total != 1 else ''}",
        title_justify="left",
        title_style="bold",
        expand=True,
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
    )
    history.add_column("write", justify="right", no_wrap=True)
    history.add_column("at", no_wrap=True)
    history.add_column("kind", no_wrap=True)
    history.add_column("version", no_wrap=True)
    history.add_column("provenance", no_wrap=True)
    history.add_column("data version", no_wrap=True)
    history.add_column("state")
    for h in reversed(detail.history):  # newest first
        style = "" if h.current_version else "dim"
        dv = "=" if h.data_version is None or h.data_version == h.provenance else short(h.data_version, 12)
        state = Text(h.state, style="red" if h.deleted_at is not None else "green" if h.state == "latest" else "dim")
        history.add_row(
            str(h.write_id or "-"),
            format_time(h.at),
            Text(h.kind.replace("_", " ")),
            Text(short(h.feature_version), style="cyan" if h.current_version else "dim"),
            Text(short(h.provenance, 20), style=style),
            Text(dv, style=style),
            state,
        )
    if detail.history_total > len(detail.history):
        parts.append(Text(f"(the {len(detail.history)} most recent shown)", style="dim"))
    parts.append(history)
    return Group(*parts)
