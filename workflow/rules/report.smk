# Donor report: the per-donor table from both branches and their agreement → (demo) simulation check →
# one self-contained HTML file with every figure of the run, in the paper's order, and its provenance.


rule report_donor_summary:
    input:
        unpack(report_summary_inputs),
    output:
        summary=report(f"{REPORT_DIR}/donor_summary.tsv", caption="../report/report_donor_summary.rst", category="Donor report"),
        agreement=report(f"{REPORT_DIR}/agreement.tsv", caption="../report/report_agreement.rst", category="Donor report"),
        sentences=f"{REPORT_DIR}/donor_sentences.tsv",
        figure=report(f"{REPORT_DIR}/agreement.png", caption="../report/report_agreement.rst", category="Donor report"),
    params:
        report=REPORT,
    log:
        "results/logs/report/donor_summary.log",
    conda:
        "../../envs/report.yaml"
    resources:
        mem_mb=by_attempt(2000),
    script:
        "../scripts/report_donor_summary.py"


rule report_simulation_check:
    input:
        truth=str(DEMO / "truth/donors.tsv") if DEMO is not None else [],
        summary=f"{REPORT_DIR}/donor_summary.tsv",
    output:
        table=report(f"{REPORT_DIR}/simulation_check.tsv", caption="../report/report_simulation_check.rst", category="Donor report"),
        figure=report(f"{REPORT_DIR}/simulation_check.png", caption="../report/report_simulation_check.rst", category="Donor report"),
    log:
        "results/logs/report/simulation_check.log",
    conda:
        "../../envs/report.yaml"
    resources:
        mem_mb=by_attempt(1000),
    script:
        "../scripts/report_simulation_check.py"


rule report_html:
    input:
        files=report_section_files,
        sentences=f"{REPORT_DIR}/donor_sentences.tsv",
        manifest=PROVENANCE_INPUTS,
    output:
        html=f"{REPORT_DIR}/donor_report.html",
    params:
        sections=report_sections(),
        config=config,
        basedir=workflow.basedir,
        log_dir="results/logs",
    log:
        "results/logs/report/html.log",
    conda:
        "../../envs/report.yaml"
    resources:
        mem_mb=by_attempt(2000),
    script:
        "../scripts/report_html.py"
