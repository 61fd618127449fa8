"""A change's blast radius, before anything runs: which stored samples it would make stale.

Two kinds of change, one answer (per downstream feature and field: how many samples, and a
few of their ids), computed without writing anything:

- a definition change (the code against the store's snapshot, or two snapshots): a field
  whose version changes changes its feature's version, and every stored sample of that
  feature comes back as added (SPEC 4); downstream, exactly the fields whose parents
  (field-level lineage, `field_parents`) include a moved field move too, and their features'
  samples come back as well. A field whose version is unchanged does not move: a feature
  that reads only such fields keeps its samples. Graph arithmetic, then a count and a few
  ids per feature from the store (indexed: milliseconds on 1,000,000 rows).
- an approval (recompute or accept samples of one feature): the approved samples' moved
  fields reach the downstream samples linked to them (the same key, the group, the
  children) whose fields read them, and on down; read from the store by key.

Here the package's surface; model.py the answer's types, fields.py which fields move (shared by
both), definition.py and approval.py the two kinds of change.
"""

from .approval import approval_impact, sample_moves
from .definition import code_impact, definition_impact
from .model import BlastRadius, ChangeImpact, DefinitionImpact, StaleFeature

__all__ = [
    "StaleFeature",
    "ChangeImpact",
    "DefinitionImpact",
    "BlastRadius",
    "definition_impact",
    "code_impact",
    "approval_impact",
    "sample_moves",
]
