"""Copying a store to another (`metaxy-tui copy --from A --to B`): naming the two ends, progress,
cancelling. What travels and how a target is loaded is the store package's (store/transfer.py)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ..config import find_config, init_metaxy
from ..errors import ConfigError, StoreError
from ..store import is_postgres_url, store_location
from ..store.copy import copy_store
from ..store.transfer_form import CopySummary


class CopyCancelled(StoreError):
    """The copy was stopped; the target was left as it was."""


def resolve_address(address: str, *, config: str | os.PathLike | None = None) -> str:
    """A store address as `copy` takes it: a postgresql:// connection string, a SQLite file, or
    the name of a store in metaxy.toml (the file given, or found from the current folder up) when
    no file of that name exists. Returns the location `store_at` opens."""
    address = str(address).strip()
    if not address:
        raise StoreError("an empty store address")
    if is_postgres_url(address):
        return address
    if Path(address).exists() or os.sep in address or address.endswith((".db", ".sqlite", ".sqlite3")):
        return address
    path = Path(config) if config else find_config()
    if path is not None and path.is_file():
        cfg = init_metaxy(path, load_entrypoints=False)
        if address in cfg.store_names():
            return store_location(cfg.get_store(address))
    elif config:
        raise ConfigError(f"{config}: no such configuration file")
    return address


def copy_between(
    source: str,
    target: str,
    *,
    merge: bool = False,
    config: str | os.PathLike | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> CopySummary:
    """Copy the store at `source` into `target` (addresses as `resolve_address` takes them), in one
    transaction on the target. `progress(what, done_rows, total_rows)` is called per batch;
    `cancelled()` returning True stops the copy (CopyCancelled) with the target unchanged."""
    src = resolve_address(source, config=config)
    dst = resolve_address(target, config=config)

    def step(what: str, done: int, total: int) -> None:
        if cancelled is not None and cancelled():
            raise CopyCancelled("copy cancelled; the target was left as it was")
        if progress is not None:
            progress(what, done, total)

    return copy_store(src, dst, merge=merge, progress=step)


__all__ = ["CopyCancelled", "CopySummary", "copy_between", "resolve_address"]
