"""Completing a typed path to the first matching folder or importable file."""

from __future__ import annotations

import asyncio

from textual.suggester import Suggester

from ...service.import_paths import complete_path


class ImportPathSuggester(Suggester):
    """Suggests the rest of a path; the folder is listed in a thread, not on the UI thread."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        return await asyncio.to_thread(complete_path, value)
