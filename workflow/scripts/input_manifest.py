"""Checksums of every input file (rule input_manifest)."""

from morphopotency.io.atomic import atomic_path
from morphopotency.provenance import file_manifest
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "input_manifest")
paths, roles = [], []
for role in snakemake.input.keys():
    for path in snakemake.input[role]:
        paths.append(path)
        roles.append(role)
manifest = file_manifest(paths, roles)
with atomic_path(snakemake.output[0]) as tmp:
    manifest.to_csv(tmp, sep="\t", index=False)
log.info("%d input files, %d bytes", len(manifest), int(manifest["bytes"].sum()))
