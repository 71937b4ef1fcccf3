"""Demo only: does the run recover the per-donor multipotency the simulator planted?"""

from __future__ import annotations

import pandas as pd
from scipy.stats import spearmanr


def simulation_check(truth: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """Planted and realised fractions beside the recovered ones, with the absolute error of each."""
    keep = [
        c
        for c in ("ssea3_positive_fraction", "cnn_multipotent_fraction", "cnn_ci_low", "cnn_ci_high")
        if c in summary
    ]
    check = truth[["donor", "planted_fraction", "realised_fraction"]].merge(
        summary[["donor", *keep]], on="donor", how="inner"
    )
    for measure in ("ssea3_positive_fraction", "cnn_multipotent_fraction"):
        if measure in check:
            check[f"{measure}_abs_error"] = (check[measure] - check["realised_fraction"]).abs()
            check[f"{measure}_spearman_vs_planted"] = (
                spearmanr(check[measure], check["planted_fraction"]).statistic
                if len(check) > 2
                else float("nan")
            )
    return check
