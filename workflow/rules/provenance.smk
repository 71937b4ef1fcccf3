# Provenance: checksums of every input the run reads, for the report and for audits.


rule input_manifest:
    input:
        **PLAN.provenance_inputs(),
    output:
        PROVENANCE_INPUTS,
    log:
        "results/logs/provenance/input_manifest.log",
    conda:
        "../../envs/report.yaml"
    resources:
        mem_mb=by_attempt(1000),
        runtime=by_attempt(30),
    script:
        "../scripts/input_manifest.py"
