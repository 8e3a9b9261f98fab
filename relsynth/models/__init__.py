"""Column-value models (stage 3 of 5): learn a table's non-key columns given its parents.

- :class:`ConditionalWGAN`: one row per context row (CTGAN-style conditional WGAN-GP).
- :class:`SequenceModel`: one ordered sequence per context row (LSTM generator).

Both implement :class:`TableModel`; ``relsynth.testing.check_table_model`` checks the
contract. torch is imported only inside this package.
"""

from __future__ import annotations

from relsynth.models._torch import torch_threads
from relsynth.models.base import TableModel
from relsynth.models.encoding import TableEncoder
from relsynth.models.sequential import SequenceModel
from relsynth.models.wgan import ConditionalWGAN

__all__ = ["ConditionalWGAN", "SequenceModel", "TableEncoder", "TableModel", "torch_threads"]
