# Donor report: the per-donor table from both branches and their agreement → (demo) simulation check →
# one self-contained HTML file with every figure of the run, in the paper's order, and its provenance.


rule report_donor_summary:
    input:
        unpack(report_summary_inputs),
    output:
        summary=reported(f"{REPORT_DIR}/donor_summary.tsv"),
        agreement=reported(f"{REPORT_DIR}/agreement.tsv"),
        sentences=f"{REPORT_DIR}/donor_sentences.tsv",
        unavailable=f"{REPORT_DIR}/unavailable.tsv",
        figure=reported(f"{REPORT_DIR}/agreement.png"),
    log:
        "results/logs/report/donor_summary.log",
    conda:
        "../../envs/report.yaml"
    resources:
        mem_mb=by_attempt(2000),
        runtime=by_attempt(30),
    params:
        report=C["report"],
    script:
        "../scripts/report_donor_summary.py"


rule report_simulation_check:
    input:
        truth=f"{PLAN.demo}/truth/donors.tsv" if PLAN.demo is not None else [],
        summary=f"{REPORT_DIR}/donor_summary.tsv",
    output:
        table=reported(f"{REPORT_DIR}/simulation_check.tsv"),
        figure=reported(f"{REPORT_DIR}/simulation_check.png"),
    log:
        "results/logs/report/simulation_check.log",
    conda:
        "../../envs/report.yaml"
    resources:
        mem_mb=by_attempt(1000),
        runtime=by_attempt(30),
    script:
        "../scripts/report_simulation_check.py"


rule report_html:
    input:
        files=report_section_files,
        sentences=f"{REPORT_DIR}/donor_sentences.tsv",
        unavailable=f"{REPORT_DIR}/unavailable.tsv",
        manifest=PROVENANCE_INPUTS,
        study=study_files(WORKFLOW_DIR),
    output:
        html=f"{REPORT_DIR}/donor_report.html",
    log:
        "results/logs/report/html.log",
    conda:
        "../../envs/report.yaml"
    resources:
        mem_mb=by_attempt(2000),
        runtime=by_attempt(30),
    params:
        sections=list(PLAN.sections),
        config=C,
        # The workflow's own folder (captions, git commit), not a data prefix: a function, since the
        # published study it also reads lies below it and a plain string would read as a hardcoded prefix.
        basedir=lambda w: WORKFLOW_DIR,
        log_dir="results/logs",
    script:
        "../scripts/report_html.py"
