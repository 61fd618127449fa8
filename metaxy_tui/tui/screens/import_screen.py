"""Importing samples from a file into a root feature.

Pick a file (type its path, tab completes; or ctrl+o to browse), the feature, the mode and
where provenance comes from; the file is read and checked in a worker and the preview, the
problems (each shown in place) and the counts appear. Import asks for confirmation, then
writes in a worker with a progress bar; escape cancels and the transaction rolls back.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, DirectoryTree, Header, Static
from textual.worker import get_current_worker

from ...errors import InputError, InputProblem, MetaxyError
from ...service.importer import (
    ImportCancelled,
    ImportPlan,
    ImportResult,
    apply_import,
    can_import,
    default_import_folder,
    plan_import,
    root_features,
    shown_path,
    targets_for,
)
from ...service.project import Project
from ...service.review import error_text
from ..widgets.import_actions import ImportActions
from ..widgets.import_body import ImportBody
from ..widgets.import_form import ImportForm
from ..widgets.import_mapping import ImportMappingPicker
from ..widgets.import_preview import ImportPreview
from ..widgets.import_problems import ImportProblems
from ..widgets.key_footer import KeyFooter
from ..fit import fit_titles
from .import_read_cache import ReadCache
from .import_text import (
    EMPTY_HELP,
    confirm_question,
    plan_title,
    preview_title,
    problems_title,
    reading_title,
    stopped_note,
    stopped_reading_note,
    summary_text,
    tree_title,
)


class ImportScreen(Screen[bool]):
    """Dismissed with True when something was written, False otherwise."""

    CSS_PATH = "import_screen.tcss"
    BINDINGS = [
        Binding("escape", "back", "Back", tooltip="Close a panel, cancel a running import, or go back"),
        Binding("ctrl+o", "browse", "Browse", tooltip="Pick the file from a folder tree"),
        Binding("m", "map_column", "Map column", tooltip="Choose what the column under the cursor maps to"),
        Binding("ctrl+r", "reload", "Re-read", tooltip="Read the file again (after fixing it)"),
        Binding("ctrl+s", "import", "Import", tooltip="Write the samples (asks first)"),
    ]

    # ----- messages from the workers ----------------------------------------------------------
    @dataclass
    class PlanReady(Message):
        token: int
        plan: ImportPlan

    @dataclass
    class PlanFailed(Message):
        token: int
        message: str

    @dataclass
    class FolderChosen(Message):
        path: str

    @dataclass
    class WorkProgress(Message):
        stage: str
        done: int
        total: int

    @dataclass
    class ImportDone(Message):
        result: ImportResult

    @dataclass
    class ImportStopped(Message):
        message: str
        cancelled: bool = False
        problems: list[InputProblem] = field(default_factory=list)

    def __init__(self, project: Project, feature: str | None = None) -> None:
        super().__init__()
        self.project = project
        self.roots = root_features(project)
        self.feature: str | None = feature if feature in self.roots else (self.roots[0] if self.roots else None)
        self.folder = default_import_folder(project)
        self.path: str | None = None
        self.full_set = False
        self.keep_extra = False  # file columns that match no feature column: problems unless kept
        self.provenance = "auto"
        self.mapping: dict[str, str | None] = {}
        self.plan: ImportPlan | None = None
        self.writable = can_import(project)
        self._token = 0
        self._planning = False
        self._writing = False
        self._cancel = threading.Event()
        self._files = ReadCache()
        self._note: Text | None = None

    # ----- layout -----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        yield ImportForm(self.roots, self.feature, shown_path(self.folder), id="form")
        yield Static(id="preview-title")
        with ImportBody(initial="empty", id="body"):
            yield Static(Text(EMPTY_HELP), id="empty")
            yield ImportPreview(id="preview")
        yield ImportProblems(id="problems")
        yield ImportMappingPicker(id="mapping")
        yield ImportActions(id="actions")
        yield KeyFooter()

    def _fit_titles(self) -> None:
        self.title, self.sub_title = fit_titles("Import samples", self.project.source, self.app.size.width)

    def on_resize(self) -> None:
        self._fit_titles()

    def on_mount(self) -> None:
        self._fit_titles()
        self.query_one(ImportProblems).display = False
        self._render_plan()
        self.query_one(ImportForm).path_input.focus()

    # ----- choosing -----------------------------------------------------------------------------
    @on(ImportForm.PathSubmitted)
    def _path_submitted(self, message: ImportForm.PathSubmitted) -> None:
        self.load(message.path)

    @on(DirectoryTree.FileSelected, "#files")
    def _file_picked(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        self.query_one(ImportForm).path_input.value = str(event.path)
        self._close_tree()
        self.load(str(event.path))

    @on(ImportForm.BrowseRequested)
    def _browse_requested(self) -> None:
        self.action_browse()

    @on(ImportForm.FeatureChosen)
    def _feature_chosen(self, message: ImportForm.FeatureChosen) -> None:
        self.feature = message.feature
        self.mapping = {}  # another feature's columns: map afresh
        self._replan()

    @on(ImportForm.ModeChosen)
    def _mode_chosen(self, message: ImportForm.ModeChosen) -> None:
        self.full_set = message.full_set
        if self.plan is not None:
            self.plan.full_set = self.full_set  # only the removed count depends on it
            self._render_summary()

    @on(ImportForm.KeepExtraChosen)
    def _keep_extra_chosen(self, message: ImportForm.KeepExtraChosen) -> None:
        self.keep_extra = message.keep
        self._replan()

    @on(ImportForm.ProvenanceChosen)
    def _provenance_chosen(self, message: ImportForm.ProvenanceChosen) -> None:
        self.provenance = message.provenance
        self._replan()

    def load(self, path: str) -> None:
        path = path.strip()
        if not path:
            return
        if path != self.path:
            self.mapping = {}
            if self.provenance.startswith("file:"):  # another file's column
                self.provenance = "auto"
                self.query_one(ImportForm).reset_provenance()
        self.path = path
        self._replan()

    def _replan(self) -> None:
        if self.path is None or self.feature is None or self._writing:
            return
        self._token += 1
        self._planning = True
        self._note = None
        self.query_one(ImportBody).loading = True
        self.query_one("#preview-title", Static).update(reading_title(self.path))
        self._render_summary()
        self.plan_in_background(
            self._token, self.path, self.feature, self.full_set, self.provenance, dict(self.mapping), self.keep_extra
        )

    # ----- planning (worker) ----------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="import-plan", name="import-plan")
    def plan_in_background(
        self,
        token: int,
        path: str,
        feature: str,
        full_set: bool,
        provenance: str,
        mapping: dict[str, str | None],
        keep_extra: bool = False,
    ) -> None:
        worker = get_current_worker()
        try:
            if Path(path).expanduser().is_dir():
                self.post_message(self.FolderChosen(path))
                return
            data = self._files.read(path)
            plan = plan_import(
                self.project,
                feature,
                data,
                source=path,
                full_set=full_set,
                provenance=provenance,
                mapping=mapping,
                keep_extra=keep_extra,
                cancelled=lambda: worker.is_cancelled,
                progress=lambda s, d, t: self.post_message(self.WorkProgress(s, d, t)),
            )
        except ImportCancelled:
            return
        except MetaxyError as e:
            self.post_message(self.PlanFailed(token, str(e)))
            return
        except Exception as e:  # an unexpected failure must not take the app down
            self.post_message(self.PlanFailed(token, error_text(e)))
            return
        if not worker.is_cancelled:
            self.post_message(self.PlanReady(token, plan))

    @on(PlanReady)
    def _plan_ready(self, message: PlanReady) -> None:
        if message.token != self._token:
            return
        self._planning = False
        plan = message.plan
        plan.full_set = self.full_set
        self.plan = plan
        self.query_one(ImportForm).offer_columns(plan.columns)
        self.query_one(ImportBody).loading = False
        self._render_plan()
        if plan.problems:
            self.query_one(ImportProblems).focus()
        elif self.query_one(ImportActions).import_enabled:
            self.query_one("#import", Button).focus()
        else:
            self.query_one(ImportPreview).focus()

    @on(PlanFailed)
    def _plan_failed(self, message: PlanFailed) -> None:
        if message.token != self._token:
            return
        self._planning = False
        self.plan = None
        self.query_one(ImportBody).loading = False
        self._render_plan()
        self.query_one(ImportProblems).show([InputProblem(message.message)], "cannot import")

    @on(FolderChosen)
    def _folder_chosen(self, message: FolderChosen) -> None:
        self._planning = False
        self.path = None
        self.query_one(ImportBody).loading = False
        self._render_summary()
        self._open_tree(Path(message.path).expanduser())

    # ----- showing the plan -------------------------------------------------------------------------
    def _render_plan(self) -> None:
        plan = self.plan
        self.query_one("#preview-title", Static).update(preview_title() if plan is None else plan_title(plan))
        self.query_one(ImportBody).show_plan(plan)
        if plan is None:
            self.query_one(ImportProblems).show([], "")
        else:
            self.query_one(ImportProblems).show(plan.problems, problems_title(plan))
        self._render_summary()

    def _render_summary(self) -> None:
        actions = self.query_one(ImportActions)
        if self._writing:
            return
        if self._planning:
            actions.run("reading and checking the file…", None)
            self.refresh_bindings()
            return
        text, can = summary_text(self.plan, chosen=self.path is not None, writable=self.writable, note=self._note)
        actions.ready(text, can)
        self.refresh_bindings()

    # ----- problems and mapping -----------------------------------------------------------------
    @on(ImportProblems.Shown)
    def _problem_shown(self, message: ImportProblems.Shown) -> None:
        self.query_one(ImportBody).show_problem(message.problem)

    @on(ImportProblems.Chosen)
    def _problem_chosen(self, message: ImportProblems.Chosen) -> None:
        if self.query_one(ImportBody).show_problem(message.problem):
            self.query_one(ImportPreview).focus()

    def action_map_column(self) -> None:
        if self.plan is None or not self.plan.columns or self.feature is None or self._writing:
            return
        column = None
        if isinstance(self.focused, ImportProblems):
            p = self.focused.current
            column = p.column if p is not None and p.column in self.plan.columns else None
        if column is None:
            column = self.query_one(ImportPreview).current_column
        if column is None:
            self.notify("Put the preview's cursor on a file column first.", severity="warning", markup=False)
            return
        self.query_one(ImportProblems).display = False  # the picker takes its place
        self.query_one(ImportMappingPicker).open_for(
            column, self.plan.mapping.get(column), targets_for(self.project, self.feature)
        )

    @on(ImportMappingPicker.Chosen)
    def _mapping_chosen(self, message: ImportMappingPicker.Chosen) -> None:
        self.mapping[message.column] = message.target
        self.query_one(ImportPreview).focus()
        self._replan()

    @on(ImportMappingPicker.Closed)
    def _mapping_closed(self) -> None:
        problems = self.query_one(ImportProblems)
        problems.display = bool(self.plan is not None and self.plan.problems)
        self.query_one(ImportPreview).focus()

    # ----- importing ----------------------------------------------------------------------------
    def action_import(self) -> None:
        actions = self.query_one(ImportActions)
        if actions.state == "ready" and actions.import_enabled and self.plan is not None:
            self.post_message(ImportActions.Requested())

    @on(ImportActions.Requested)
    def _import_requested(self) -> None:
        plan = self.plan
        if plan is None or not plan.will_write or not self.writable:
            return
        self.query_one(ImportActions).ask(confirm_question(plan))

    @on(ImportActions.Declined)
    def _import_declined(self) -> None:
        self._render_summary()
        self.query_one("#import", Button).focus()

    @on(ImportActions.Confirmed)
    def _import_confirmed(self) -> None:
        if self.plan is None or self._writing:
            return
        self._writing = True
        self._cancel.clear()
        self.query_one(ImportForm).disabled = True
        actions = self.query_one(ImportActions)
        actions.run("checking the rows…", None)
        self.query_one("#cancel", Button).focus()
        self.refresh_bindings()
        self.write_in_background(self.plan)

    @work(thread=True, exclusive=True, group="import-write", name="import-write")
    def write_in_background(self, plan: ImportPlan) -> None:
        worker = get_current_worker()
        try:
            result = apply_import(
                self.project,
                plan,
                progress=lambda s, d, t: self.post_message(self.WorkProgress(s, d, t)),
                cancelled=lambda: worker.is_cancelled or self._cancel.is_set(),
            )
        except ImportCancelled as e:
            self.post_message(self.ImportStopped(str(e), cancelled=True))
        except InputError as e:
            self.post_message(
                self.ImportStopped("the store refused the rows: nothing was written", problems=e.problems)
            )
        except MetaxyError as e:
            self.post_message(self.ImportStopped(f"{e} (nothing was written)"))
        except Exception as e:  # the transaction rolled back; say so rather than crash
            self.post_message(self.ImportStopped(f"{error_text(e)} (nothing was written)"))
        else:
            self.post_message(self.ImportDone(result))

    @on(WorkProgress)
    def _work_progress(self, message: WorkProgress) -> None:
        actions = self.query_one(ImportActions)
        if self._writing:
            if not self._cancel.is_set():
                actions.progress(message.stage, message.done, message.total)
        elif self._planning:
            actions.progress(message.stage, message.done, message.total)

    @on(ImportDone)
    def _import_done(self, message: ImportDone) -> None:
        self._writing = False
        name = self.plan.source_name if self.plan else "the file"
        self.app.notify(f"Imported {name}: {message.result.summary()}", title="Import", markup=False)
        self.dismiss(True)

    @on(ImportStopped)
    def _import_stopped(self, message: ImportStopped) -> None:
        self._writing = False
        self.query_one(ImportForm).disabled = False
        self._note = stopped_note(message.message, cancelled=message.cancelled)
        if message.problems:
            self.query_one(ImportProblems).show(message.problems, "the store refused the rows")
        self._render_summary()
        self.query_one("#import", Button).focus()

    @on(ImportActions.CancelRequested)
    def _cancel_requested(self) -> None:
        self._request_cancel()

    def _request_cancel(self) -> None:
        if self._writing:
            self._cancel.set()
            self.query_one(ImportActions).cancelling()
        elif self._planning:
            self.workers.cancel_group(self, "import-plan")
            self._token += 1  # whatever the stopped worker still posts is ignored
            self._planning = False
            self.plan = None
            self.query_one(ImportBody).loading = False
            self._note = stopped_reading_note()
            self._render_plan()

    # ----- the folder tree ----------------------------------------------------------------------
    def _open_tree(self, folder: Path) -> None:
        self.query_one("#preview-title", Static).update(tree_title())
        self.query_one(ImportBody).open_tree(folder)

    def _close_tree(self) -> None:
        self.query_one(ImportBody).close_tree(preview=self.plan is not None and bool(self.plan.columns))
        if self.plan is None:
            self.query_one("#preview-title", Static).update(preview_title())

    # ----- keys ---------------------------------------------------------------------------------
    def action_browse(self) -> None:
        if self._writing:
            return
        if self.query_one(ImportBody).tree_open:
            self._close_tree()
            self.query_one(ImportForm).path_input.focus()
        else:
            typed = Path(self.query_one(ImportForm).path_input.value.strip() or str(self.folder)).expanduser()
            self._open_tree(typed if typed.is_dir() else typed.parent if typed.parent.is_dir() else self.folder)

    def action_reload(self) -> None:
        self._files.clear()
        self._replan()

    def action_back(self) -> None:
        picker = self.query_one(ImportMappingPicker)
        actions = self.query_one(ImportActions)
        if self._writing or self._planning:
            self._request_cancel()
        elif picker.display:
            picker.close()
        elif actions.state == "confirm":
            self._import_declined()
        elif self.query_one(ImportBody).tree_open:
            self.action_browse()
        else:
            self.dismiss(False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "import":
            return True if self.query_one(ImportActions).import_enabled and not self._writing else None
        if action == "map_column":
            return True if self.plan is not None and self.plan.columns and not self._writing else None
        if action in ("browse", "reload"):
            return None if self._writing else True
        return True
