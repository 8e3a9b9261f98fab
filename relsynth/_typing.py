"""Type aliases shared across relsynth (aliases only, no behaviour)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal, Union

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ColumnKind", "DeviceLike", "IfExists", "SeedLike", "Tables"]

SeedLike = Union[int, np.random.Generator, None]
DeviceLike = Union[str, None]
ColumnKind = Literal["numerical", "categorical", "datetime", "boolean", "text", "id", "binary"]
IfExists = Literal["fail", "replace", "append"]
Tables = Mapping[str, "pd.DataFrame"]
