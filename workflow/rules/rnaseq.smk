# RNA-seq branch (paper Fig. 2A, 3B-G, 5B-D): GEO table -> RPKM -> correlation -> PCAtools PCA ->
# GO enrichment of PC1 genes -> stem vs differentiated (pydeseq2) and the function heat map.

# The branch runs when the config has an rnaseq section and the sheet names RNA-seq columns.
if "rnaseq" in PLAN.flags:
    RNA = C["rnaseq"]

    # Downloads run on the head node: compute nodes often have no network.
    if RNA.get("geo"):

        localrules:
            rnaseq_fetch_geo,

        rule rnaseq_fetch_geo:
            output:
                table=PLAN.rnaseq_table,
                checksum=f"{PLAN.rnaseq_table}.sha256",
            log:
                "results/logs/rnaseq/fetch_geo.log",
            conda:
                "../../envs/rnaseq.yaml"
            resources:
                mem_mb=by_attempt(500),
                runtime=by_attempt(30),
            params:
                accession=RNA["geo"]["accession"],
                file=RNA["geo"]["file"],
                base_url=RNA["geo"]["base_url"],
                sha256=RNA["geo"]["sha256"],
            script:
                "../scripts/rnaseq_fetch.py"

    if PLAN.enrichr:

        localrules:
            rnaseq_fetch_enrichr,

        rule rnaseq_fetch_enrichr:
            output:
                gmt=PLAN.gene_set_files["enrichr"],
                checksum=f"{PLAN.gene_set_files['enrichr']}.sha256",
            log:
                "results/logs/rnaseq/fetch_enrichr.log",
            conda:
                "../../envs/rnaseq.yaml"
            resources:
                mem_mb=by_attempt(500),
                runtime=by_attempt(30),
            params:
                url=f"{RNA['enrichment']['enrichr_url']}{PLAN.enrichr}",
            script:
                "../scripts/rnaseq_fetch.py"

    rule rnaseq_expression:
        input:
            **(
                {"gene_lengths": RNA["gene_lengths"]}
                if RNA.get("gene_lengths") and not RNA.get("gtf")
                else {}
            ),
            **({"gtf": RNA["gtf"]} if RNA.get("gtf") else {}),
            table=PLAN.rnaseq_table,
        output:
            rpkm=reported("results/rnaseq/expression/rpkm.tsv"),
            counts="results/rnaseq/expression/counts.tsv",
            dropped="results/rnaseq/expression/genes_without_length.tsv",
        log:
            "results/logs/rnaseq/expression.log",
        conda:
            "../../envs/rnaseq.yaml"
        resources:
            mem_mb=by_attempt(4000),
            runtime=by_attempt(30),
        params:
            values=RNA["values"],
            id_column=RNA["id_column"],
            symbol_column=RNA["symbol_column"],
            sample_columns={r["sample"]: r["rnaseq_column"] for r in PLAN.rnaseq_samples},
        script:
            "../scripts/rnaseq_expression.py"

    rule rnaseq_correlation:
        input:
            rpkm="results/rnaseq/expression/rpkm.tsv",
        output:
            table=reported("results/rnaseq/correlation/pearson_{scale}.tsv"),
            figure=reported("results/rnaseq/correlation/pearson_{scale}.png"),
        log:
            "results/logs/rnaseq/correlation_{scale}.log",
        wildcard_constraints:
            scale="rpkm|log2",
        conda:
            "../../envs/rnaseq.yaml"
        resources:
            mem_mb=by_attempt(2000),
            runtime=by_attempt(30),
        params:
            samples=list(PLAN.stem_samples),
        script:
            "../scripts/rnaseq_correlation.py"

    rule rnaseq_stemness_dotplot:
        input:
            rpkm="results/rnaseq/expression/rpkm.tsv",
            markers=RNA["markers"],
        output:
            table=reported("results/rnaseq/stemness/dotplot.tsv"),
            figure=reported("results/rnaseq/stemness/dotplot.png"),
        log:
            "results/logs/rnaseq/stemness_dotplot.log",
        conda:
            "../../envs/rnaseq.yaml"
        resources:
            mem_mb=by_attempt(2000),
            runtime=by_attempt(30),
        params:
            samples=list(PLAN.stem_samples),
        script:
            "../scripts/rnaseq_dotplot.py"

    rule rnaseq_pca:
        input:
            rpkm="results/rnaseq/expression/rpkm.tsv",
        output:
            variance=reported("results/rnaseq/pca/variance.tsv"),
            scores=reported("results/rnaseq/pca/scores.tsv"),
            loadings="results/rnaseq/pca/loadings.tsv",
            pc1_genes=reported("results/rnaseq/pca/pc1_genes.tsv"),
            parallel="results/rnaseq/pca/parallel_analysis.tsv",
            scree=reported("results/rnaseq/pca/scree.png"),
            biplot=reported("results/rnaseq/pca/biplot.png"),
        log:
            "results/logs/rnaseq/pca.log",
        conda:
            "../../envs/rnaseq.yaml"
        resources:
            mem_mb=by_attempt(4000),
            runtime=by_attempt(30),
        params:
            **RNA["pca"],
            samples=list(PLAN.stem_samples),
        script:
            "../scripts/rnaseq_pca.py"

    rule plotloadings:
        input:
            loadings="results/rnaseq/pca/loadings.tsv",
            rpkm="results/rnaseq/expression/rpkm.tsv",
        output:
            table=reported("results/rnaseq/pca/loadings_plot.tsv"),
            figure=reported("results/rnaseq/pca/loadings_plot.png"),
        log:
            "results/logs/rnaseq/plotloadings.log",
        conda:
            "../../envs/rnaseq.yaml"
        resources:
            mem_mb=by_attempt(2000),
            runtime=by_attempt(30),
        params:
            range_retain=RNA["pca"]["range_retain"],
        script:
            "../scripts/rnaseq_loadings.py"

    rule rnaseq_enrichment:
        input:
            pc1_genes="results/rnaseq/pca/pc1_genes.tsv",
            rpkm="results/rnaseq/expression/rpkm.tsv",
            gene_sets=lambda w: PLAN.gene_set_files[w.collection],
        output:
            table=reported("results/rnaseq/enrichment/go_{collection}.tsv"),
            figure=reported("results/rnaseq/enrichment/go_{collection}.png"),
            network=reported("results/rnaseq/enrichment/go_{collection}_network.tsv"),
            network_figure=reported("results/rnaseq/enrichment/go_{collection}_network.png"),
        log:
            "results/logs/rnaseq/enrichment_{collection}.log",
        wildcard_constraints:
            collection="bp|cc|enrichr",
        conda:
            "../../envs/rnaseq.yaml"
        resources:
            mem_mb=by_attempt(3000),
            runtime=by_attempt(30),
        params:
            **RNA["enrichment"],
            expressed_rpkm=RNA["expressed_rpkm"],
        script:
            "../scripts/rnaseq_enrichment.py"

    rule rnaseq_differentiation_overview:
        input:
            rpkm="results/rnaseq/expression/rpkm.tsv",
        output:
            scores=reported("results/rnaseq/differentiation/pca_scores.tsv"),
            variance="results/rnaseq/differentiation/pca_variance.tsv",
            figure=reported("results/rnaseq/differentiation/pca.png"),
            corr=reported("results/rnaseq/differentiation/pearson.tsv"),
            corr_figure=reported("results/rnaseq/differentiation/pearson.png"),
        log:
            "results/logs/rnaseq/differentiation_overview.log",
        conda:
            "../../envs/rnaseq.yaml"
        resources:
            mem_mb=by_attempt(3000),
            runtime=by_attempt(30),
        params:
            **RNA["pca"],
            samples=PLAN.sample_records(),
        script:
            "../scripts/rnaseq_differentiation_overview.py"

    rule rnaseq_deseq2:
        input:
            counts="results/rnaseq/expression/counts.tsv",
        output:
            table=reported("results/rnaseq/differentiation/deseq2.tsv"),
        log:
            "results/logs/rnaseq/deseq2.log",
        conda:
            "../../envs/rnaseq.yaml"
        threads: C["threads"]["deseq2"]
        resources:
            mem_mb=by_attempt(6000),
            runtime=by_attempt(60),
        params:
            samples=PLAN.sample_records(paired_only=True),
            alpha=RNA["differentiation"]["alpha"],
            min_count=RNA["differentiation"]["min_count"],
        script:
            "../scripts/rnaseq_deseq2.py"

    rule rnaseq_function_heatmap:
        input:
            rpkm="results/rnaseq/expression/rpkm.tsv",
            gene_sets=PLAN.gene_set_files["bp"],
        output:
            lfc="results/rnaseq/differentiation/donor_log2fc.tsv",
            enrichment=reported("results/rnaseq/differentiation/donor_enrichment.tsv"),
            matrix="results/rnaseq/differentiation/function_heatmap.tsv",
            figure=reported("results/rnaseq/differentiation/function_heatmap.png"),
        log:
            "results/logs/rnaseq/function_heatmap.log",
        conda:
            "../../envs/rnaseq.yaml"
        resources:
            mem_mb=by_attempt(3000),
            runtime=by_attempt(30),
        params:
            samples=PLAN.sample_records(),
            lfc_threshold=RNA["differentiation"]["lfc_threshold"],
            n_terms=RNA["differentiation"]["heatmap_terms"],
            expressed_rpkm=RNA["expressed_rpkm"],
            fdr=RNA["enrichment"]["fdr"],
            min_size=RNA["enrichment"]["min_size"],
            max_size=RNA["enrichment"]["max_size"],
        script:
            "../scripts/rnaseq_function_heatmap.py"
