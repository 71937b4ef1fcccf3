# morphopotency: donor stem-cell multipotency from single-cell shape, checked against the transcriptome.
# Entry point only: configuration is loaded and validated in workflow/rules/common.smk, stages live in
# workflow/rules/*.smk, and all logic in the morphopotency library (src/morphopotency).

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/rnaseq.smk"
include: "workflow/rules/imaging.smk"
include: "workflow/rules/cnn.smk"
include: "workflow/rules/provenance.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        all_targets(),
    default_target: True
