"""Per-donor table from both branches, imaging-transcriptome agreement, one sentence per donor (rule
report_donor_summary)."""

import pandas as pd

from morphopotency.io.tables import write_tsv
from morphopotency.plots import save_figure
from morphopotency.plots.report import agreement_scatter
from morphopotency.report.agreement import agreement_table, donor_sentences
from morphopotency.report.donor_table import (
    cell_shape_means,
    cnn_fraction,
    differentiation_score,
    donor_summary,
    mean_correlation,
    pc1_by_donor,
    shape_mode_fractions,
    stem_sample_donors,
    unavailable,
)
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "report_donor_summary")
cfg = snakemake.params.report
inp = snakemake.input


def read(path):
    return pd.read_csv(path, sep="\t", dtype={"donor": str, "sample": str})


# A CNN trained on a folder of labelled cells runs without a sample sheet.
columns = ["sample", "donor", "condition", "rnaseq_column"]
samples = (
    pd.read_csv(inp.samples, sep="\t", dtype=str, keep_default_na=False)
    if "samples" in inp.keys()
    else pd.DataFrame(columns=columns)
)
stems = stem_sample_donors(samples)
parts = []
imaged = list(read(inp.ssea3)["donor"]) if "ssea3" in inp.keys() else None  # donors with 0 cells included
if "assignments" in inp.keys():
    parts += [
        cell_shape_means(read(inp.assignments), imaged),
        shape_mode_fractions(
            read(inp.distribution), read(inp.modes), cfg["round_circularity"], cfg["elongated_aspect_ratio"]
        ),
    ]
if "ssea3" in inp.keys():
    parts.append(read(inp.ssea3).set_index("donor")["ssea3_positive_fraction"])
if "cnn_donors" in inp.keys():
    parts.append(cnn_fraction(read(inp.cnn_donors), cfg["cnn_fraction"]))
if "pca_scores" in inp.keys():  # the RNA-seq branch ran
    parts += [pc1_by_donor(read(inp.pca_scores), stems), mean_correlation(read(inp.correlation), stems)]
if "heatmap" in inp.keys():
    parts.append(
        differentiation_score(
            read(inp.heatmap), stem_sample_donors(samples, "differentiated"), cfg["differentiation_terms"]
        )
    )
summary = donor_summary(parts)


def measured(names):
    return [m for m in names if m in summary and summary[m].notna().any()]


imaging = measured(("cnn_multipotent_fraction", "ssea3_positive_fraction"))
transcriptome = measured(("pc1_score", "mean_correlation", "differentiation_score"))
agreement = agreement_table(summary, imaging, transcriptome)
primary = imaging[0] if imaging else "pc1_score"
sentences = donor_sentences(summary, primary, [m for m in (*imaging[1:], *transcriptome) if m != primary])

write_tsv(summary, snakemake.output.summary)
write_tsv(agreement, snakemake.output.agreement)
write_tsv(sentences, snakemake.output.sentences)
write_tsv(unavailable(parts), snakemake.output.unavailable)
save_figure(agreement_scatter(summary, agreement), snakemake.output.figure)
for part in unavailable(parts).itertuples():
    log.warning("%s not computed: %s", part.measure, part.reason)
log.info("donor summary:\n%s\nagreement:\n%s", summary.to_string(), agreement.to_string())
