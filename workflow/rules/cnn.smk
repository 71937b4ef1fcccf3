# CNN stage (paper Table 1, Fig. 4B-F): data set + grouped splits → per-backbone, per-fold cross-validation
# (one job each, so a cluster trains them side by side) → comparison and backbone choice → learning-rate
# search (one job per repeat, each an Optuna study in SQLite) → final model → per-donor multipotent fraction.

localrules:
    cnn_fetch_weights,


rule cnn_fetch_weights:
    output:
        f"{CNN['weights_dir']}/{{backbone}}.safetensors",
    params:
        url=lambda w: CNN["weights_url"].get(w.backbone),
    log:
        "results/logs/cnn/fetch_weights_{backbone}.log",
    conda:
        "../../envs/cnn.yaml"
    resources:
        mem_mb=by_attempt(2000),
    script:
        "../scripts/cnn_fetch_weights.py"


rule cnn_dataset:
    input:
        unpack(cnn_dataset_inputs),
    output:
        **CNN_DATA,
    params:
        data=CNN["data"],
        folds=CNN["folds"],
        val_fraction=CNN["val_fraction"],
        group_by=CNN["group_by"],
        seed=CNN["seed"],
    log:
        "results/logs/cnn/dataset.log",
    conda:
        "../../envs/cnn.yaml"
    resources:
        mem_mb=by_attempt(4000),
    script:
        "../scripts/cnn_dataset.py"


rule cnn_fold:
    input:
        **CNN_DATA,
        weights=cnn_fold_weights,
    output:
        predictions=f"{CNN_DIR}/cv/{{backbone}}/fold{{fold}}/predictions.tsv",
        history=f"{CNN_DIR}/cv/{{backbone}}/fold{{fold}}/history.tsv",
    params:
        cnn=CNN,
        checkpoint=lambda w: f"{CNN_DIR}/checkpoints/cv_{w.backbone}_fold{w.fold}.pt",
    wildcard_constraints:
        fold=r"\d+",
    threads: CNN["threads"]
    log:
        "results/logs/cnn/cv_{backbone}_fold{fold}.log",
    conda:
        "../../envs/cnn.yaml"
    resources:
        mem_mb=by_attempt(8000),
    script:
        "../scripts/cnn_fold.py"


rule cnn_comparison:
    input:
        **CNN_DATA,
        predictions=expand(f"{CNN_DIR}/cv/{{backbone}}/fold{{fold}}/predictions.tsv", backbone=CNN["backbones"], fold=range(CNN["folds"])),
    output:
        comparison=report(f"{CNN_DIR}/comparison.tsv", caption="../report/cnn_comparison.rst", category="CNN", subcategory="backbone comparison"),
        per_fold=f"{CNN_DIR}/metrics_per_fold.tsv",
        predictions=f"{CNN_DIR}/cv_predictions.tsv",
        baselines=report(f"{CNN_DIR}/baselines.tsv", caption="../report/cnn_baselines.rst", category="CNN", subcategory="backbone comparison"),
        versus=report(f"{CNN_DIR}/cnn_vs_baselines.tsv", caption="../report/cnn_baselines.rst", category="CNN", subcategory="backbone comparison"),
        roc=report(f"{CNN_DIR}/roc.png", caption="../report/cnn_comparison.rst", category="CNN", subcategory="backbone comparison"),
        selected=f"{CNN_DIR}/selected_backbone.json",
    params:
        select_by=CNN["select_by"],
        final_backbone=CNN["final_backbone"],
        bootstrap=CNN["bootstrap"],
        seed=CNN["seed"],
    log:
        "results/logs/cnn/comparison.log",
    conda:
        "../../envs/cnn.yaml"
    resources:
        mem_mb=by_attempt(2000),
    script:
        "../scripts/cnn_comparison.py"


rule cnn_lr_search:
    input:
        **CNN_DATA,
        selected=f"{CNN_DIR}/selected_backbone.json",
        weights=cnn_weight_inputs,
    output:
        trials=f"{CNN_DIR}/lr_search/repeat{{repeat}}.tsv",
    params:
        cnn=CNN,
        study=lambda w: f"{CNN_DIR}/lr_search/studies/repeat{w.repeat}.sqlite",
    wildcard_constraints:
        repeat=r"\d+",
    threads: CNN["threads"]
    log:
        "results/logs/cnn/lr_search_repeat{repeat}.log",
    conda:
        "../../envs/cnn.yaml"
    resources:
        mem_mb=by_attempt(8000),
    script:
        "../scripts/cnn_lr_search.py"


rule cnn_lr_summary:
    input:
        trials=expand(f"{CNN_DIR}/lr_search/repeat{{repeat}}.tsv", repeat=range(CNN["lr_search"]["repeats"])),
    output:
        trials=report(f"{CNN_DIR}/lr_search/trials.tsv", caption="../report/cnn_lr_search.rst", category="CNN", subcategory="learning-rate search"),
        surrogate=f"{CNN_DIR}/lr_search/surrogate.tsv",
        best=f"{CNN_DIR}/lr_search/best.json",
        surrogate_figure=report(f"{CNN_DIR}/lr_search/surrogate.png", caption="../report/cnn_lr_search.rst", category="CNN", subcategory="learning-rate search"),
        roc_auc_figure=report(f"{CNN_DIR}/lr_search/roc_auc.png", caption="../report/cnn_lr_search.rst", category="CNN", subcategory="learning-rate search"),
    params:
        low=CNN["lr_search"]["low"],
        high=CNN["lr_search"]["high"],
        seed=CNN["seed"],
    log:
        "results/logs/cnn/lr_summary.log",
    conda:
        "../../envs/cnn.yaml"
    resources:
        mem_mb=by_attempt(1000),
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
        metrics=report(f"{CNN_DIR}/final/test_metrics.tsv", caption="../report/cnn_final.rst", category="CNN", subcategory="final model"),
        confusion=f"{CNN_DIR}/final/confusion.tsv",
        confusion_figure=report(f"{CNN_DIR}/final/confusion.png", caption="../report/cnn_final.rst", category="CNN", subcategory="final model"),
        examples=f"{CNN_DIR}/final/examples.tsv",
        examples_figure=report(f"{CNN_DIR}/final/examples.png", caption="../report/cnn_final.rst", category="CNN", subcategory="final model"),
    params:
        cnn=CNN,
        checkpoint=f"{CNN_DIR}/checkpoints/final.pt",
    threads: CNN["threads"]
    log:
        "results/logs/cnn/final.log",
    conda:
        "../../envs/cnn.yaml"
    resources:
        mem_mb=by_attempt(8000),
    script:
        "../scripts/cnn_final.py"


rule cnn_donors:
    input:
        cells=CNN_DATA["cells"],
        predictions=f"{CNN_DIR}/final/cell_predictions.tsv",
        cv_predictions=f"{CNN_DIR}/cv_predictions.tsv",
        selected=f"{CNN_DIR}/selected_backbone.json",
    output:
        table=report(f"{CNN_DIR}/donor_multipotency.tsv", caption="../report/cnn_donors.rst", category="CNN", subcategory="donors"),
        figure=report(f"{CNN_DIR}/donor_multipotency.png", caption="../report/cnn_donors.rst", category="CNN", subcategory="donors"),
    params:
        bootstrap=CNN["bootstrap"],
        seed=CNN["seed"],
    log:
        "results/logs/cnn/donors.log",
    conda:
        "../../envs/cnn.yaml"
    resources:
        mem_mb=by_attempt(2000),
    script:
        "../scripts/cnn_donors.py"
