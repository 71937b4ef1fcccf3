# CNN stage (paper Table 1, Fig. 4B-F): data set + grouped splits → per-backbone, per-fold cross-validation
# (one job each, so a cluster trains them side by side) → comparison and backbone choice → learning-rate
# search (one job per repeat, each an Optuna study in SQLite) → final model → per-donor multipotent fraction.


# The weights download runs on the head node: compute nodes often have no network.
localrules:
    cnn_fetch_weights,


CNN_FOLD_PREDICTIONS = expand(
    f"{CNN_DIR}/cv/{{backbone}}/fold{{fold}}/predictions.tsv",
    backbone=CNN["backbones"],
    fold=range(CNN["folds"]),
)


rule cnn_fetch_weights:
    output:
        f"{CNN['weights_dir']}/{{backbone}}.safetensors",
    log:
        "results/logs/cnn/fetch_weights_{backbone}.log",
    conda:
        "../../envs/cnn.yaml"
    resources:
        mem_mb=by_attempt(2000),
        runtime=by_attempt(30),
    params:
        url=lambda w: CNN["weights_url"].get(w.backbone),
    script:
        "../scripts/cnn_fetch_weights.py"


rule cnn_dataset:
    input:
        unpack(cnn_dataset_inputs),
    output:
        **CNN_DATA,
    log:
        "results/logs/cnn/dataset.log",
    conda:
        "../../envs/cnn.yaml"
    resources:
        mem_mb=by_attempt(4000),
        runtime=by_attempt(30),
    params:
        data=CNN["data"],
        folds=CNN["folds"],
        val_fraction=CNN["val_fraction"],
        group_by=CNN["group_by"],
        seed=CNN["seed"],
    script:
        "../scripts/cnn_dataset.py"


rule cnn_fold:
    input:
        **CNN_DATA,
        weights=cnn_fold_weights,
    output:
        predictions=f"{CNN_DIR}/cv/{{backbone}}/fold{{fold}}/predictions.tsv",
        history=f"{CNN_DIR}/cv/{{backbone}}/fold{{fold}}/history.tsv",
    log:
        "results/logs/cnn/cv_{backbone}_fold{fold}.log",
    wildcard_constraints:
        fold=r"\d+",
    conda:
        "../../envs/cnn.yaml"
    threads: CNN["threads"]
    resources:
        mem_mb=by_attempt(8000),
        runtime=by_attempt(240),
    params:
        cnn=PLAN.cnn_params("fold"),
        checkpoint=lambda w: f"{CNN_DIR}/checkpoints/cv_{w.backbone}_fold{w.fold}.pt",
    script:
        "../scripts/cnn_fold.py"


rule cnn_select_backbone:
    input:
        predictions=CNN_FOLD_PREDICTIONS,
    output:
        selected=f"{CNN_DIR}/selected_backbone.json",
    log:
        "results/logs/cnn/select_backbone.log",
    conda:
        "../../envs/cnn.yaml"
    resources:
        mem_mb=by_attempt(1000),
        runtime=by_attempt(10),
    params:
        select_by=CNN["select_by"],
        final_backbone=CNN["final_backbone"],
    script:
        "../scripts/cnn_select_backbone.py"


# Apart from the selection, so that a change of the bootstrap re-runs these summaries and no training job.
rule cnn_comparison:
    input:
        **CNN_DATA,
        predictions=CNN_FOLD_PREDICTIONS,
        selected=f"{CNN_DIR}/selected_backbone.json",
    output:
        comparison=reported(f"{CNN_DIR}/comparison.tsv"),
        per_fold=f"{CNN_DIR}/metrics_per_fold.tsv",
        predictions=f"{CNN_DIR}/cv_predictions.tsv",
        baselines=reported(f"{CNN_DIR}/baselines.tsv"),
        versus=reported(f"{CNN_DIR}/cnn_vs_baselines.tsv"),
        roc=reported(f"{CNN_DIR}/roc.png"),
    log:
        "results/logs/cnn/comparison.log",
    conda:
        "../../envs/cnn.yaml"
    resources:
        mem_mb=by_attempt(2000),
        runtime=by_attempt(30),
    params:
        bootstrap=CNN["bootstrap"],
        seed=CNN["seed"],
    script:
        "../scripts/cnn_comparison.py"


rule cnn_lr_search:
    input:
        **CNN_DATA,
        selected=f"{CNN_DIR}/selected_backbone.json",
        weights=cnn_weight_inputs,
    output:
        trials=f"{CNN_DIR}/lr_search/repeat{{repeat}}.tsv",
    log:
        "results/logs/cnn/lr_search_repeat{repeat}.log",
    wildcard_constraints:
        repeat=r"\d+",
    conda:
        "../../envs/cnn.yaml"
    threads: CNN["threads"]
    resources:
        mem_mb=by_attempt(8000),
        runtime=by_attempt(480),
    params:
        cnn=PLAN.cnn_params("lr_search"),
        study=lambda w: f"{CNN_DIR}/lr_search/studies/repeat{w.repeat}.sqlite",
    script:
        "../scripts/cnn_lr_search.py"


rule cnn_lr_summary:
    input:
        trials=expand(f"{CNN_DIR}/lr_search/repeat{{repeat}}.tsv", repeat=range(CNN["lr_search"]["repeats"])),
    output:
        trials=reported(f"{CNN_DIR}/lr_search/trials.tsv"),
        surrogate=f"{CNN_DIR}/lr_search/surrogate.tsv",
        best=f"{CNN_DIR}/lr_search/best.json",
        surrogate_figure=reported(f"{CNN_DIR}/lr_search/surrogate.png"),
        roc_auc_figure=reported(f"{CNN_DIR}/lr_search/roc_auc.png"),
    log:
        "results/logs/cnn/lr_summary.log",
    conda:
        "../../envs/cnn.yaml"
    resources:
        mem_mb=by_attempt(1000),
        runtime=by_attempt(30),
    params:
        low=CNN["lr_search"]["low"],
        high=CNN["lr_search"]["high"],
        seed=CNN["seed"],
    script:
        "../scripts/cnn_lr_summary.py"


rule cnn_final:
    input:
        **CNN_DATA,
        selected=f"{CNN_DIR}/selected_backbone.json",
        best=f"{CNN_DIR}/lr_search/best.json",
        weights=cnn_weight_inputs,
    output:
        model=f"{CNN_DIR}/final/model.safetensors",
        model_json=f"{CNN_DIR}/final/model.json",
        history=f"{CNN_DIR}/final/history.tsv",
        test_predictions=f"{CNN_DIR}/final/test_predictions.tsv",
        cell_predictions=f"{CNN_DIR}/final/cell_predictions.tsv",
        metrics=reported(f"{CNN_DIR}/final/test_metrics.tsv"),
        confusion=f"{CNN_DIR}/final/confusion.tsv",
        confusion_figure=reported(f"{CNN_DIR}/final/confusion.png"),
        examples=f"{CNN_DIR}/final/examples.tsv",
        examples_figure=reported(f"{CNN_DIR}/final/examples.png"),
    log:
        "results/logs/cnn/final.log",
    conda:
        "../../envs/cnn.yaml"
    threads: CNN["threads"]
    resources:
        mem_mb=by_attempt(8000),
        runtime=by_attempt(240),
    params:
        cnn=PLAN.cnn_params("final"),
        checkpoint=f"{CNN_DIR}/checkpoints/final.pt",
    script:
        "../scripts/cnn_final.py"


rule cnn_donors:
    input:
        cells=CNN_DATA["cells"],
        predictions=f"{CNN_DIR}/final/cell_predictions.tsv",
        cv_predictions=f"{CNN_DIR}/cv_predictions.tsv",
        selected=f"{CNN_DIR}/selected_backbone.json",
    output:
        table=reported(f"{CNN_DIR}/donor_multipotency.tsv"),
        validation=reported(f"{CNN_DIR}/donor_validation.tsv"),
        figure=reported(f"{CNN_DIR}/donor_multipotency.png"),
    log:
        "results/logs/cnn/donors.log",
    conda:
        "../../envs/cnn.yaml"
    resources:
        mem_mb=by_attempt(2000),
        runtime=by_attempt(30),
    params:
        bootstrap=CNN["bootstrap"],
        seed=CNN["seed"],
    script:
        "../scripts/cnn_donors.py"


# Leave-one-donor-out (config cnn.lodo): the final model's recipe trained once per reference donor
# without it, each scoring the left-out donor with its own error rates, as a new donor is scored.
rule cnn_lodo:
    input:
        **CNN_DATA,
        selected=f"{CNN_DIR}/selected_backbone.json",
        best=f"{CNN_DIR}/lr_search/best.json",
        weights=cnn_weight_inputs,
    output:
        predictions=f"{CNN_DIR}/lodo/{{donor}}/predictions.tsv",
        model=f"{CNN_DIR}/lodo/{{donor}}/model.safetensors",
        model_json=f"{CNN_DIR}/lodo/{{donor}}/model.json",
    log:
        "results/logs/cnn/lodo_{donor}.log",
    conda:
        "../../envs/cnn.yaml"
    threads: CNN["threads"]
    resources:
        mem_mb=by_attempt(8000),
        runtime=by_attempt(240),
    params:
        cnn=PLAN.cnn_params("lodo"),
        checkpoint=lambda w: f"{CNN_DIR}/checkpoints/lodo_{w.donor}.pt",
    script:
        "../scripts/cnn_lodo.py"


rule cnn_lodo_summary:
    input:
        expand(f"{CNN_DIR}/lodo/{{donor}}/predictions.tsv", donor=PLAN.reference_donors),
    output:
        fractions=reported(f"{CNN_DIR}/lodo/fractions.tsv"),
        validation=reported(f"{CNN_DIR}/lodo/validation.tsv"),
        sweep=reported(f"{CNN_DIR}/lodo/prevalence_sweep.tsv"),
        shift=reported(f"{CNN_DIR}/lodo/donor_shift.tsv"),
        figure=reported(f"{CNN_DIR}/lodo/validation.png"),
    log:
        "results/logs/cnn/lodo_summary.log",
    conda:
        "../../envs/cnn.yaml"
    resources:
        mem_mb=by_attempt(1000),
        runtime=by_attempt(10),
    params:
        bootstrap=CNN["bootstrap"],
        seed=CNN["seed"],
    script:
        "../scripts/cnn_lodo_summary.py"


# The shape and combined scorers beside the CNN, each one model per left-out donor as the CNN's LODO
# models are, and every scorer's separation of the donors it never saw: a scoring run deploys the one
# whose lot intervals would be narrowest (score.model auto), or the one a lab names.
rule cnn_scorers:
    input:
        cells=CNN_DATA["cells"],
        lodo=expand(f"{CNN_DIR}/lodo/{{donor}}/predictions.tsv", donor=PLAN.reference_donors),
    output:
        models=f"{CNN_DIR}/scorers/models.json",
        predictions=f"{CNN_DIR}/scorers/predictions.tsv",
        comparison=reported(f"{CNN_DIR}/scorers/comparison.tsv"),
    log:
        "results/logs/cnn/scorers.log",
    conda:
        "../../envs/cnn.yaml"
    resources:
        mem_mb=by_attempt(2000),
        runtime=by_attempt(10),
    script:
        "../scripts/cnn_scorers.py"
