# Imaging branch (paper Fig. 2B, labels of Fig. 3A, crops of Fig. 4A): one segmentation job per image
# (grouped for clusters), one cell-table job per donor, then SSEA3 labels and shape modes over all donors.

IMG = config["imaging"]
CHANNELS = IMG["channels"]


rule imaging_segment:
    input:
        image=image_path,
    output:
        labels="results/imaging/segmentation/{donor}/{image}.tif",
        overlay=report("results/imaging/segmentation/{donor}/{image}.png", caption="../report/segmentation.rst", category="Imaging", subcategory="segmentation"),
    params:
        image=lambda w: image_spec(w.donor, w.image),
        channels=CHANNELS,
        segmentation=IMG["segmentation"],
        bit_depth=IMG["bit_depth"],
        z_projection=IMG["z_projection"],
    group:
        "segmentation"
    log:
        "results/logs/imaging/segment_{donor}_{image}.log",
    conda:
        "../../envs/imaging.yaml"
    resources:
        mem_mb=segmentation_mem_mb,
    script:
        "../scripts/imaging_segment.py"


rule imaging_cells:
    input:
        unpack(donor_images),
    output:
        cells="results/imaging/cells/{donor}.h5ad",
        crops="results/imaging/crops/{donor}.npy",
    params:
        channels=CHANNELS,
        crop_size=IMG["crop_size"],
        n_points=IMG["shape_modes"]["n_points"],
        bit_depth=IMG["bit_depth"],
        z_projection=IMG["z_projection"],
        image_specs=lambda w: {i: image_spec(w.donor, i) for i in sorted(IMAGES[w.donor])},
        pixel_size_um=IMG["pixel_size_um"],
        crop_window=IMG["crop_window"],
    log:
        "results/logs/imaging/cells_{donor}.log",
    conda:
        "../../envs/imaging.yaml"
    resources:
        mem_mb=by_attempt(4000),
    script:
        "../scripts/imaging_cells.py"


rule imaging_ssea3:
    input:
        cells=expand("results/imaging/cells/{donor}.h5ad", donor=sorted(IMAGES)),
    output:
        labels="results/imaging/ssea3_labels.tsv",
        fraction=report("results/imaging/ssea3_fraction.tsv", caption="../report/ssea3.rst", category="Imaging", subcategory="SSEA3 labels"),
        figure=report("results/imaging/ssea3_histograms.png", caption="../report/ssea3.rst", category="Imaging", subcategory="SSEA3 labels"),
    params:
        threshold=IMG["ssea3_threshold"],
        donors=sorted(IMAGES),
    log:
        "results/logs/imaging/ssea3.log",
    conda:
        "../../envs/imaging.yaml"
    resources:
        mem_mb=by_attempt(2000),
    script:
        "../scripts/imaging_ssea3.py"


rule imaging_shape_modes:
    input:
        cells=expand("results/imaging/cells/{donor}.h5ad", donor=sorted(IMAGES)),
    output:
        model="results/imaging/shape_modes/model.npz",
        model_json="results/imaging/shape_modes/model.json",
        assignments="results/imaging/shape_modes/assignments.tsv",
        distribution=report("results/imaging/shape_modes/distribution.tsv", caption="../report/shape_modes.rst", category="Imaging", subcategory="shape modes"),
        summary=report("results/imaging/shape_modes/modes.tsv", caption="../report/shape_modes.rst", category="Imaging", subcategory="shape modes"),
        stability="results/imaging/shape_modes/stability.tsv",
        figure=report("results/imaging/shape_modes/distribution.png", caption="../report/shape_modes.rst", category="Imaging", subcategory="shape modes"),
        dendrogram=report("results/imaging/shape_modes/dendrogram.png", caption="../report/shape_modes.rst", category="Imaging", subcategory="shape modes"),
        stability_figure=report("results/imaging/shape_modes/stability.png", caption="../report/stability.rst", category="Imaging", subcategory="shape modes"),
    params:
        **IMG["shape_modes"],
    threads: 2
    log:
        "results/logs/imaging/shape_modes.log",
    conda:
        "../../envs/imaging.yaml"
    resources:
        mem_mb=by_attempt(4000),
    script:
        "../scripts/imaging_shape_modes.py"


rule imaging_selective_search_crops:
    input:
        unpack(donor_images),
    output:
        crops="results/imaging/crops_selective_search/{donor}.npy",
        boxes="results/imaging/crops_selective_search/{donor}.tsv",
    params:
        channels=CHANNELS,
        crop_size=IMG["crop_size"],
        image_specs=lambda w: {i: image_spec(w.donor, i) for i in sorted(IMAGES[w.donor])},
        min_area=IMG["segmentation"]["min_area"],
        max_area=IMG["segmentation"]["max_area"],
        bit_depth=IMG["bit_depth"],
        z_projection=IMG["z_projection"],
    log:
        "results/logs/imaging/selective_search_{donor}.log",
    conda:
        "../../envs/imaging.yaml"
    resources:
        mem_mb=by_attempt(4000),
    script:
        "../scripts/imaging_selective_search.py"
