"""Hash algorithms for sample provenance.

One definition, two implementations that must agree: `Hasher.hash` for single strings
(and as a deterministic SQLite function) and `Hasher.expr` for polars columns, which is
what the hot paths use (vectorised in Rust through polars-hash).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from enum import Enum

import polars as pl
import polars_hash  # noqa: F401  (registers the .nchash / .chash namespaces)
import xxhash


class HashAlgorithm(str, Enum):
    XXHASH64 = "xxhash64"
    XXHASH32 = "xxhash32"
    SHA256 = "sha256"
    MD5 = "md5"

    @classmethod
    def parse(cls, value: "str | HashAlgorithm") -> "HashAlgorithm":
        if isinstance(value, HashAlgorithm):
            return value
        try:
            return cls(str(value).lower())
        except ValueError:
            names = ", ".join(a.value for a in cls)
            raise ValueError(f"unknown hash algorithm {value!r} (choose one of {names})") from None


_SCALAR = {
    HashAlgorithm.XXHASH64: lambda b: str(xxhash.xxh64_intdigest(b)),
    HashAlgorithm.XXHASH32: lambda b: str(xxhash.xxh32_intdigest(b)),
    HashAlgorithm.SHA256: lambda b: hashlib.sha256(b).hexdigest(),
    HashAlgorithm.MD5: lambda b: hashlib.md5(b).hexdigest(),
}


def _vector(algorithm: HashAlgorithm, e: pl.Expr) -> pl.Expr:
    plugin: Any = e  # polars-hash adds the chash and nchash namespaces; its types do not declare them
    out: pl.Expr
    if algorithm is HashAlgorithm.XXHASH64:
        out = plugin.nchash.xxhash64().cast(pl.String)
    elif algorithm is HashAlgorithm.XXHASH32:
        out = plugin.nchash.xxhash32().cast(pl.String)
    elif algorithm is HashAlgorithm.SHA256:
        out = plugin.chash.sha2_256()
    else:
        out = plugin.nchash.md5()
    return out


@dataclass(frozen=True)
class Hasher:
    algorithm: HashAlgorithm = HashAlgorithm.XXHASH64
    truncation: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "algorithm", HashAlgorithm.parse(self.algorithm))
        if self.truncation is not None and (not isinstance(self.truncation, int) or self.truncation < 1):
            raise ValueError(f"hash_truncation_length must be a positive integer, got {self.truncation!r}")

    def hash(self, text: str) -> str:
        out = _SCALAR[self.algorithm](text.encode("utf-8"))
        return out[: self.truncation] if self.truncation else out

    def expr(self, e: pl.Expr) -> pl.Expr:
        """Hash a String expression; nulls stay null."""
        out = _vector(self.algorithm, e)
        return out.str.slice(0, self.truncation) if self.truncation else out

    def join_expr(self, parts: list[pl.Expr]) -> pl.Expr:
        """H("|".join(parts)) for each row."""
        return self.expr(pl.concat_str(parts, separator="|"))

    def register(self, conn: Any) -> None:  # an sqlite3.Connection (only the SQLite store calls this)
        """Make `mx_hash(text)` available in SQL on this connection."""
        conn.create_function("mx_hash", 1, lambda s: None if s is None else self.hash(str(s)), deterministic=True)

    def describe(self) -> str:
        return self.algorithm.value + (f" truncated to {self.truncation}" if self.truncation else "")
