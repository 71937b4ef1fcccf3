"""The run's Cellpose model, fetched or copied once and checked (rule imaging_cellpose_model; a model that
fails its check fails the job, and Snakemake removes the job's output)."""

from morphopotency.imaging.learned import check_model, fetch_model
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "imaging_cellpose_model")
p = snakemake.params
path = fetch_model(p.model, snakemake.output[0])
log.info("Cellpose model %s -> %s (SHA-256 %s)", p.model, path, check_model(path, p.expected_sha256))
