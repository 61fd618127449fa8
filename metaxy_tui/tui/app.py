"""The Textual application."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from textual import on
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from ..errors import MetaxyError
from ..service.demo import build_demo, default_demo_path, open_demo_project
from ..service.project import Project
from .screens.browser import BrowserScreen
from .messages import TraceRequested
from .screens.help import HelpScreen
from .screens.trace import TraceScreen


class MetaxyApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "metaxy-tui"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
    ]

    def __init__(self, project: Project, **kwargs) -> None:
        super().__init__(**kwargs)
        self.project = project

    def on_mount(self) -> None:
        self.push_screen(BrowserScreen(self.project))

    @property
    def browser(self) -> BrowserScreen:
        for screen in self.screen_stack:
            if isinstance(screen, BrowserScreen):
                return screen
        raise LookupError("no browser screen")

    def action_help(self) -> None:
        seen: dict[str, str] = {}
        for key, binding in [(b.key, b) for b in self.BINDINGS if isinstance(b, Binding)]:
            seen.setdefault(binding.key_display or key, binding.description)
        for _, binding, _enabled, _tooltip in self.screen.active_bindings.values():
            if binding.description:
                seen.setdefault(binding.key_display or binding.key, binding.description)
        seen.setdefault("ctrl+p", "Command palette: every action by name")
        self.push_screen(HelpScreen(sorted(seen.items())))

    @on(TraceRequested)
    def _open_trace(self, message: TraceRequested) -> None:
        self.push_screen(TraceScreen(message.project, message.feature, message.ids))

    def switch_project(self, project: Project) -> None:
        """Open another project in place of the current one."""
        old = self.project
        self.project = project
        self.switch_screen(BrowserScreen(project))
        if old is not project:
            old.close()

    # ----- the demo (d on an empty store) ----------------------------------------------------
    def action_open_demo(self) -> None:
        self.notify("Building the demo store…", timeout=3)
        self.run_worker(self._build_demo, thread=True, exclusive=True, group="demo", name="demo")

    def _build_demo(self) -> None:
        try:
            path = build_demo(default_demo_path())
            project = open_demo_project(path)
        except MetaxyError as e:
            self.call_from_thread(self.notify, f"Could not build the demo: {e}", severity="error")
            return
        self.call_from_thread(self.switch_project, project)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Help", "Keys and the words the UI uses", self.action_help)
        hook = getattr(screen, "get_system_commands", None)
        if callable(hook):  # a screen's own actions (review, audit, import, ...)
            yield from hook()
        if not isinstance(screen, BrowserScreen):
            return
        browser = screen
        yield SystemCommand("Refresh statuses", "Recompute every feature's status", browser.action_refresh)
        yield SystemCommand(
            "Show feature", "The selected feature's definition", lambda: browser.action_show_tab("feature")
        )
        yield SystemCommand(
            "Show samples", "The selected feature's samples", lambda: browser.action_show_tab("samples")
        )
        yield SystemCommand(
            "Show lineage", "The feature graph, down to fields", lambda: browser.action_show_tab("lineage")
        )
        yield SystemCommand(
            "Import samples", "Bring samples into a root feature from a file", browser.action_import_samples
        )
        yield SystemCommand(
            "Review pending work", "Why the selected feature's samples are stale; approve", browser.action_review
        )
        for title, help_text, action in (
            ("Filter samples", "Show rows containing a text", "filter"),
            ("Sort samples", "Sort by the cursor's column (again: descending, again: off)", "sort"),
            ("Go to a sample id", "Move to the sample with given id values", "jump"),
            ("Export samples", "Write the samples view to a CSV or Parquet file", "export"),
            ("Reset samples view", "Clear the sort and the filter", "reset"),
        ):
            yield SystemCommand(title, help_text, lambda a=action: browser.run_samples_action(a))
        yield SystemCommand("Audit log", "Who approved what, when", browser.action_audit)
        yield SystemCommand(
            "Definition changes",
            "The code against the store, and what each change makes stale",
            browser.action_graph_diff,
        )


def stylesheet() -> Path:
    return Path(__file__).with_name("app.tcss")
