# RNA-seq branch (paper Fig. 2A, 3B-G, 5B-D): GEO table -> RPKM -> correlation -> PCAtools PCA ->
# GO enrichment of PC1 genes -> stem vs differentiated (pydeseq2) and the function heat map.

RNA = config["rnaseq"]


if RNA.get("geo"):

    rule rnaseq_fetch_geo:
        output:
            table=RNASEQ_TABLE,
            checksum=f"{RNASEQ_TABLE}.sha256",
        params:
            accession=RNA["geo"]["accession"],
            file=RNA["geo"]["file"],
            base_url=RNA["geo"]["base_url"],
            sha256=RNA["geo"]["sha256"],
        log:
            "results/logs/rnaseq/fetch_geo.log",
        conda:
            "../../envs/rnaseq.yaml"
        resources:
            mem_mb=by_attempt(500),
        script:
            "../scripts/rnaseq_fetch.py"


if ENRICHR:

    rule rnaseq_fetch_enrichr:
        output:
            gmt=GENE_SET_FILES["enrichr"],
            checksum=f"{GENE_SET_FILES['enrichr']}.sha256",
        params:
            url=f"{RNA['enrichment']['enrichr_url']}{ENRICHR}",
        log:
            "results/logs/rnaseq/fetch_enrichr.log",
        conda:
            "../../envs/rnaseq.yaml"
        resources:
            mem_mb=by_attempt(500),
        script:
            "../scripts/rnaseq_fetch.py"


rule rnaseq_expression:
    input:
        table=RNASEQ_TABLE,
        **({"gene_lengths": RNA["gene_lengths"]} if RNA.get("gene_lengths") and not RNA.get("gtf") else {}),
        **({"gtf": RNA["gtf"]} if RNA.get("gtf") else {}),
    output:
        rpkm=report("results/rnaseq/expression/rpkm.tsv", caption="../report/rpkm.rst", category="RNA-seq", subcategory="expression"),
        counts="results/rnaseq/expression/counts.tsv",
        dropped="results/rnaseq/expression/genes_without_length.tsv",
    params:
        values=RNA["values"],
        id_column=RNA["id_column"],
        symbol_column=RNA["symbol_column"],
        sample_columns=dict(zip(RNASEQ_SAMPLES["sample"], RNASEQ_SAMPLES["rnaseq_column"])),
    log:
        "results/logs/rnaseq/expression.log",
    conda:
        "../../envs/rnaseq.yaml"
    resources:
        mem_mb=by_attempt(4000),
    script:
        "../scripts/rnaseq_expression.py"


rule rnaseq_correlation:
    input:
        rpkm="results/rnaseq/expression/rpkm.tsv",
    output:
        table=report("results/rnaseq/correlation/pearson_{scale}.tsv", caption="../report/correlation.rst", category="RNA-seq", subcategory="donor correlation"),
        figure=report("results/rnaseq/correlation/pearson_{scale}.png", caption="../report/correlation.rst", category="RNA-seq", subcategory="donor correlation"),
    params:
        samples=STEM_SAMPLES,
    wildcard_constraints:
        scale="rpkm|log2",
    log:
        "results/logs/rnaseq/correlation_{scale}.log",
    conda:
        "../../envs/rnaseq.yaml"
    resources:
        mem_mb=by_attempt(2000),
    script:
        "../scripts/rnaseq_correlation.py"


rule rnaseq_stemness_dotplot:
    input:
        rpkm="results/rnaseq/expression/rpkm.tsv",
        markers=RNA["markers"],
    output:
        table=report("results/rnaseq/stemness/dotplot.tsv", caption="../report/dotplot.rst", category="RNA-seq", subcategory="stemness"),
        figure=report("results/rnaseq/stemness/dotplot.png", caption="../report/dotplot.rst", category="RNA-seq", subcategory="stemness"),
    params:
        samples=STEM_SAMPLES,
    log:
        "results/logs/rnaseq/stemness_dotplot.log",
    conda:
        "../../envs/rnaseq.yaml"
    resources:
        mem_mb=by_attempt(2000),
    script:
        "../scripts/rnaseq_dotplot.py"


rule rnaseq_pca:
    input:
        rpkm="results/rnaseq/expression/rpkm.tsv",
    output:
        variance=report("results/rnaseq/pca/variance.tsv", caption="../report/pca.rst", category="RNA-seq", subcategory="PCA"),
        scores=report("results/rnaseq/pca/scores.tsv", caption="../report/pca.rst", category="RNA-seq", subcategory="PCA"),
        loadings="results/rnaseq/pca/loadings.tsv",
        pc1_genes=report("results/rnaseq/pca/pc1_genes.tsv", caption="../report/pca.rst", category="RNA-seq", subcategory="PCA"),
        parallel="results/rnaseq/pca/parallel_analysis.tsv",
        scree=report("results/rnaseq/pca/scree.png", caption="../report/scree.rst", category="RNA-seq", subcategory="PCA"),
        biplot=report("results/rnaseq/pca/biplot.png", caption="../report/pca.rst", category="RNA-seq", subcategory="PCA"),
    params:
        samples=STEM_SAMPLES,
        **RNA["pca"],
    log:
        "results/logs/rnaseq/pca.log",
    conda:
        "../../envs/rnaseq.yaml"
    resources:
        mem_mb=by_attempt(4000),
    script:
        "../scripts/rnaseq_pca.py"


rule plotloadings:
    input:
        loadings="results/rnaseq/pca/loadings.tsv",
        rpkm="results/rnaseq/expression/rpkm.tsv",
    output:
        table=report("results/rnaseq/pca/loadings_plot.tsv", caption="../report/loadings.rst", category="RNA-seq", subcategory="PCA"),
        figure=report("results/rnaseq/pca/loadings_plot.png", caption="../report/loadings.rst", category="RNA-seq", subcategory="PCA"),
    params:
        range_retain=RNA["pca"]["range_retain"],
    log:
        "results/logs/rnaseq/plotloadings.log",
    conda:
        "../../envs/rnaseq.yaml"
    resources:
        mem_mb=by_attempt(2000),
    script:
        "../scripts/rnaseq_loadings.py"


rule rnaseq_enrichment:
    input:
        pc1_genes="results/rnaseq/pca/pc1_genes.tsv",
        rpkm="results/rnaseq/expression/rpkm.tsv",
        gene_sets=lambda w: GENE_SET_FILES[w.collection],
    output:
        table=report("results/rnaseq/enrichment/go_{collection}.tsv", caption="../report/enrichment.rst", category="RNA-seq", subcategory="GO enrichment"),
        figure=report("results/rnaseq/enrichment/go_{collection}.png", caption="../report/enrichment.rst", category="RNA-seq", subcategory="GO enrichment"),
        network=report("results/rnaseq/enrichment/go_{collection}_network.tsv", caption="../report/network.rst", category="RNA-seq", subcategory="GO enrichment"),
        network_figure=report("results/rnaseq/enrichment/go_{collection}_network.png", caption="../report/network.rst", category="RNA-seq", subcategory="GO enrichment"),
    params:
        **RNA["enrichment"],
        expressed_rpkm=RNA["expressed_rpkm"],
    wildcard_constraints:
        collection="bp|cc|enrichr",
    log:
        "results/logs/rnaseq/enrichment_{collection}.log",
    conda:
        "../../envs/rnaseq.yaml"
    resources:
        mem_mb=by_attempt(3000),
    script:
        "../scripts/rnaseq_enrichment.py"


rule rnaseq_differentiation_overview:
    input:
        rpkm="results/rnaseq/expression/rpkm.tsv",
    output:
        scores=report("results/rnaseq/differentiation/pca_scores.tsv", caption="../report/differentiation_pca.rst", category="RNA-seq", subcategory="differentiation"),
        variance="results/rnaseq/differentiation/pca_variance.tsv",
        figure=report("results/rnaseq/differentiation/pca.png", caption="../report/differentiation_pca.rst", category="RNA-seq", subcategory="differentiation"),
        corr=report("results/rnaseq/differentiation/pearson.tsv", caption="../report/correlation.rst", category="RNA-seq", subcategory="differentiation"),
        corr_figure=report("results/rnaseq/differentiation/pearson.png", caption="../report/correlation.rst", category="RNA-seq", subcategory="differentiation"),
    params:
        samples=RNASEQ_SAMPLES[["sample", "donor", "condition"]].to_dict("records"),
        **RNA["pca"],
    log:
        "results/logs/rnaseq/differentiation_overview.log",
    conda:
        "../../envs/rnaseq.yaml"
    resources:
        mem_mb=by_attempt(3000),
    script:
        "../scripts/rnaseq_differentiation_overview.py"


rule rnaseq_deseq2:
    input:
        counts="results/rnaseq/expression/counts.tsv",
    output:
        table=report("results/rnaseq/differentiation/deseq2.tsv", caption="../report/deseq2.rst", category="RNA-seq", subcategory="differentiation"),
    params:
        samples=RNASEQ_SAMPLES.loc[RNASEQ_SAMPLES["donor"].isin(PAIRED_DONORS), ["sample", "donor", "condition"]].to_dict("records"),
        alpha=RNA["differentiation"]["alpha"],
        min_count=RNA["differentiation"]["min_count"],
        chunk_genes=RNA["differentiation"]["chunk_genes"],
    log:
        "results/logs/rnaseq/deseq2.log",
    conda:
        "../../envs/rnaseq.yaml"
    threads: 2
    resources:
        mem_mb=by_attempt(6000),
    script:
        "../scripts/rnaseq_deseq2.py"


rule rnaseq_function_heatmap:
    input:
        rpkm="results/rnaseq/expression/rpkm.tsv",
        gene_sets=GENE_SET_FILES["bp"],
    output:
        lfc="results/rnaseq/differentiation/donor_log2fc.tsv",
        enrichment=report("results/rnaseq/differentiation/donor_enrichment.tsv", caption="../report/function_heatmap.rst", category="RNA-seq", subcategory="differentiation"),
        matrix="results/rnaseq/differentiation/function_heatmap.tsv",
        figure=report("results/rnaseq/differentiation/function_heatmap.png", caption="../report/function_heatmap.rst", category="RNA-seq", subcategory="differentiation"),
    params:
        samples=RNASEQ_SAMPLES[["sample", "donor", "condition"]].to_dict("records"),
        lfc_threshold=RNA["differentiation"]["lfc_threshold"],
        n_terms=RNA["differentiation"]["heatmap_terms"],
        expressed_rpkm=RNA["expressed_rpkm"],
        fdr=RNA["enrichment"]["fdr"],
        min_size=RNA["enrichment"]["min_size"],
        max_size=RNA["enrichment"]["max_size"],
    log:
        "results/logs/rnaseq/function_heatmap.log",
    conda:
        "../../envs/rnaseq.yaml"
    resources:
        mem_mb=by_attempt(3000),
    script:
        "../scripts/rnaseq_function_heatmap.py"
