"""The run's Cellpose model, fetched or copied once and checked (rule imaging_cellpose_model)."""

from morphopotency.imaging.learned import check_model, fetch_model
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "imaging_cellpose_model")
p = snakemake.params
path = fetch_model(p.model, snakemake.output[0])
try:
    digest = check_model(path, p.expected_sha256)
except Exception:
    path.unlink()  # no model that fails its check is left for the segmentation jobs
    raise
log.info("Cellpose model %s -> %s (SHA-256 %s)", p.model, path, digest)
