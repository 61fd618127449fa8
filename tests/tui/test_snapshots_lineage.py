"""SVG snapshots of the Lineage panel on the demo store (120x40).

The panel is shown on its own (not inside the browser) so that changes to other widgets do
not churn these snapshots. Update with `pytest --snapshot-update` after looking at the report.
"""

from __future__ import annotations

from textual.app import App, ComposeResult

from metaxy_tui.service.project import open_project
from metaxy_tui.service.status import all_statuses
from metaxy_tui.tui.widgets.lineage_panel import LineagePanel


class LineageSnapshotApp(App[None]):
    def __init__(self, db) -> None:
        super().__init__()
        self.project = open_project(db=db)

    def compose(self) -> ComposeResult:
        yield LineagePanel(self.project)

    def on_mount(self) -> None:
        panel = self.query_one(LineagePanel)
        panel.set_statuses(all_statuses(self.project))
        panel.focus()

    def on_unmount(self) -> None:
        self.project.close()


def test_face_detection_depends_only_on_frames(snap_compare, demo_store):
    async def select_faces(pilot):
        pilot.app.query_one(LineagePanel).show_feature("video/face_detection")
        await pilot.pause()

    assert snap_compare(LineageSnapshotApp(demo_store), terminal_size=(120, 40), run_before=select_faces)


def test_video_audio_flows_to_transcripts(snap_compare, demo_store):
    assert snap_compare(LineageSnapshotApp(demo_store), terminal_size=(120, 40), press=["right"])
