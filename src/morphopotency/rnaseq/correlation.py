"""Pearson correlation between samples (paper Fig. 2A and 5C)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def pearson(values: pd.DataFrame) -> pd.DataFrame:
    """Samples x samples Pearson r of a genes x samples matrix."""
    r = np.corrcoef(values.to_numpy(dtype=float), rowvar=False)
    return pd.DataFrame(r, index=values.columns, columns=values.columns)
