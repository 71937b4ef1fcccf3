"""Benchmark of the RNA-seq branch on a 60,000-gene table of 10 samples.

Prints, per stage: seconds, the ratio to a baseline measured in the same run (reading the table with
pandas), and peak memory in units of one matrix copy (genes x samples float64), measured with tracemalloc
as what the stage allocates beyond its inputs. Two peaks are printed:

- ``total``: everything, including per-gene vectors (variances, orderings) and the gene-id and symbol
  strings (Python objects of about 60 bytes each, which with 10 samples outweigh the matrix itself);
- ``matrix``: the part that grows with the matrix. Every stage is also run on a table with twice the
  samples (same genes); the growth of its peak divided by the growth of one matrix copy is the number of
  genes x samples matrices the stage holds at once. Per-gene and fixed costs cancel out. This is the
  figure the "at most two copies" target is read on.

pydeseq2 is timed with --deseq2 (several minutes: tracemalloc slows its per-gene Python fits).
Run: .venv/bin/python bench/rnaseq_branch.py [--genes 60000] [--deseq2] [--cpus 2]
"""

from __future__ import annotations

import argparse
import gzip
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
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


def sample_names(pairs: int) -> list[str]:
    """``pairs`` stem donors and their differentiated samples: S1..Sn, D1..Dn."""
    return [f"S{i}" for i in range(1, pairs + 1)] + [f"D{i}" for i in range(1, pairs + 1)]


def make_table(folder: Path, n_genes: int, symbols: list[str], samples: list[str]) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    names = (symbols + [f"NOVEL{i}" for i in range(n_genes)])[:n_genes]
    base = rng.normal(1.0, 2.5, n_genes)
    lengths = np.clip(rng.lognormal(np.log(2500), 0.7, n_genes), 200, 200_000).astype(int)
    counts = {}
    for j, sample in enumerate(samples):
        log_rpkm = (
            base
            + rng.normal(0, 0.3, n_genes)
            + (0.8 if sample.startswith("D") else 0) * (np.arange(n_genes) % 7 == j % 7)
        )
        mean = 30e6 * np.exp2(log_rpkm) * lengths / (np.exp2(log_rpkm) * lengths).sum()
        counts[sample] = rng.poisson(mean)
    ids = [f"ENSG{i:011d}" for i in range(n_genes)]
    table = pd.DataFrame({"gene_id": ids, "gene_symbol": names, **counts})
    table_path = folder / f"counts_{len(samples)}.tsv.gz"
    with gzip.open(table_path, "wt") as fh:
        table.to_csv(fh, sep="\t", index=False)
    lengths_path = folder / "lengths.tsv"
    pd.DataFrame({"gene_id": ids, "length": lengths}).to_csv(lengths_path, sep="\t", index=False)
    return table_path, lengths_path


@dataclass
class Stage:
    name: str
    samples: int  # columns of the matrix the stage works on
    seconds: float
    peak: int  # bytes beyond the stage's inputs


def measure(name: str, samples: int, func, stages: list[Stage]):
    tracemalloc.start()
    tracemalloc.reset_peak()
    start_mem = tracemalloc.get_traced_memory()[0]
    t0 = time.perf_counter()
    value = func()
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] - start_mem
    tracemalloc.stop()
    stages.append(Stage(name, samples, seconds, peak))
    return value


def run_branch(
    folder: Path, n_genes: int, pairs: int, gene_sets: dict, universe: list[str], deseq: bool, cpus: int
) -> list[Stage]:
    """Every stage once on a table of ``pairs`` stem and ``pairs`` differentiated samples."""
    samples = sample_names(pairs)
    table, lengths = make_table(folder, n_genes, universe, samples)
    stages: list[Stage] = []
    columns = {s: s for s in samples}
    expr = measure(
        "ingest + RPKM",
        len(samples),
        lambda: build_expression(table, columns, "counts", gene_lengths=lengths),
        stages,
    )
    measure("correlation (all samples)", len(samples), lambda: pearson(expr.rpkm), stages)
    log_stem = log2p1(expr.rpkm[samples[:pairs]])
    pca = measure("PCA (PCAtools, removeVar 0.1)", pairs, lambda: pcatools_pca(log_stem, 0.1), stages)
    measure("parallel analysis (50 permutations)", pairs, lambda: parallel_pca(log_stem, 50), stages)
    ranked = ranked_pc_genes(pca.loadings, expr.symbols)
    background = set(expr.symbols.loc[expressed(expr.rpkm, 1.0)])
    sets = filter_gene_sets(gene_sets, background, 2, 2000)
    measure(
        "GO BP enrichment (top 300 PC1)",
        len(samples),
        lambda: enrich(ranked.head(300)["symbol"], sets, background),
        stages,
    )
    if deseq:
        sheet = pd.DataFrame(
            {
                "sample": samples,
                "donor": [s[1:] for s in samples],
                "condition": ["stem"] * pairs + ["differentiated"] * pairs,
            }
        )
        measure(
            "pydeseq2 (~donor + condition)",
            len(samples),
            lambda: deseq2(expr.counts, sheet, n_cpus=cpus),
            stages,
        )
    return stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--genes", type=int, default=60_000)
    parser.add_argument("--deseq2", action="store_true", help="also time pydeseq2")
    parser.add_argument("--cpus", type=int, default=2, help="pydeseq2 worker processes")
    args = parser.parse_args()
    gene_sets = read_gmt(REPO / "resources/go/GO_BP_orgHs.eg.db_3.16.0.gmt.gz")
    universe = sorted({g for genes in gene_sets.values() for g in genes})
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paper = run_branch(folder, args.genes, 5, gene_sets, universe, args.deseq2, args.cpus)
        doubled = run_branch(folder, args.genes, 10, gene_sets, universe, args.deseq2, args.cpus)
        t0 = time.perf_counter()
        pd.read_csv(folder / "counts_10.tsv.gz", sep="\t")
        baseline = time.perf_counter() - t0
    copy = args.genes * 8  # bytes of one sample column; a matrix copy is this times the stage's samples
    print(
        f"{args.genes} genes x 10 samples; one matrix copy = {copy * 10 / 1e6:.1f} MB; matrix part from "
        "a 20-sample rerun"
    )
    print(f"{'baseline: pandas.read_csv of table':<36} {baseline:9.3f} s")
    print(
        f"{'stage':<36} {'seconds':>9}   {'x baseline':>10}   {'total peak':>10}   {'matrix peak':>11}  "
        "(matrix copies)"
    )
    worst = ("", 0.0)
    for small, large in zip(paper, doubled, strict=True):
        total = small.peak / (copy * small.samples)
        matrix = (large.peak - small.peak) / (copy * (large.samples - small.samples))
        print(
            f"{small.name:<36} {small.seconds:9.3f}   x{small.seconds / baseline:9.2f}   {total:10.2f}   "
            f"{matrix:11.2f}",
            flush=True,
        )
        worst = max(worst, (small.name, matrix), key=lambda w: w[1])
    print(f"largest matrix peak: {worst[0]} at {worst[1]:.2f} matrix copies")


if __name__ == "__main__":
    main()
