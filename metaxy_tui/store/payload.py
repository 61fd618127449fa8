"""The provenance columns every store keeps for a validated row, as the write stores them."""

from __future__ import annotations

import polars as pl

from ..columns import (
    DATA_VERSION,
    DATA_VERSION_BY_FIELD,
    MATERIALIZATION_ID,
    PROVENANCE,
    PROVENANCE_BY_FIELD,
    dvbf_column,
    pbf_column,
)


def version_exprs(rows: pl.DataFrame, fields: list[str]) -> list[pl.Expr]:
    """Provenance by field, data version by field, provenance, data version and materialization id,
    in table order. A data version is stored only where it differs from the provenance: NULL
    means "the same"."""
    exprs = [pl.col(PROVENANCE_BY_FIELD).struct.field(f).alias(pbf_column(f)) for f in fields]
    has_dvbf = DATA_VERSION_BY_FIELD in rows.columns
    for f in fields:
        if has_dvbf:
            dv, pv = pl.col(DATA_VERSION_BY_FIELD).struct.field(f), pl.col(PROVENANCE_BY_FIELD).struct.field(f)
            exprs.append(pl.when(dv != pv).then(dv).otherwise(None).alias(dvbf_column(f)))
        else:
            exprs.append(pl.lit(None, pl.String).alias(dvbf_column(f)))
    exprs.append(pl.col(PROVENANCE))
    if DATA_VERSION in rows.columns:
        exprs.append(
            pl.when(pl.col(DATA_VERSION) != pl.col(PROVENANCE))
            .then(pl.col(DATA_VERSION))
            .otherwise(None)
            .alias(DATA_VERSION)
        )
    else:
        exprs.append(pl.lit(None, pl.String).alias(DATA_VERSION))
    exprs.append(
        pl.col(MATERIALIZATION_ID)
        if MATERIALIZATION_ID in rows.columns
        else pl.lit(None, pl.String).alias(MATERIALIZATION_ID)
    )
    return exprs
