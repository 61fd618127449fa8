"""Where an import can go, for the UI: the root features, the first folder to look in, whether the
store takes writes, and what a file column can be mapped to."""

from __future__ import annotations

from pathlib import Path


from ..columns import MATERIALIZATION_ID, PROVENANCE_BY_FIELD
from ..errors import MetaxyError
from .import_mapping import DVBF_PREFIX, PBF_PREFIX
from .project import Project


def root_features(project: Project) -> list[str]:
    """The keys of the features samples can be imported into (roots), sorted."""
    if len(project.graph) == 0:
        return []
    plan = project.graph.plan()
    return sorted(k for k in project.graph.keys if plan[k].is_root)


def default_import_folder(project: Project) -> Path:
    """Where to look for files first: the project's data/ folder, its folder, or the working folder."""
    candidates: list[Path] = []
    if project.config is not None and project.config.path:
        base = Path(project.config.path).parent
        candidates += [base / "data", base]
    if getattr(project.store, "project", None) == "video_demo":
        try:
            from .demo import demo_dir

            candidates.append(demo_dir() / "data")
        except MetaxyError:
            pass
    candidates.append(Path.cwd())
    for c in candidates:
        if c.is_dir():
            return c
    return Path.cwd()


def can_import(project: Project) -> bool:
    """False when the store was opened read-only."""
    return "opened read-only" not in project.notes


def targets_for(project: Project, feature: str) -> list[tuple[str, str]]:
    """What a file column can be mapped to, each with a short description; feature columns first."""
    definition = project.graph.feature_plan(feature).definition
    out = [
        (c, ("id column, " if c in definition.id_columns else "") + t.describe()) for c, t in definition.columns.items()
    ]
    out += [(PBF_PREFIX + f, f"provenance of field {f!r} (text)") for f in definition.field_keys]
    out.append((PROVENANCE_BY_FIELD, 'provenance of every field, as JSON {"field": "..."}'))
    out += [(DVBF_PREFIX + f, f"data version of field {f!r} (text)") for f in definition.field_keys]
    out.append((MATERIALIZATION_ID, "a run id kept with each sample"))
    return out
