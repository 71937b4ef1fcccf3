"""Fetch a backbone's ImageNet weights once into a local .safetensors (rule cnn_fetch_weights; a local rule,
so on a cluster it runs where the network is)."""

from morphopotency.cnn.model import fetch_imagenet_weights
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "cnn_fetch_weights")
path = fetch_imagenet_weights(snakemake.wildcards.backbone, snakemake.output[0], url=snakemake.params.url)
log.info("saved ImageNet weights of %s to %s", snakemake.wildcards.backbone, path)
