# morphopotency: donor stem-cell multipotency from single-cell shape, checked against the transcriptome.
# Entry point only: the run plan (config validation, samples, targets) is built by the morphopotency
# library in workflow/rules/common.smk; each stage family has its own file under workflow/rules/.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/rnaseq.smk"
include: "workflow/rules/imaging.smk"
include: "workflow/rules/cnn.smk"
include: "workflow/rules/bundle.smk"
include: "workflow/rules/score.smk"
include: "workflow/rules/provenance.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        PLAN.targets,
