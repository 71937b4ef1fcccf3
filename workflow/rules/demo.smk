# Demo cohort: simulated images (one job per donor) and RNA-seq table, in the formats a user brings.
# Active when config demo.enabled is true; outputs under demo.outdir (default results/demo).

if DEMO is not None:
    DEMO_FIELD_IDS = [f"{i + 1:02d}" for i in range(config["demo"]["fields_per_donor"])]

    rule demo_images:
        output:
            images=expand(str(DEMO / "images/{{donor}}/{{donor}}_field{n}.ome.tif"), n=DEMO_FIELD_IDS),
            masks=expand(str(DEMO / "truth/masks/{{donor}}/{{donor}}_field{n}.ome.tif"), n=DEMO_FIELD_IDS),
            truth=str(DEMO / "truth/cells_{donor}.tsv"),
        params:
            seed=config["demo"]["seed"],
            fields=config["demo"]["fields_per_donor"],
            size=config["demo"]["image_size"],
            cells=config["demo"]["cells_per_field"],
            fraction=lambda w: config["demo"]["multipotent_fraction"][w.donor],
        log:
            "results/logs/demo/images_{donor}.log",
        conda:
            "../../envs/demo.yaml"
        resources:
            mem_mb=by_attempt(2000),
        script:
            "../scripts/demo_images.py"

    rule demo_rnaseq:
        input:
            gene_sets=config["rnaseq"]["gene_sets"]["bp"],
            markers=config["rnaseq"]["markers"],
        output:
            table=str(DEMO / "rnaseq/demo_counts.tsv.gz"),
            lengths=str(DEMO / "rnaseq/gene_lengths.tsv"),
            genes=str(DEMO / "truth/planted_genes.tsv"),
            terms=str(DEMO / "truth/planted_terms.json"),
        params:
            seed=config["demo"]["seed"],
            n_genes=config["demo"]["n_genes"],
            fractions=config["demo"].get("multipotent_fraction", {}),
            samples=SAMPLES[["sample", "donor", "condition", "rnaseq_column"]].to_dict("records"),
        log:
            "results/logs/demo/rnaseq.log",
        conda:
            "../../envs/demo.yaml"
        resources:
            mem_mb=by_attempt(2000),
        script:
            "../scripts/demo_rnaseq.py"

    rule demo_truth:
        input:
            cells=expand(str(DEMO / "truth/cells_{donor}.tsv"), donor=IMAGE_DONORS),
        output:
            donors=str(DEMO / "truth/donors.tsv"),
        params:
            donors=IMAGE_DONORS,
            fractions=config["demo"].get("multipotent_fraction", {}),
        log:
            "results/logs/demo/truth.log",
        conda:
            "../../envs/demo.yaml"
        resources:
            mem_mb=by_attempt(1000),
        script:
            "../scripts/demo_truth.py"

