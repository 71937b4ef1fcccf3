"""VAMPIRE-style shape modes fitted on all donors' cells pooled (rule imaging_shape_modes, Fig. 2B)."""

import anndata as ad
import numpy as np
import pandas as pd

from morphopotency.imaging.shapes import fit_shape_modes
from morphopotency.io.tables import write_tsv
from morphopotency.plots import save_figure
from morphopotency.plots.imaging import mode_dendrogram, mode_distribution, stability
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "imaging_shape_modes")
p = snakemake.params
parts = [ad.read_h5ad(path) for path in snakemake.input.cells]
obs = pd.concat([a.obs for a in parts], ignore_index=True)
outlines = np.concatenate([a.obsm["contour"] for a in parts])
model = fit_shape_modes(
    outlines,
    k=p.k,
    n_pcs=p.n_pcs,
    seed=p.seed,
    stability_subsamples=p.stability_subsamples,
    stability_fraction=p.stability_fraction,
    max_fit_cells=p.max_fit_cells,
)
model.save(snakemake.output.model, snakemake.output.model_json)
obs["shape_mode"] = model.assign(outlines)
write_tsv(
    obs[["donor", "image", "cell_id", "shape_mode", "circularity", "aspect_ratio"]],
    snakemake.output.assignments,
)
distribution = pd.crosstab(obs["donor"], obs["shape_mode"], normalize="index").reindex(
    columns=range(1, len(model.centroids) + 1), fill_value=0.0
)
write_tsv(distribution.rename_axis("donor").reset_index(), snakemake.output.distribution)
summary = obs.groupby("shape_mode").agg(
    cells=("cell_id", "size"), circularity=("circularity", "mean"), aspect_ratio=("aspect_ratio", "mean")
)
summary = summary.reindex(range(1, len(model.centroids) + 1)).rename_axis("mode").reset_index()
write_tsv(summary, snakemake.output.summary)
write_tsv(pd.DataFrame({"ari": model.stability_ari}), snakemake.output.stability)
save_figure(mode_distribution(distribution), snakemake.output.figure)
save_figure(mode_dendrogram(model.mode_outlines, summary.fillna(0)), snakemake.output.dendrogram)
save_figure(stability(model.stability_ari), snakemake.output.stability_figure)
log.info(
    "%d cells, %d modes, median ARI %.3f",
    len(obs),
    len(model.centroids),
    float(np.median(model.stability_ari)),
)
