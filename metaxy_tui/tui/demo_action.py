"""Building the demo store from inside the UI (the `d` key on an empty store)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import MetaxyError
from ..service.demo import build_demo, default_demo_path, open_demo_project

if TYPE_CHECKING:
    from .app import MetaxyApp


def open_demo(app: "MetaxyApp") -> None:
    app.notify("Building the demo store…", timeout=3)
    app.run_worker(lambda: _build(app), thread=True, exclusive=True, group="demo", name="demo")


def _build(app: "MetaxyApp") -> None:
    try:
        path = build_demo(default_demo_path())
        project = open_demo_project(path)
    except MetaxyError as e:
        app.call_from_thread(app.notify, f"Could not build the demo: {e}", severity="error")
        return
    app.call_from_thread(app.switch_project, project)
