"""Learning-rate search (paper Fig. 4B-C): Optuna's Gaussian-process Bayesian optimisation of log10(lr)
against validation loss, stored in SQLite so an interrupted search resumes; and the surrogate figure's
data (GP mean, uncertainty and expected improvement over the learning rate) from the merged trials."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
from scipy.stats import norm
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel


def run_study(
    objective: Callable[[float], tuple[float, float]],
    storage: str | Path,
    n_trials: int,
    low: float,
    high: float,
    seed: int,
    n_startup_trials: int = 3,
    sampler: str = "gp",
    study_name: str = "learning_rate",
) -> pd.DataFrame:
    """Run the trials still missing from the study in ``storage``; ``objective(lr)`` → (val loss, val
    ROC-AUC).

    Returns every finished trial: iteration, learning_rate, val_loss, val_roc_auc.
    """
    Path(storage).parent.mkdir(parents=True, exist_ok=True)
    chosen = (
        optuna.samplers.GPSampler(seed=seed, n_startup_trials=n_startup_trials)
        if sampler == "gp"
        else optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_startup_trials)
    )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=study_name,
        storage=f"sqlite:///{Path(storage).resolve()}",
        direction="minimize",
        sampler=chosen,
        load_if_exists=True,
    )

    def trial_objective(trial: optuna.Trial) -> float:
        loss, auc = objective(trial.suggest_float("learning_rate", low, high, log=True))
        trial.set_user_attr("val_roc_auc", auc)
        return loss

    done = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    if done < n_trials:
        study.optimize(trial_objective, n_trials=n_trials - done)
    finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE][:n_trials]
    return pd.DataFrame(
        {
            "iteration": np.arange(1, len(finished) + 1),
            "learning_rate": [t.params["learning_rate"] for t in finished],
            "val_loss": [t.value for t in finished],
            "val_roc_auc": [t.user_attrs.get("val_roc_auc", np.nan) for t in finished],
        }
    )


def surrogate(
    trials: pd.DataFrame, low: float, high: float, points: int = 200, xi: float = 0.01, seed: int = 0
) -> pd.DataFrame:
    """GP fit of val loss over log10(lr) (Matérn 5/2 + noise) with expected improvement for minimisation.

    Fitted afresh with scikit-learn on all repeats' trials, so the figure shows the merged evidence rather
    than one sampler's internal state.
    """
    x = np.log10(trials["learning_rate"].to_numpy())[:, None]
    y = trials["val_loss"].to_numpy()
    kernel = ConstantKernel(1.0) * Matern(length_scale=0.5, nu=2.5) + WhiteKernel(1e-2)
    gp = GaussianProcessRegressor(
        kernel=kernel, normalize_y=True, random_state=seed, n_restarts_optimizer=3
    ).fit(x, y)
    grid = np.linspace(np.log10(low), np.log10(high), points)
    mean, sd = gp.predict(grid[:, None], return_std=True)
    improvement = y.min() - mean - xi
    z = np.divide(improvement, sd, out=np.zeros_like(sd), where=sd > 0)
    ei = np.where(sd > 0, improvement * norm.cdf(z) + sd * norm.pdf(z), 0.0)
    return pd.DataFrame(
        {
            "log10_learning_rate": grid,
            "learning_rate": 10**grid,
            "mean": mean,
            "sd": sd,
            "expected_improvement": ei,
        }
    )


def best_learning_rate(trials: pd.DataFrame) -> float:
    """The learning rate of the trial with the lowest validation loss over all repeats."""
    return float(trials.loc[trials["val_loss"].idxmin(), "learning_rate"])
