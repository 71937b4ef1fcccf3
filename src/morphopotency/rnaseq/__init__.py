"""The transcriptome branch: expression, correlation, PCA, enrichment, differentiation."""
