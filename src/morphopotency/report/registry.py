"""One registry of every figure and table a user is shown: Snakemake's ``report()`` flags and the HTML
report's sections both read it, so the two reports cannot drift apart."""

from __future__ import annotations

import itertools
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Item:
    """One output: ``path`` may hold wildcards; ``section`` None keeps it out of the HTML report;
    ``when`` names the run-plan flags it needs (all of them)."""

    path: str
    caption: str
    category: str
    subcategory: str | None = None
    section: str | None = None
    when: tuple[str, ...] = ()
    rows: int = 25

    @property
    def kind(self) -> str:
        return "table" if self.path.endswith(".tsv") else "figure"

    @property
    def wildcards(self) -> tuple[str, ...]:
        return tuple(name for _, name, _, _ in string.Formatter().parse(self.path) if name)


SECTIONS: tuple[tuple[str, str], ...] = (
    ("donors", "Donors: imaging and transcriptome side by side"),
    ("correlation", "Donor correlation (Fig. 2A)"),
    ("shape-modes", "Segmentation and shape modes (Fig. 2B), SSEA3 labels (Fig. 3A)"),
    ("stemness", "Stemness markers (Fig. 3B)"),
    ("pca", "PCA, scree and loadings (Fig. 3C-E)"),
    ("enrichment", "GO enrichment of PC1 genes and term network (Fig. 3F-G)"),
    ("cnn-comparison", "CNN backbone comparison (Table 1)"),
    ("lr-search", "Learning-rate search (Fig. 4B-C)"),
    ("confusion", "Final model: confusion matrix and example cells (Fig. 4D-E)"),
    ("multipotency", "Per-donor multipotency (Fig. 4F)"),
    ("differentiation", "Differentiation (Fig. 5)"),
    ("simulation-check", "Simulation check: recovered vs planted multipotency (demo)"),
)

R, IM, C, D = "results/rnaseq/", "results/imaging/", "results/cnn/", "results/report/"
RNA, IMG, CNN, REP = "RNA-seq", "Imaging", "CNN", "Donor report"

# In the HTML report's order within each section.
ITEMS: tuple[Item, ...] = (
    Item(f"{D}donor_summary.tsv", "report_donor_summary", REP, section="donors", rows=50),
    Item(f"{D}agreement.tsv", "report_agreement", REP, section="donors", rows=50),
    Item(f"{D}agreement.png", "report_agreement", REP, section="donors"),
    Item(f"{R}expression/rpkm.tsv", "rpkm", RNA, "expression", when=("rnaseq",)),
    Item(f"{R}correlation/pearson_{{scale}}.tsv", "correlation", RNA, "donor correlation", when=("rnaseq",)),
    Item(
        f"{R}correlation/pearson_{{scale}}.png",
        "correlation",
        RNA,
        "donor correlation",
        "correlation",
        when=("rnaseq",),
    ),
    Item(
        f"{IM}segmentation/{{donor}}/{{image}}.png",
        "segmentation",
        IMG,
        "segmentation",
        "shape-modes",
        ("segmentation",),
    ),
    Item(f"{IM}shape_modes/distribution.tsv", "shape_modes", IMG, "shape modes", when=("images",)),
    Item(f"{IM}shape_modes/modes.tsv", "shape_modes", IMG, "shape modes", "shape-modes", ("images",), 50),
    Item(f"{IM}shape_modes/distribution.png", "shape_modes", IMG, "shape modes", "shape-modes", ("images",)),
    Item(f"{IM}shape_modes/dendrogram.png", "shape_modes", IMG, "shape modes", "shape-modes", ("images",)),
    Item(f"{IM}shape_modes/stability.png", "stability", IMG, "shape modes", "shape-modes", ("images",)),
    Item(f"{IM}image_qc.tsv", "image_qc", IMG, "image quality", "shape-modes", ("images",), 50),
    Item(f"{IM}ssea3_fraction.tsv", "ssea3", IMG, "SSEA3 labels", when=("label",)),
    Item(f"{IM}ssea3_histograms.png", "ssea3", IMG, "SSEA3 labels", "shape-modes", ("label",)),
    Item(f"{R}stemness/dotplot.tsv", "dotplot", RNA, "stemness", when=("rnaseq",)),
    Item(f"{R}stemness/dotplot.png", "dotplot", RNA, "stemness", "stemness", when=("rnaseq",)),
    Item(f"{R}pca/variance.tsv", "pca", RNA, "PCA", "pca", when=("rnaseq",)),
    Item(f"{R}pca/scores.tsv", "pca", RNA, "PCA", when=("rnaseq",)),
    Item(f"{R}pca/pc1_genes.tsv", "pca", RNA, "PCA", when=("rnaseq",)),
    Item(f"{R}pca/scree.png", "scree", RNA, "PCA", "pca", when=("rnaseq",)),
    Item(f"{R}pca/biplot.png", "pca", RNA, "PCA", "pca", when=("rnaseq",)),
    Item(f"{R}pca/loadings_plot.tsv", "loadings", RNA, "PCA", when=("rnaseq",)),
    Item(f"{R}pca/loadings_plot.png", "loadings", RNA, "PCA", "pca", when=("rnaseq",)),
    Item(
        f"{R}enrichment/go_{{collection}}.tsv",
        "enrichment",
        RNA,
        "GO enrichment",
        "enrichment",
        rows=15,
        when=("rnaseq",),
    ),
    Item(
        f"{R}enrichment/go_{{collection}}.png",
        "enrichment",
        RNA,
        "GO enrichment",
        "enrichment",
        when=("rnaseq",),
    ),
    Item(f"{R}enrichment/go_{{collection}}_network.tsv", "network", RNA, "GO enrichment", when=("rnaseq",)),
    Item(
        f"{R}enrichment/go_{{collection}}_network.png",
        "network",
        RNA,
        "GO enrichment",
        "enrichment",
        when=("rnaseq",),
    ),
    Item(f"{C}comparison.tsv", "cnn_comparison", CNN, "backbone comparison", "cnn-comparison", ("cnn",)),
    Item(f"{C}baselines.tsv", "cnn_baselines", CNN, "backbone comparison", "cnn-comparison", ("cnn",)),
    Item(f"{C}cnn_vs_baselines.tsv", "cnn_baselines", CNN, "backbone comparison", "cnn-comparison", ("cnn",)),
    Item(f"{C}roc.png", "cnn_comparison", CNN, "backbone comparison", "cnn-comparison", ("cnn",)),
    Item(f"{C}lr_search/trials.tsv", "cnn_lr_search", CNN, "learning-rate search", when=("cnn",)),
    Item(f"{C}lr_search/surrogate.png", "cnn_lr_search", CNN, "learning-rate search", "lr-search", ("cnn",)),
    Item(f"{C}lr_search/roc_auc.png", "cnn_lr_search", CNN, "learning-rate search", "lr-search", ("cnn",)),
    Item(f"{C}final/test_metrics.tsv", "cnn_final", CNN, "final model", "confusion", ("cnn",)),
    Item(f"{C}final/confusion.png", "cnn_final", CNN, "final model", "confusion", ("cnn",)),
    Item(f"{C}final/examples.png", "cnn_final", CNN, "final model", "confusion", ("cnn",)),
    Item(f"{C}donor_multipotency.tsv", "cnn_donors", CNN, "donors", "multipotency", ("cnn",), 50),
    Item(f"{C}donor_multipotency.png", "cnn_donors", CNN, "donors", "multipotency", ("cnn",)),
    Item(f"{C}donor_validation.tsv", "cnn_validation", CNN, "donors", "multipotency", ("cnn",)),
    Item(f"{C}lodo/validation.tsv", "cnn_lodo", CNN, "donors", "multipotency", ("cnn", "lodo")),
    Item(f"{C}lodo/validation.png", "cnn_lodo", CNN, "donors", "multipotency", ("cnn", "lodo")),
    Item(f"{C}lodo/fractions.tsv", "cnn_lodo", CNN, "donors", when=("cnn", "lodo")),
    Item(f"{C}lodo/prevalence_sweep.tsv", "cnn_lodo", CNN, "donors", when=("cnn", "lodo")),
    Item(f"{C}lodo/donor_shift.tsv", "cnn_lodo", CNN, "donors", "multipotency", ("cnn", "lodo")),
    Item(f"{C}scorers/comparison.tsv", "cnn_scorers", CNN, "donors", "multipotency", ("cnn", "lodo")),
    Item(
        f"{R}differentiation/pca_scores.tsv",
        "differentiation_pca",
        RNA,
        "differentiation",
        when=("differentiated",),
    ),
    Item(
        f"{R}differentiation/pca.png",
        "differentiation_pca",
        RNA,
        "differentiation",
        "differentiation",
        ("differentiated",),
    ),
    Item(f"{R}differentiation/pearson.tsv", "correlation", RNA, "differentiation", when=("differentiated",)),
    Item(
        f"{R}differentiation/pearson.png",
        "correlation",
        RNA,
        "differentiation",
        "differentiation",
        ("differentiated",),
    ),
    Item(
        f"{R}differentiation/donor_enrichment.tsv",
        "function_heatmap",
        RNA,
        "differentiation",
        when=("paired",),
    ),
    Item(
        f"{R}differentiation/function_heatmap.png",
        "function_heatmap",
        RNA,
        "differentiation",
        "differentiation",
        ("paired",),
    ),
    Item(
        f"{R}differentiation/deseq2.tsv", "deseq2", RNA, "differentiation", "differentiation", ("deseq2",), 15
    ),
    Item(
        f"{D}simulation_check.tsv",
        "report_simulation_check",
        REP,
        section="simulation-check",
        when=("simulation",),
    ),
    Item(
        f"{D}simulation_check.png",
        "report_simulation_check",
        REP,
        section="simulation-check",
        when=("simulation",),
    ),
)

BY_PATH: Mapping[str, Item] = {item.path: item for item in ITEMS}


def report_args(path: str, caption_dir: str = "../report") -> dict[str, str | None]:
    """Keyword arguments of Snakemake's ``report()`` for a registered output; a path the registry does not
    hold is a programming error, named."""
    if path not in BY_PATH:
        raise KeyError(f"{path} is not in morphopotency.report.registry.ITEMS")
    item = BY_PATH[path]
    return {
        "caption": f"{caption_dir}/{item.caption}.rst",
        "category": item.category,
        "subcategory": item.subcategory,
    }


def _expand(items: Sequence[Item], values: Mapping[str, Sequence[str]]) -> list[tuple[str, Item]]:
    """(path, item) with wildcards filled; items that share wildcards are expanded value-major
    (go_bp.png, go_bp_network.png, go_cc.png, ...)."""
    paths: list[tuple[str, Item]] = []
    for names, group in itertools.groupby(items, key=lambda item: item.wildcards):
        group = list(group)
        for combo in itertools.product(*(values[name] for name in names)):
            paths += [(item.path.format(**dict(zip(names, combo))), item) for item in group]
    return paths


def sections(flags: Iterable[str], values: Mapping[str, Sequence[str]]) -> list[dict]:
    """The HTML report's sections for a run: each item whose flags all hold, wildcards filled from ``values``
    (name -> the values the HTML shows); a section with no item is left out."""
    flags = set(flags)
    result = []
    for section_id, title in SECTIONS:
        chosen = [i for i in ITEMS if i.section == section_id and set(i.when) <= flags]
        if not chosen:
            continue
        spec: dict = {"id": section_id, "title": title, "figures": [], "tables": []}
        for kind in ("figure", "table"):
            of_kind = [i for i in chosen if i.kind == kind]
            for path, item in _expand(of_kind, values):
                entry = {"path": path, "caption": f"workflow/report/{item.caption}.rst"}
                spec[kind + "s"].append(entry | ({"rows": item.rows} if kind == "table" else {}))
        result.append(spec)
    return result
