"""The files an import reads, as the user names them: paths shown and completed, the files import
can read, and a file's bytes hashed with the store's algorithm (provenance from a file)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import xxhash

from ..hashing import HashAlgorithm, Hasher
from .file_readers import EXTENSIONS


def shown_path(path: Path) -> str:
    """A folder as the user would type it: relative to the working folder when inside it."""
    try:
        rel = path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return str(path)
    return "." if str(rel) == "." else str(rel)


def importable(path: Path) -> bool:
    """A file whose extension names a format import reads."""
    return path.suffix.lower() in EXTENSIONS


def complete_path(text: str) -> str | None:
    """`text` completed to the first folder or importable file it is the start of (for suggestions)."""
    if not text:
        return None
    typed = Path(text).expanduser()
    folder, prefix = (typed, "") if text.endswith(os.sep) else (typed.parent, typed.name)
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name.lower())
    except OSError:
        return None
    for entry in entries:
        if not entry.name.startswith(prefix) or (entry.name.startswith(".") and not prefix.startswith(".")):
            continue
        try:
            is_dir = entry.is_dir()
        except OSError:
            continue
        if is_dir or importable(Path(entry.name)):
            return text + entry.name[len(prefix) :] + (os.sep if is_dir else "")
    return None


def hash_file(path: Path, hasher: Hasher, chunk: int = 1 << 20) -> str:
    """The store's hash algorithm over a file's bytes, as the same kind of string."""
    algo = hasher.algorithm
    kinds: dict[HashAlgorithm, Callable[[], Any]] = {
        HashAlgorithm.XXHASH64: xxhash.xxh64,
        HashAlgorithm.XXHASH32: xxhash.xxh32,
        HashAlgorithm.SHA256: hashlib.sha256,
        HashAlgorithm.MD5: hashlib.md5,
    }
    h = kinds[algo]()
    with path.open("rb") as fh:
        while True:
            b = fh.read(chunk)
            if not b:
                break
            h.update(b)
    out = str(h.intdigest()) if algo in (HashAlgorithm.XXHASH64, HashAlgorithm.XXHASH32) else h.hexdigest()
    return out[: hasher.truncation] if hasher.truncation else out
