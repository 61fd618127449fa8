"""Why samples are pending: `explain(store, feature)` and the Explanation it returns.

- model.py: the result (Explanation, SampleReason and its parts, the reason kinds);
- build.py: explain(), over the store interface alone;
- changes.py: upstream changes of changed and removed samples, and their reasons;
- added.py: added samples' reasons, and a root feature's;
- text.py: texts and JSON made in polars.
"""

from .build import explain
from .model import (
    KINDS,
    SHOWN,
    DefinitionChange,
    Explanation,
    FieldMove,
    ReasonList,
    SampleReason,
    UpstreamChange,
    short_value,
)

__all__ = [
    "explain",
    "Explanation",
    "SampleReason",
    "ReasonList",
    "UpstreamChange",
    "FieldMove",
    "DefinitionChange",
    "KINDS",
    "SHOWN",
    "short_value",
]
