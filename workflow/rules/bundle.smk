# The portable model bundle of a training run: the final CNN, the shape-mode model, every preprocessing
# setting, the reference cohort's results and cells, metrics and provenance, with a SHA-256 manifest.


rule model_bundle:
    input:
        cnn=f"{CNN_DIR}/final/model.safetensors",
        cnn_json=f"{CNN_DIR}/final/model.json",
        selected=f"{CNN_DIR}/selected_backbone.json",
        # A CNN trained on a folder of labelled cells has no shape modes and no SSEA3 labels.
        shape_model=[] if "folder" in PLAN.flags else "results/imaging/shape_modes/model.npz",
        shape_model_json=[] if "folder" in PLAN.flags else "results/imaging/shape_modes/model.json",
        # The reference donors' shares per shape mode: a QC report draws each lot against them.
        shape_distribution=([] if "folder" in PLAN.flags else "results/imaging/shape_modes/distribution.tsv"),
        cells=CNN_DATA["cells"],
        crops=CNN_DATA["crops"],
        labels=[] if "folder" in PLAN.flags else "results/imaging/ssea3_labels.tsv",
        cv_predictions=f"{CNN_DIR}/cv_predictions.tsv",
        final_predictions=f"{CNN_DIR}/final/cell_predictions.tsv",
        donors=f"{CNN_DIR}/donor_multipotency.tsv",
        test_metrics=f"{CNN_DIR}/final/test_metrics.tsv",
        comparison=f"{CNN_DIR}/comparison.tsv",
        lodo=[f"{CNN_DIR}/lodo/validation.tsv"] if "lodo" in PLAN.flags else [],
        shift=[f"{CNN_DIR}/lodo/donor_shift.tsv"] if "lodo" in PLAN.flags else [],
        # The LODO models and their predictions of the donor each left out: cross-fitted scoring.
        lodo_models=(
            expand(f"{CNN_DIR}/lodo/{{donor}}/model.safetensors", donor=PLAN.reference_donors)
            if "lodo" in PLAN.flags
            else []
        ),
        lodo_predictions=(
            expand(f"{CNN_DIR}/lodo/{{donor}}/predictions.tsv", donor=PLAN.reference_donors)
            if "lodo" in PLAN.flags
            else []
        ),
        # The shape and combined scorers beside the CNN, and every scorer's out-of-donor separation.
        scorers=(
            [f"{CNN_DIR}/scorers/{n}" for n in ("models.json", "predictions.tsv", "comparison.tsv")]
            if "lodo" in PLAN.flags
            else []
        ),
        manifest=PROVENANCE_INPUTS,
        # The Cellpose model that segmented the reference: a scoring run segments with this file.
        cellpose=["results/imaging/cellpose/model.pth"] if IMG["segmenter"] == "cellpose" else [],
    output:
        bundle=directory("results/model"),
    log:
        "results/logs/model/bundle.log",
    conda:
        "../../envs/cnn.yaml"
    threads: CNN["threads"]
    resources:
        mem_mb=by_attempt(4000),
        runtime=by_attempt(10),
    params:
        # The bundle records the whole training config (and its hash) as provenance.
        config=C,
        basedir=WORKFLOW_DIR,
    script:
        "../scripts/model_bundle.py"
