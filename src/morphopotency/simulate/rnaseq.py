"""A GEO-style RNA-seq count table for the demo cohort, with planted structure the branch must recover.

Planted, on real human gene symbols from the bundled GO gene sets:
- all stem donors share one baseline, so they correlate highly (> 0.96 on RPKM);
- a cell-migration / cell-substrate-adhesion program led by FN1 is up in the donors with the highest
  planted multipotency (S8, S9 in the default config), so they sit together on PC1;
- differentiated samples share a differentiation response, and those of the high-multipotency donors
  also up-regulate osteo-, adipo- and chondrogenic genes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from morphopotency.io.gmt import term_id

PROGRAM_TERM = "GO:0031589"  # cell-substrate adhesion
PROGRAM_LEADS = ("FN1", "STK4")  # the members of GO:1904237, the paper's PC1 term
DIFFERENTIATION_TERMS = ("GO:0001503", "GO:0045444", "GO:0002062")  # ossification, fat cell, chondrocyte


@dataclass(frozen=True)
class RnaseqDemo:
    counts: pd.DataFrame  # gene_id, gene_symbol, one integer column per sample
    lengths: pd.DataFrame  # gene_id, gene_symbol, length
    truth: pd.DataFrame  # gene_id, gene_symbol, program, planted_log2fc
    planted_terms: dict[str, object]


def _members(gene_sets: Mapping[str, Sequence[str]], go_id: str) -> list[str]:
    for name, genes in gene_sets.items():
        if term_id(name) == go_id:
            return sorted(set(genes))
    raise KeyError(f"gene set {go_id} not found in the gene-set file")


def high_multipotency_weight(fractions: Mapping[str, float]) -> dict[str, float]:
    """0..1 per donor: a steep logistic around the cohort mean, so high donors form one group."""
    values = np.array(list(fractions.values()), dtype=float)
    centre = values.mean()
    return {d: float(1 / (1 + np.exp(-(f - centre) / 0.04))) for d, f in fractions.items()}


def simulate_rnaseq(
    seed: int,
    samples: pd.DataFrame,
    fractions: Mapping[str, float],
    gene_sets: Mapping[str, Sequence[str]],
    n_genes: int = 4000,
    n_program: int = 60,
    n_per_differentiation_term: int = 25,
    extra_genes: Sequence[str] = (),
) -> RnaseqDemo:
    """Counts for every sample with an ``rnaseq_column``; ``samples`` is the validated sample sheet.

    ``extra_genes`` (e.g. the marker list) are always in the table, without planted effects.
    """
    rng = np.random.default_rng([seed, 7])
    samples = samples[samples["rnaseq_column"] != ""]
    universe = sorted({g for genes in gene_sets.values() for g in genes})
    program = list(PROGRAM_LEADS)
    pool = [g for g in _members(gene_sets, PROGRAM_TERM) if g not in program]
    program += list(rng.choice(pool, size=min(n_program, len(pool)), replace=False))
    taken = set(program)
    differentiation: dict[str, list[str]] = {}
    for go_id in DIFFERENTIATION_TERMS:
        pool = [g for g in _members(gene_sets, go_id) if g not in taken]
        chosen = list(rng.choice(pool, size=min(n_per_differentiation_term, len(pool)), replace=False))
        differentiation[go_id] = chosen
        taken |= set(chosen)
    extra = sorted(set(extra_genes) & set(universe) - taken)
    taken |= set(extra)
    rest = [g for g in universe if g not in taken]
    n_rest = max(0, n_genes - len(taken))
    symbols = sorted(taken | set(rng.choice(rest, size=min(n_rest, len(rest)), replace=False)))
    n = len(symbols)
    index = {s: i for i, s in enumerate(symbols)}
    gene_ids = [f"DEMOG{i + 1:06d}" for i in range(n)]

    base = rng.normal(1.5, 2.3, n)  # log2 RPKM
    # A few dozen housekeeping/matrix genes dominate any stromal-cell library (and raw-RPKM correlation).
    base[rng.choice(n, size=40, replace=False)] = rng.normal(10.5, 0.8, 40)
    lengths = np.clip(np.round(rng.lognormal(np.log(2500), 0.6, n)), 300, 100_000).astype(int)

    program_idx = np.array([index[g] for g in program])
    program_fc = rng.uniform(1.5, 2.5, len(program_idx))
    program_fc[0] = 3.2  # FN1 leads PC1
    # Program genes at moderate levels, so the program moves log-scale PCA more than raw-RPKM correlation.
    base[program_idx] = rng.normal(2.5, 0.7, len(program_idx))
    base[index["FN1"]] = 5.0
    diff_idx = np.array([index[g] for genes in differentiation.values() for g in genes])
    common_idx = rng.choice(n, size=300, replace=False)
    common_fc = rng.normal(0, 1.3, 300)

    weight = high_multipotency_weight(fractions)
    donors = sorted(set(samples["donor"]))
    donor_effect = {d: rng.normal(0, 0.05, n) for d in donors}
    columns = {}
    for _, row in samples.iterrows():
        donor = row["donor"]
        w = weight.get(donor, 0.0)
        log_rpkm = base + donor_effect[donor] + rng.normal(0, 0.05, n)
        log_rpkm[program_idx] += w * program_fc
        if row["condition"] == "differentiated":
            log_rpkm[common_idx] += common_fc
            own = rng.choice(n, size=200, replace=False)
            log_rpkm[own] += rng.normal(0, 0.8, 200)
            log_rpkm[diff_idx] += w * 2.5
        relative = np.exp2(log_rpkm) * lengths
        library = rng.uniform(20e6, 40e6)
        mean = library * relative / relative.sum()
        dispersion = 0.01
        lam = mean * rng.gamma(1 / dispersion, dispersion, n)
        columns[row["rnaseq_column"]] = rng.poisson(lam)

    counts = pd.DataFrame({"gene_id": gene_ids, "gene_symbol": symbols, **columns})
    length_table = pd.DataFrame({"gene_id": gene_ids, "gene_symbol": symbols, "length": lengths})
    program_set = set(program)
    membership = {g: go for go, genes in differentiation.items() for g in genes}
    truth = pd.DataFrame(
        {
            "gene_id": gene_ids,
            "gene_symbol": symbols,
            "program": [
                "pc1_migration_adhesion"
                if s in program_set
                else (f"differentiation:{membership[s]}" if s in membership else "")
                for s in symbols
            ],
        }
    )
    truth["planted_log2fc"] = 0.0
    truth.loc[program_idx, "planted_log2fc"] = program_fc
    truth.loc[diff_idx, "planted_log2fc"] = 2.5
    truth = truth[truth["program"] != ""].reset_index(drop=True)
    high = [d for d, w in weight.items() if w > 0.5]
    planted = {
        "pc1_terms": [PROGRAM_TERM, "GO:1904237"],
        "pc1_lead_gene": "FN1",
        "pc1_high_donors": sorted(high),
        "differentiation_terms": list(DIFFERENTIATION_TERMS),
        "differentiation_samples": sorted(
            samples.loc[(samples["condition"] == "differentiated") & samples["donor"].isin(high), "sample"]
        ),
    }
    return RnaseqDemo(counts=counts, lengths=length_table, truth=truth, planted_terms=planted)
