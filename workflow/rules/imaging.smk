# Imaging branch (paper Fig. 2B, labels of Fig. 3A, crops of Fig. 4A): one segmentation job per image
# (grouped for clusters), one cell-table job per donor, then SSEA3 labels and shape modes over all donors.

IMG = C["imaging"]


if IMG["segmenter"] == "cellpose":

    # The model file is fetched (a built-in) or copied once, on the head node, and checked against the
    # bundle's when scoring; the per-image jobs read that copy.
    localrules:
        imaging_cellpose_model,

    rule imaging_cellpose_model:
        input:
            cellpose_model_file,
        output:
            "results/imaging/cellpose/model.pth",
        log:
            "results/logs/imaging/cellpose_model.log",
        conda:
            "../../envs/cellpose.yaml"
        resources:
            mem_mb=by_attempt(1000),
            runtime=by_attempt(30),
        params:
            model=IMG["cellpose"]["model"],
            expected_sha256=IMG["cellpose"].get("model_sha256"),
        script:
            "../scripts/imaging_cellpose_model.py"

    rule imaging_segment_cellpose:
        input:
            image=image_path,
            model="results/imaging/cellpose/model.pth",
        output:
            labels="results/imaging/segmentation/{donor}/{image}.tif",
            overlay=reported("results/imaging/segmentation/{donor}/{image}.png"),
        log:
            "results/logs/imaging/segment_{donor}_{image}.log",
        group:
            "segmentation"
        conda:
            "../../envs/cellpose.yaml"
        resources:
            mem_mb=segmentation_mem_mb,
            runtime=by_attempt(30),
        params:
            image=lambda w: image_spec(w.donor, w.image),
            channels=lambda w: PLAN.channels(w.donor),
            cellpose={
                k: IMG["cellpose"][k] for k in ("diameter", "flow_threshold", "cellprob_threshold", "gpu")
            },
            segmentation=IMG["segmentation"],
            bit_depth=IMG["bit_depth"],
            z_projection=IMG["z_projection"],
            resample_um=IMG["resample_um"],
            pixel_size_um=IMG["pixel_size_um"],
        script:
            "../scripts/imaging_segment_cellpose.py"

else:

    rule imaging_segment:
        input:
            image=image_path,
        output:
            labels="results/imaging/segmentation/{donor}/{image}.tif",
            overlay=reported("results/imaging/segmentation/{donor}/{image}.png"),
        log:
            "results/logs/imaging/segment_{donor}_{image}.log",
        group:
            "segmentation"
        conda:
            "../../envs/imaging.yaml"
        resources:
            mem_mb=segmentation_mem_mb,
            runtime=by_attempt(30),
        params:
            image=lambda w: image_spec(w.donor, w.image),
            channels=lambda w: PLAN.channels(w.donor),
            segmentation=IMG["segmentation"],
            bit_depth=IMG["bit_depth"],
            z_projection=IMG["z_projection"],
            resample_um=IMG["resample_um"],
            pixel_size_um=IMG["pixel_size_um"],
        script:
            "../scripts/imaging_segment.py"


rule imaging_cells:
    input:
        unpack(donor_images),
    output:
        cells="results/imaging/cells/{donor}.h5ad",
        crops="results/imaging/crops/{donor}.npy",
    log:
        "results/logs/imaging/cells_{donor}.log",
    conda:
        "../../envs/imaging.yaml"
    resources:
        mem_mb=by_attempt(4000),
        runtime=by_attempt(60),
    params:
        channels=lambda w: PLAN.channels(w.donor),
        crop_size=IMG["crop_size"],
        n_points=IMG["shape_modes"]["n_points"],
        bit_depth=IMG["bit_depth"],
        z_projection=IMG["z_projection"],
        image_specs=lambda w: {i: image_spec(w.donor, i) for i in sorted(PLAN.images[w.donor])},
        pixel_size_um=IMG["pixel_size_um"],
        crop_window=IMG["crop_window"],
        resample_um=IMG["resample_um"],
        ssea3_region=IMG["ssea3_region"],
        # Recorded with the cells: a bundle keeps its reference's, and a lot cut otherwise is held.
        segmentation=lambda w: PLAN.segmentation(w.donor),
    script:
        "../scripts/imaging_cells.py"


rule imaging_ssea3:
    input:
        cells=expand("results/imaging/cells/{donor}.h5ad", donor=PLAN.reference_donors),
    output:
        labels="results/imaging/ssea3_labels.tsv",
        fraction=reported("results/imaging/ssea3_fraction.tsv"),
        figure=reported("results/imaging/ssea3_histograms.png"),
    log:
        "results/logs/imaging/ssea3.log",
    conda:
        "../../envs/imaging.yaml"
    resources:
        mem_mb=by_attempt(2000),
        runtime=by_attempt(30),
    params:
        threshold=IMG["ssea3_threshold"],
        donors=list(PLAN.reference_donors),
    script:
        "../scripts/imaging_ssea3.py"


rule imaging_shape_modes:
    input:
        cells=expand("results/imaging/cells/{donor}.h5ad", donor=PLAN.reference_donors),
    output:
        model="results/imaging/shape_modes/model.npz",
        model_json="results/imaging/shape_modes/model.json",
        assignments="results/imaging/shape_modes/assignments.tsv",
        distribution=reported("results/imaging/shape_modes/distribution.tsv"),
        summary=reported("results/imaging/shape_modes/modes.tsv"),
        stability="results/imaging/shape_modes/stability.tsv",
        figure=reported("results/imaging/shape_modes/distribution.png"),
        dendrogram=reported("results/imaging/shape_modes/dendrogram.png"),
        stability_figure=reported("results/imaging/shape_modes/stability.png"),
    log:
        "results/logs/imaging/shape_modes.log",
    conda:
        "../../envs/imaging.yaml"
    threads: C["threads"]["shape_modes"]
    resources:
        mem_mb=by_attempt(4000),
        runtime=by_attempt(60),
    params:
        **IMG["shape_modes"],
    script:
        "../scripts/imaging_shape_modes.py"


rule imaging_selective_search_crops:
    input:
        unpack(donor_images),
    output:
        crops="results/imaging/crops_selective_search/{donor}.npy",
        boxes="results/imaging/crops_selective_search/{donor}.tsv",
    log:
        "results/logs/imaging/selective_search_{donor}.log",
    conda:
        "../../envs/imaging.yaml"
    resources:
        mem_mb=by_attempt(4000),
        runtime=by_attempt(60),
    params:
        channels=lambda w: PLAN.channels(w.donor),
        crop_size=IMG["crop_size"],
        image_specs=lambda w: {i: image_spec(w.donor, i) for i in sorted(PLAN.images[w.donor])},
        min_area=IMG["segmentation"]["min_area"],
        max_area=IMG["segmentation"]["max_area"],
        bit_depth=IMG["bit_depth"],
        z_projection=IMG["z_projection"],
        resample_um=IMG["resample_um"],
        pixel_size_um=IMG["pixel_size_um"],
    script:
        "../scripts/imaging_selective_search.py"


rule imaging_qc:
    input:
        cells=expand("results/imaging/cells/{donor}.h5ad", donor=sorted(PLAN.images)),
    output:
        table=reported("results/imaging/image_qc.tsv"),
    log:
        "results/logs/imaging/qc.log",
    conda:
        "../../envs/imaging.yaml"
    resources:
        mem_mb=by_attempt(1000),
        runtime=by_attempt(10),
    params:
        qc=IMG["qc"],
    script:
        "../scripts/imaging_qc.py"
