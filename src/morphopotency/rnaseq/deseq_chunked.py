"""DESeq2 through pydeseq2, fitted a chunk of genes at a time so memory stays near one count matrix.

pydeseq2 keeps every per-sample quantity (normalised counts, fitted means, Cook's distances, a genes x 50
independent-filtering table) as a full matrix: about 18 copies of the counts at 10 samples. Only three
steps need all genes at once -- median-of-ratios size factors, the dispersion trend with its prior
variance, and independent filtering -- and each needs only per-gene vectors. Those are computed here over
all genes; everything per sample runs chunk by chunk through pydeseq2's own ``DeseqDataSet``, fed the
global size factors, trend and prior the same way pydeseq2 itself refits Cook's outliers
(``DeseqDataSet._refit_without_outliers``). The result equals a single pydeseq2 run (tested).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from pydeseq2.dds import DeseqDataSet
from pydeseq2.default_inference import DefaultInference
from pydeseq2.ds import DeseqStats
from pydeseq2.utils import dispersion_trend, lowess, mean_absolute_deviation
from scipy.special import polygamma
from scipy.stats import false_discovery_control, trim_mean

@dataclass(frozen=True)
class Trend:
    """The dispersion-mean trend and the prior variance of log dispersions around it."""

    kind: str  # "parametric" (a0 + a1 / mean) or "mean" (a constant)
    coeffs: pd.Series | None
    mean_disp: float | None
    squared_logres: float
    prior_disp_var: float

    def __call__(self, normed_means: np.ndarray) -> np.ndarray:
        if self.kind == "parametric":
            return np.asarray(dispersion_trend(normed_means, self.coeffs), dtype=float)
        return np.full(len(normed_means), self.mean_disp, dtype=float)

    def apply_to(self, dds: DeseqDataSet) -> None:
        dds.uns["disp_function_type"] = self.kind
        if self.kind == "parametric":
            dds.uns["trend_coeffs"] = self.coeffs
        else:
            dds.uns["mean_disp"] = self.mean_disp
        fitted = np.full(dds.n_vars, np.nan)
        non_zero = dds.var["non_zero"].to_numpy()
        fitted[non_zero] = self(dds.var.loc[non_zero, "_normed_means"].to_numpy())
        dds.var["fitted_dispersions"] = fitted
        dds.uns["_squared_logres"] = self.squared_logres
        dds.uns["prior_disp_var"] = np.asarray(self.prior_disp_var)


class GenewiseMemo(DefaultInference):
    """pydeseq2's inference, remembering gene-wise dispersion fits by their exact inputs.

    The second pass over a chunk repeats the first pass's gene-wise fit, which is about 85 % of its
    cost (one L-BFGS per gene); handing back the remembered result keeps the second pass cheap while
    storing only per-gene vectors. Any call whose inputs differ (a Cook's refit with replaced counts,
    or the MAP fit, which has a prior) is computed afresh. A subclass of ``DefaultInference`` is
    pydeseq2's documented way to change how a step is computed.
    """

    def __init__(self, n_cpus: int) -> None:
        super().__init__(n_cpus=n_cpus)
        self._fits: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    @staticmethod
    def _key(*arrays: np.ndarray, **scalars: object) -> str:
        digest = hashlib.sha256(repr(sorted(scalars.items())).encode())
        for array in arrays:
            digest.update(repr((array.shape, array.dtype.str)).encode())
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()

    def alpha_mle(self, counts, design_matrix, mu, alpha_hat, min_disp, max_disp, prior_disp_var=None, cr_reg=True, prior_reg=False, optimizer="L-BFGS-B"):  # noqa: D102
        kwargs = dict(prior_disp_var=prior_disp_var, cr_reg=cr_reg, prior_reg=prior_reg, optimizer=optimizer)
        if prior_reg:
            return super().alpha_mle(counts, design_matrix, mu, alpha_hat, min_disp, max_disp, **kwargs)
        key = self._key(counts, design_matrix, mu, alpha_hat, min_disp=min_disp, max_disp=max_disp, **kwargs)
        if key in self._fits:
            return self._fits.pop(key)  # a first-pass fit is asked for once more, then forgotten
        self._fits[key] = fit = super().alpha_mle(counts, design_matrix, mu, alpha_hat, min_disp, max_disp, **kwargs)
        return fit


def _chunks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def size_factors(counts: np.ndarray, genes: np.ndarray, chunk: int) -> np.ndarray:
    """Median-of-ratios size factors (pydeseq2's ``deseq2_norm``) over rows ``genes`` of genes x samples counts.

    The log geometric means are built chunk by chunk and the median one sample column at a time, so no
    log-count matrix is ever held.
    """
    logmeans = np.empty(len(genes))
    with np.errstate(divide="ignore"):
        for part in _chunks(len(genes), chunk):
            logmeans[part] = np.log(_integers(counts, genes[part])).mean(axis=1)
        usable = np.isfinite(logmeans)
        if not usable.any():
            raise ValueError("every gene has a zero count in some sample: median-of-ratios size factors are undefined")
        rows = genes[usable]
        return np.array([np.exp(np.median(np.log(np.rint(counts[rows, j])) - logmeans[usable])) for j in range(counts.shape[1])])


def _integers(counts: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Counts of some genes as integers; rounded per chunk so a float table is never duplicated whole."""
    return np.rint(counts[rows]).astype(np.int64)


def _chunk_dataset(counts: pd.DataFrame, meta: pd.DataFrame, design: str, factors: np.ndarray, inference: DefaultInference) -> DeseqDataSet:
    dds = DeseqDataSet(counts=counts.T, metadata=meta, design=design, refit_cooks=True, inference=inference, quiet=True, low_memory=True)
    dds.obs["size_factors"] = factors
    dds.layers["normed_counts"] = dds.X / factors[:, None]
    dds.var["_normed_means"] = dds.layers["normed_counts"].mean(axis=0)
    return dds


def fit_trend(normed_means: np.ndarray, genewise: np.ndarray, inference: DefaultInference, dof: int, min_disp: float) -> Trend:
    """pydeseq2's parametric trend (gamma GLM, dropping genes far off the curve) and its prior variance.

    Written out here because pydeseq2 fits it only as a method of a data set holding every gene's counts;
    the loop, thresholds and fallback to a mean trend are the same as ``_fit_parametric_dispersion_trend``
    and ``fit_dispersion_prior``.
    """
    non_zero = np.isfinite(genewise) & (normed_means > 0)
    targets = pd.Series(genewise[non_zero])
    covariates = pd.Series(1 / normed_means[non_zero])
    kind, coeffs, mean_disp = "parametric", None, None
    old, new = pd.Series([0.1, 0.1]), pd.Series([1.0, 1.0])
    while (new > 1e-10).all() and (np.log(np.abs(new / old)) ** 2).sum() >= 1e-6:
        old = new
        new, predictions, converged = inference.dispersion_trend_gamma_glm(covariates, targets)
        if not converged or (new <= 1e-10).any():
            kind = "mean"
            break
        ratios = targets.to_numpy() / predictions
        keep = ~((ratios < 1e-4) | (ratios >= 15))
        targets, covariates = targets[keep], covariates[keep]
    if kind == "parametric":
        coeffs = pd.Series(new, index=["a0", "a1"])
    else:
        valid = genewise[np.isfinite(genewise)]
        mean_disp = float(trim_mean(valid[valid > 10 * min_disp], proportiontocut=0.001))
    trend = Trend(kind, coeffs, mean_disp, squared_logres=0.0, prior_disp_var=0.0)
    residuals = np.log(genewise[non_zero]) - np.log(trend(normed_means[non_zero]))
    squared = float(mean_absolute_deviation(residuals[genewise[non_zero] >= 100 * min_disp]) ** 2)
    return replace(trend, squared_logres=squared, prior_disp_var=float(max(squared - polygamma(1, dof / 2), 0.25)))


def independent_filter(base_mean: np.ndarray, pvalues: np.ndarray, alpha: float) -> np.ndarray:
    """DESeq2's independent filtering on mean counts (pydeseq2's ``DeseqStats._independent_filtering``).

    pydeseq2 stores BH-adjusted p-values for all 50 candidate cut-offs (5 matrix copies at 10 samples);
    this counts rejections per cut-off and adjusts again only at the chosen one.
    """
    lower = float(np.mean(base_mean == 0))
    theta = np.linspace(lower, 0.95 if lower < 0.95 else 1.0, 50)
    cutoffs = np.quantile(base_mean, theta)
    tested = ~np.isnan(pvalues)

    def adjusted(cutoff: float) -> np.ndarray:
        out = np.full(len(pvalues), np.nan)
        use = (base_mean >= cutoff) & tested
        if use.any():
            out[use] = false_discovery_control(pvalues[use], method="bh")
        return out

    rejections = np.array([int(np.sum(adjusted(c) < alpha)) for c in cutoffs])
    smooth = lowess(theta, rejections, frac=1 / 5)
    j = 0
    if rejections.max() > 10:
        residual = rejections[rejections > 0] - smooth[rejections > 0]
        above = np.flatnonzero(rejections > smooth.max() - np.sqrt(np.mean(residual**2)))
        j = int(above[0]) if above.size else 0
    return adjusted(cutoffs[j])


COLUMNS = ["baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue"]


def chunked_deseq2(
    counts: pd.DataFrame,
    meta: pd.DataFrame,
    design: str,
    contrast: list[str],
    alpha: float,
    min_total_count: int = 10,
    n_cpus: int = 1,
    chunk_genes: int = 1000,
) -> pd.DataFrame:
    """Wald test of ``contrast`` on genes x samples ``counts`` (rounded to integers); pydeseq2's ``results_df``.

    Genes with fewer than ``min_total_count`` reads in all are left out, as with a pre-filtered table.
    """
    inference = GenewiseMemo(n_cpus=n_cpus)
    values = counts.to_numpy()
    genes = np.flatnonzero(values.sum(axis=1) >= max(min_total_count, 1))
    if len(genes) == 0:
        raise ValueError(f"no gene has {max(min_total_count, 1)} or more reads over all samples: nothing to test (rnaseq.differentiation.min_count)")
    factors = size_factors(values, genes, chunk_genes)

    def dataset(part: slice) -> DeseqDataSet:
        rows = genes[part]
        frame = pd.DataFrame(_integers(values, rows), index=counts.index[rows], columns=counts.columns)
        return _chunk_dataset(frame, meta, design, factors, inference)

    normed_means, genewise = np.empty(len(genes)), np.empty(len(genes))
    for part in _chunks(len(genes), chunk_genes):
        dds = dataset(part)
        dds.fit_genewise_dispersions()
        normed_means[part] = dds.var["_normed_means"].to_numpy()
        genewise[part] = dds.var["genewise_dispersions"].to_numpy()
        dof, min_disp = dds.n_obs - dds.obsm["design_matrix"].shape[1], dds.min_disp  # the same in every chunk
        del dds
    trend = fit_trend(normed_means, genewise, inference, dof, min_disp)
    out = np.empty((len(genes), len(COLUMNS)))
    for part in _chunks(len(genes), chunk_genes):
        dds = dataset(part)
        # Rebuilt rather than kept from the first pass (keeping each chunk's fitted means would hold a
        # full matrix); the costly dispersion fits come back from ``GenewiseMemo``.
        dds.fit_genewise_dispersions()
        trend.apply_to(dds)
        dds.fit_MAP_dispersions()
        dds.fit_LFC()
        dds.calculate_cooks()
        dds.refit()
        dds.cooks_outlier()
        stats = DeseqStats(dds, contrast=contrast, alpha=alpha, independent_filter=False, inference=inference, quiet=True)
        stats.summary()
        out[part] = stats.results_df[COLUMNS].to_numpy()
        del dds, stats
    table = pd.DataFrame(out, index=counts.index[genes], columns=COLUMNS)
    table["padj"] = independent_filter(out[:, 0], out[:, 4], alpha)
    return table
