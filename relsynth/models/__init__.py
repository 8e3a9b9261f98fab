"""Column-value models (stage 3 of 5): learn a table's non-key columns given its parents.

- :class:`ConditionalWGAN`: one row per context row (CTGAN-style conditional WGAN-GP).
- :class:`SequenceModel`: one ordered sequence per context row (LSTM generator).

Both implement the :class:`TableModel` template (``fit``/``sample`` are final): the
first the :class:`RowTableModel` protocol, the second :class:`SequenceTableModel`.
Contexts are typed (:class:`Context`: parent features, family size and position).
``relsynth.testing.check_table_model`` checks the contract. torch is imported only
inside this package.
"""

from __future__ import annotations

from relsynth.models._torch import torch_threads
from relsynth.models.base import RowTableModel, SequenceTableModel, TableModel
from relsynth.models.context import Context
from relsynth.models.encoding import TableEncoder
from relsynth.models.sequential import SequenceModel
from relsynth.models.wgan import ConditionalWGAN

__all__ = [
    "ConditionalWGAN",
    "Context",
    "RowTableModel",
    "SequenceModel",
    "SequenceTableModel",
    "TableEncoder",
    "TableModel",
    "torch_threads",
]
