"""Benchmark of the RNA-seq branch on a 60,000-gene x 10-sample table.

Prints, per stage: seconds, the ratio to a baseline measured in the same run (reading the table with
pandas), and the peak memory the stage allocates beyond its inputs (tracemalloc), in units of one
matrix copy (genes x samples float64). The peak includes per-gene vectors (variances, orderings, ids):
with 5 or 10 samples each is 1/5 or 1/10 of a matrix, and for ingest the gene-id and symbol strings
(Python objects, about 60 bytes each) dominate. pydeseq2 is timed with --deseq2 (about 3.5 minutes:
tracemalloc slows its per-gene Python fits).
Run: .venv/bin/python bench/rnaseq_branch.py [--genes 60000] [--deseq2] [--cpus 2]
"""

from __future__ import annotations

import argparse
import gzip
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

from morphopotency.io.gmt import read_gmt
from morphopotency.rnaseq.correlation import pearson
from morphopotency.rnaseq.differentiation import deseq2
from morphopotency.rnaseq.enrichment import enrich, filter_gene_sets
from morphopotency.rnaseq.expression import build_expression, expressed, log2p1
from morphopotency.rnaseq.pca import parallel_pca, pcatools_pca, ranked_pc_genes

REPO = Path(__file__).resolve().parents[1]
SAMPLES = ["S1", "S5", "S7", "S8", "S9", "D1", "D5", "D7", "D8", "D9"]


def make_table(folder: Path, n_genes: int, symbols: list[str]) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    names = (symbols + [f"NOVEL{i}" for i in range(n_genes)])[:n_genes]
    base = rng.normal(1.0, 2.5, n_genes)
    lengths = np.clip(rng.lognormal(np.log(2500), 0.7, n_genes), 200, 200_000).astype(int)
    counts = {}
    for j, sample in enumerate(SAMPLES):
        log_rpkm = base + rng.normal(0, 0.3, n_genes) + (0.8 if sample.startswith("D") else 0) * (np.arange(n_genes) % 7 == j % 7)
        mean = 30e6 * np.exp2(log_rpkm) * lengths / (np.exp2(log_rpkm) * lengths).sum()
        counts[sample] = rng.poisson(mean)
    ids = [f"ENSG{i:011d}" for i in range(n_genes)]
    table = pd.DataFrame({"gene_id": ids, "gene_symbol": names, **counts})
    table_path = folder / "counts.tsv.gz"
    with gzip.open(table_path, "wt") as fh:
        table.to_csv(fh, sep="\t", index=False)
    lengths_path = folder / "lengths.tsv"
    pd.DataFrame({"gene_id": ids, "length": lengths}).to_csv(lengths_path, sep="\t", index=False)
    return table_path, lengths_path


def measure(name: str, func, matrix_bytes: int, baseline: float | None, results: list):
    tracemalloc.start()
    tracemalloc.reset_peak()
    start_mem = tracemalloc.get_traced_memory()[0]
    t0 = time.perf_counter()
    value = func()
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] - start_mem
    tracemalloc.stop()
    ratio = seconds / baseline if baseline else 1.0
    results.append((name, seconds, ratio, peak / matrix_bytes))
    print(f"{name:<34} {seconds:9.3f} s   x{ratio:8.2f} of baseline   peak {peak / matrix_bytes:5.2f} matrix copies", flush=True)
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--genes", type=int, default=60_000)
    parser.add_argument("--deseq2", action="store_true", help="also time pydeseq2")
    parser.add_argument("--cpus", type=int, default=2, help="pydeseq2 worker processes")
    args = parser.parse_args()
    gene_sets = read_gmt(REPO / "resources/go/GO_BP_orgHs.eg.db_3.16.0.gmt.gz")
    universe = sorted({g for genes in gene_sets.values() for g in genes})
    with tempfile.TemporaryDirectory() as tmp:
        table, lengths = make_table(Path(tmp), args.genes, universe)
        matrix_bytes = args.genes * len(SAMPLES) * 8
        print(f"{args.genes} genes x {len(SAMPLES)} samples; one matrix copy = {matrix_bytes / 1e6:.1f} MB")
        results: list = []
        t0 = time.perf_counter()
        pd.read_csv(table, sep="\t")
        baseline = time.perf_counter() - t0
        print(f"{'baseline: pandas.read_csv of table':<34} {baseline:9.3f} s")
        columns = {s: s for s in SAMPLES}
        expr = measure("ingest + RPKM", lambda: build_expression(table, columns, "counts", gene_lengths=lengths), matrix_bytes, baseline, results)
        stem = expr.rpkm[SAMPLES[:5]]
        measure("correlation (10 samples)", lambda: pearson(expr.rpkm), matrix_bytes, baseline, results)
        log_stem = log2p1(stem)
        pca = measure("PCA (PCAtools, removeVar 0.1)", lambda: pcatools_pca(log_stem, 0.1), matrix_bytes // 2, baseline, results)
        measure("parallel analysis (50 permutations)", lambda: parallel_pca(log_stem, 50), matrix_bytes // 2, baseline, results)
        ranked = ranked_pc_genes(pca.loadings, expr.symbols)
        background = set(expr.symbols.loc[expressed(expr.rpkm, 1.0)])
        sets = filter_gene_sets(gene_sets, background, 2, 2000)
        measure("GO BP enrichment (top 300 PC1)", lambda: enrich(ranked.head(300)["symbol"], sets, background), matrix_bytes, baseline, results)
        if args.deseq2:
            samples = pd.DataFrame({"sample": SAMPLES, "donor": [s[1:] for s in SAMPLES], "condition": ["stem"] * 5 + ["differentiated"] * 5})
            measure("pydeseq2 (~donor + condition)", lambda: deseq2(expr.counts, samples, n_cpus=args.cpus), matrix_bytes, baseline, results)
        worst = max(results, key=lambda r: r[3])
        print(f"largest peak: {worst[0]} at {worst[3]:.2f} matrix copies")


if __name__ == "__main__":
    main()
