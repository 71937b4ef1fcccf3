"""The run's choices that go beyond the paper, in words, read from the config as run, so the report says
what this run did rather than what the defaults are."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def beyond_paper(config: Mapping[str, Any]) -> list[str]:
    cnn, imaging, report = config.get("cnn", {}), config.get("imaging", {}), config.get("report", {})
    modes = imaging.get("shape_modes", {})
    notes = [
        "Shape modes: Ward's tree refined by K-means, deterministic, so the modes do not depend on a "
        "random start (the reference's 3-init K-means does); each principal component weighted by its "
        "share of the variance, so outline noise does not count as much as shape. Stability: "
        f"{modes.get('stability_subsamples', 5)} partitions, from fits on "
        f"{100 * modes.get('stability_fraction', 0.9):.0f} % subsamples of the cells, compared by the "
        "adjusted Rand index (figure: stability).",
        "Imaging-transcriptome agreement: Spearman's rho with an exact permutation p-value (all pairings "
        "enumerated "
        "for up to 8 donors); with five donors the smallest possible two-sided p is 0.017, so agreement "
        "is stated, not over-claimed.",
    ]
    if imaging.get("segmenter") == "cellpose":
        cellpose = imaging.get("cellpose", {})
        diameter = cellpose.get("diameter")
        notes.append(
            f"Segmentation by Cellpose (model {cellpose.get('source_model', cellpose.get('model'))}, "
            + (f"cell diameter {diameter:g} px" if diameter else "the model's own cell diameter")
            + ") in place of the paper's CellProfiler thresholds; its objects pass the same size and "
            "border rules, and the model travels with the bundle so new lots are segmented alike."
        )
    if imaging.get("ssea3_region", "whole") == "inner":
        notes.append(
            "SSEA3 labels: each cell's mean SSEA3 over its inner half (the pixels at least its median "
            "distance from the outline), where an outline reaching past the cell does not dilute it; over "
            "the whole outline some multipotent cells read below the cut, more of them the richer the "
            "donor, which no adjusted count corrects (imaging.ssea3_region; whole: the paper's crop)."
        )
    if imaging.get("crop_window"):
        notes.append(
            f"Crops: one {imaging['crop_window']}-px window around every cell, so the CNN sees cell size "
            "(the paper's crops fit each cell and lose it)."
        )
    if cnn.get("enabled", True):
        group = cnn.get("group_by", "image")
        notes += [
            (
                "Cross-validation grouped by "
                + group
                + ": no "
                + group
                + " contributes cells to both training and test, "
                "because cells of one field share staining and illumination (the paper split single "
                "cells at random)."
            )
            if group != "none"
            else "Cross-validation splits single cells at random, as the paper did (cnn.group_by: none).",
            "Baselines on the same folds (majority class; class-balanced logistic regression on shape "
            "measures) and each "
            f"backbone's paired bootstrap difference to them ({cnn.get('bootstrap', 2000)} resamples of "
            "the held-out cells).",
            (
                "Decision cut-off chosen on each model's validation cells (maximising sensitivity + "
                "specificity), never on its "
                "test cells: 0.5 is the balanced cut-off only for a calibrated model."
                if cnn.get("threshold", "validation") == "validation"
                else f"Decision cut-off fixed at P {cnn.get('threshold')} (the paper: argmax of the softmax)."
            ),
            "Per-donor fractions with 95 % bootstrap intervals; the donor table uses the "
            f"{report.get('cnn_fraction', 'cross_validated')} "
            "fraction (cross_validated: each cell scored by a model that never trained on it; final: the "
            "paper's Fig. 4F).",
        ]
        if cnn.get("lodo", True):
            notes.append(
                "Scorers beside the CNN: a logistic model on shape features and one on the CNN's logit and "
                "the shape features, each one model per left-out reference donor as the CNN's "
                "leave-one-donor-out models are; a new lot's fraction is cross-fitted from the scorer whose "
                "predictions of the donors its models never saw give the narrowest interval "
                "(results/cnn/scorers/comparison.tsv; score.model names one)."
            )
    return notes


def reproducibility(config: Mapping[str, Any]) -> str:
    """What a second run of this config will and will not repeat, for the provenance section."""
    cnn = config.get("cnn", {})
    text = (
        "Repeatability: every step is seeded, and on the CPU two runs from an empty results/ write "
        "byte-identical "
        "tables and figures (tested, CNN included, for the same cnn.threads). A killed run resumes: "
        "finished outputs are "
        "kept, and a CNN job goes on from its last epoch checkpoint to the same weights."
    )
    if cnn.get("enabled", True):
        device = cnn.get("device", "auto")
        gpu = (
            "this run's cnn.device is cpu, so it does not apply here"
            if device == "cpu"
            else f"cnn.device is {device}"
        )
        text += (
            " On a GPU the CNN is not bit-for-bit repeatable: cuDNN and cuBLAS may pick "
            "non-deterministic kernels, so CNN "
            f"metrics and donor fractions can differ in the last digits between GPU runs ({gpu}); the "
            "RNA-seq and imaging "
            "results are unaffected."
        )
    return text
