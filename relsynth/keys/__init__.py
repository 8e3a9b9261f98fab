"""Stage 2 of the pipeline: HOW MANY rows each table gets and WHO points to whom.

The keys layer samples *skeletons*: the primary and foreign key columns of every
table, before any value column exists. It is pure (numpy, scipy, pandas;
no torch, no database driver).

* :class:`KeyGenerator` fits per-key models and samples a :class:`KeySkeleton`
  (``sample``), or one table at a time for the synthesizer (``sample_table``,
  ``match_secondary``, ``fill_deferred``);
* :class:`CardinalityModel`: children per parent, a KDE conditional on the parent;
* :class:`DegreeModel`: in-degrees of secondary keys;
* :class:`ParentFeatures`: the small feature vector a parent conditions on;
* :class:`KeyFormat` / :func:`learn_format`: key values that look like the source's.

One module per idea (``drivers``, ``secondary``, ``matching``, ``columns``,
``forest``, ``deferred``), each with its fitted state as a frozen dataclass;
``state.TableKeys`` gathers them per table. See ``docs/keys.md`` for the approach.
"""

from __future__ import annotations

from relsynth.keys.cardinality import CardinalityModel, DegreeModel
from relsynth.keys.features import ParentFeatures
from relsynth.keys.generator import KeyGenerator
from relsynth.keys.ids import KeyFormat, learn_format
from relsynth.keys.skeleton import KeySkeleton, key_columns, key_metadata

__all__ = [
    "CardinalityModel",
    "DegreeModel",
    "KeyFormat",
    "KeyGenerator",
    "KeySkeleton",
    "ParentFeatures",
    "key_columns",
    "key_metadata",
    "learn_format",
]
