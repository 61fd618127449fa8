"""The Samples tab (being built)."""

from __future__ import annotations

from textual.widgets import Static

from ...service.project import Project


class SamplesPanel(Static):
    def __init__(self, project: Project, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.project = project

    def show_feature(self, key: str | None) -> None:
        self.update(f"samples of {key}")

    def reload(self) -> None:
        pass
