# Demo cohort: simulated images (one job per donor) and RNA-seq table, in the formats a user brings.
# Active when config demo.enabled is true; outputs under demo.outdir (default results/demo).

from pathlib import Path

from morphopotency.simulate.images import PIXEL_SIZE_UM

if PLAN.demo is not None:
    DEMO = Path(PLAN.demo)
    DEMO_FIELD_IDS = [f"{i + 1:02d}" for i in range(C["demo"]["fields_per_donor"])]

    rule demo_images:
        output:
            images=expand(str(DEMO / "images/{{donor}}/{{donor}}_field{n}.ome.tif"), n=DEMO_FIELD_IDS),
            masks=expand(str(DEMO / "truth/masks/{{donor}}/{{donor}}_field{n}.ome.tif"), n=DEMO_FIELD_IDS),
            truth=str(DEMO / "truth/cells_{donor}.tsv"),
        log:
            "results/logs/demo/images_{donor}.log",
        conda:
            "../../envs/demo.yaml"
        resources:
            mem_mb=by_attempt(2000),
            runtime=by_attempt(30),
        params:
            seed=C["demo"]["seed"],
            fields=C["demo"]["fields_per_donor"],
            size=lambda w: C["demo"]["image_size"] * C["demo"]["field_scale"].get(w.donor, 1),
            cells=lambda w: C["demo"]["cells_per_field"] * C["demo"]["field_scale"].get(w.donor, 1) ** 2,
            fraction=lambda w: C["demo"]["multipotent_fraction"][w.donor],
            # A donor to score is imaged as a lab would: without SSEA3.
            channels=lambda w: [
                c for c in ("CD105", "SSEA3", "DAPI") if c != "SSEA3" or w.donor not in PLAN.score_donors
            ],
            blur=lambda w: C["demo"]["blur"].get(w.donor, 1.0),
            pixel_size_um=lambda w: C["demo"]["pixel_size_um"].get(w.donor, PIXEL_SIZE_UM),
        script:
            "../scripts/demo_images.py"

    if "rnaseq" in PLAN.flags:

        rule demo_rnaseq:
            input:
                gene_sets=C["rnaseq"]["gene_sets"]["bp"],
                markers=C["rnaseq"]["markers"],
            output:
                table=str(DEMO / "rnaseq/demo_counts.tsv.gz"),
                lengths=str(DEMO / "rnaseq/gene_lengths.tsv"),
                genes=str(DEMO / "truth/planted_genes.tsv"),
                terms=str(DEMO / "truth/planted_terms.json"),
            log:
                "results/logs/demo/rnaseq.log",
            conda:
                "../../envs/demo.yaml"
            resources:
                mem_mb=by_attempt(2000),
                runtime=by_attempt(30),
            params:
                seed=C["demo"]["seed"],
                n_genes=C["demo"]["n_genes"],
                fractions=C["demo"].get("multipotent_fraction", {}),
                samples=PLAN.samples[["sample", "donor", "condition", "rnaseq_column"]].to_dict("records"),
            script:
                "../scripts/demo_rnaseq.py"

    rule demo_truth:
        input:
            cells=expand(str(DEMO / "truth/cells_{donor}.tsv"), donor=list(PLAN.image_donors)),
        output:
            donors=str(DEMO / "truth/donors.tsv"),
        log:
            "results/logs/demo/truth.log",
        conda:
            "../../envs/demo.yaml"
        resources:
            mem_mb=by_attempt(1000),
            runtime=by_attempt(30),
        params:
            donors=list(PLAN.image_donors),
            fractions=C["demo"].get("multipotent_fraction", {}),
        script:
            "../scripts/demo_truth.py"
