"""Stage 6: how faithful and how private a synthetic database is.

:func:`evaluate` compares a synthetic database with the real one it was made
from and returns an :class:`EvaluationReport`: per column, per column pair, per
foreign key and per table fidelity scores (:mod:`.metrics`), privacy scores
(:mod:`.privacy`), each beside its *ceiling* (the same score between two halves of
the real data, from :func:`split_holdout`), as JSON and as an HTML page with plots.

Only numpy and pandas are imported here; scikit-learn and matplotlib are imported
when a metric or the HTML page needs them, so ``import relsynth`` stays fast.
"""

from __future__ import annotations

from relsynth.evaluate._evaluate import evaluate
from relsynth.evaluate.holdout import split_holdout
from relsynth.evaluate.report import EvaluationReport

__all__ = ["EvaluationReport", "evaluate", "split_holdout"]
