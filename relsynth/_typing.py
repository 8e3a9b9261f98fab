"""Type aliases shared across relsynth (aliases only, no behaviour)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ColumnKind", "DeviceLike", "IfExists", "SeedLike", "Tables"]

SeedLike = int | np.random.Generator | None
DeviceLike = str | None
ColumnKind = Literal["numerical", "categorical", "datetime", "boolean", "text", "id", "binary"]
IfExists = Literal["fail", "replace", "append"]
Tables = Mapping[str, "pd.DataFrame"]
