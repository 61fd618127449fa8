"""The middle of the import screen: the help (`empty`), the plan's preview (`preview`) or, while
browsing, the folder tree (`files`). The tree is mounted only while it is shown: a DirectoryTree
keeps a loader worker running as long as it exists."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import ContentSwitcher

from ...errors import InputProblem
from ...service.importer import ImportPlan
from .import_file_tree import ImportFileTree
from .import_preview import ImportPreview


class ImportBody(ContentSwitcher):
    """The screen composes the help and the preview into it; the tree comes and goes."""

    @property
    def tree_open(self) -> bool:
        return bool(self.query(ImportFileTree))

    def show_plan(self, plan: ImportPlan | None) -> None:
        """The plan's preview (closing the tree), or the help when it has no columns; with no plan,
        the help, unless the tree is open."""
        if plan is None:
            if self.current != "files":
                self.current = "empty"
            return
        if self.tree_open:
            self.close_tree(preview=bool(plan.columns))
        if plan.columns:
            self.query_one(ImportPreview).show_plan(plan)
            self.current = "preview"
        else:
            self.current = "empty"

    def show_problem(self, problem: InputProblem) -> bool:
        """Put the preview's cursor on the problem; False when the preview or the problem is not shown."""
        return self.current == "preview" and self.query_one(ImportPreview).show_problem(problem)

    def open_tree(self, folder: Path) -> None:
        """Show `folder` in the tree (mounted if it is not yet) and focus it."""
        if self.tree_open:
            tree = self.query_one(ImportFileTree)
            tree.path = folder
        else:
            tree = ImportFileTree(folder, id="files")
            self.mount(tree)
        self.current = "files"
        tree.focus()

    def close_tree(self, *, preview: bool) -> None:
        """Back to the preview (or the help, with no columns to preview); the tree is removed."""
        self.current = "preview" if preview else "empty"
        for tree in self.query(ImportFileTree):
            tree.remove()
