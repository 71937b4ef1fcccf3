"""The donor report: per-donor table from both branches, imaging-transcriptome agreement, and the
self-contained HTML that puts every figure of the run in the paper's order."""
