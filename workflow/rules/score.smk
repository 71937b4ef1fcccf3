# Scoring new donors with a model bundle (config score.bundle): the imaging branch's cells of each donor
# through the bundle's CNN and shape model, then per-donor prevalence estimates, flags and verdicts, and
# the QC report. Nothing is trained.

if "score" in PLAN.flags:
    BUNDLE = PLAN.bundle
    # A bundle of another run: its files (a changed model re-scores); this run's own: the folder rule
    # model_bundle writes.
    BUNDLE_FILES = (
        [
            f"{BUNDLE}/{name}"
            for name in (
                "MANIFEST.sha256",
                "cnn/model.safetensors",
                "cnn/model.json",
                "shape_modes/model.npz",
            )
        ]
        if C["score"]["bundle"]
        else [BUNDLE]
    )

    rule score_cells:
        input:
            cells="results/imaging/cells/{donor}.h5ad",
            crops="results/imaging/crops/{donor}.npy",
            bundle=BUNDLE_FILES,
        output:
            table="results/score/cells/{donor}.tsv",
        log:
            "results/logs/score/cells_{donor}.log",
        conda:
            "../../envs/cnn.yaml"
        threads: CNN["threads"]
        resources:
            mem_mb=by_attempt(4000),
            runtime=by_attempt(30),
        params:
            bundle=lambda w, input: str(bundle_folder(input.bundle)),
            device=C["score"]["device"],
        script:
            "../scripts/score_cells.py"

    rule score_donors:
        input:
            cells=expand("results/score/cells/{donor}.tsv", donor=PLAN.score_donors),
            bundle=BUNDLE_FILES,
            # The demo's true fractions, to check the scores against (a lab's run has none).
            truth=[f"{PLAN.demo}/truth/donors.tsv"] if PLAN.demo else [],
        output:
            scores="results/score/donor_scores.tsv",
            validation="results/score/validation.tsv",
            precision="results/score/precision.tsv",
            modes="results/score/shape_modes.tsv",
            figure="results/score/donor_scores.png",
            modes_figure="results/score/shape_modes.png",
        log:
            "results/logs/score/donors.log",
        conda:
            "../../envs/cnn.yaml"
        resources:
            mem_mb=by_attempt(2000),
            runtime=by_attempt(30),
        params:
            bundle=lambda w, input: str(bundle_folder(input.bundle)),
            score=C["score"],
        script:
            "../scripts/score_donors.py"

    rule score_report:
        input:
            scores="results/score/donor_scores.tsv",
            validation="results/score/validation.tsv",
            precision="results/score/precision.tsv",
            modes="results/score/shape_modes.tsv",
            figure="results/score/donor_scores.png",
            modes_figure="results/score/shape_modes.png",
            bundle=BUNDLE_FILES,
            # How accurate a score is: the replicated study published with the workflow, where it is.
            study=study_files(WORKFLOW_DIR),
        output:
            html="results/report/score_report.html",
        log:
            "results/logs/score/report.log",
        conda:
            "../../envs/report.yaml"
        resources:
            mem_mb=by_attempt(1000),
            runtime=by_attempt(10),
        params:
            bundle=lambda w, input: str(bundle_folder(input.bundle)),
            score=C["score"],
        script:
            "../scripts/score_report.py"

    # The record a lab files: the same page printed by headless Chromium (planned only where one is found,
    # or required by score.pdf: true).
    rule score_report_pdf:
        input:
            html="results/report/score_report.html",
        output:
            pdf="results/report/score_report.pdf",
        log:
            "results/logs/score/report_pdf.log",
        conda:
            "../../envs/report.yaml"
        resources:
            mem_mb=by_attempt(2000),
            runtime=by_attempt(10),
        script:
            "../scripts/score_report_pdf.py"
