"""Download a GEO supplementary table or an Enrichr library once, with its checksum (rules rnaseq_fetch_*)."""

from morphopotency.rnaseq.geo import download, supplementary_url
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], snakemake.rule)
params = snakemake.params
if "accession" in params.keys():
    url = supplementary_url(params.accession, params.file, params.base_url)
    expected = params.sha256
else:
    url, expected = params.url, None
target = snakemake.output[0]
digest = download(url, target, expected_sha256=expected)
log.info("downloaded %s -> %s (sha256 %s)", url, target, digest)
