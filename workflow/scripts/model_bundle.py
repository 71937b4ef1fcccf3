"""The portable model bundle of a training run (rule model_bundle): results/model/, copyable anywhere."""

import json
import tempfile
from pathlib import Path

import pandas as pd

from morphopotency.cnn.tensors import cpu_threads
from morphopotency.imaging.cells import ssea3_threshold
from morphopotency.imaging.segmented_by import by_donor
from morphopotency.provenance import config_hash, git_commit, sha256
from morphopotency.score.bundle import (
    CELLPOSE_MODEL,
    DONOR_SHIFT,
    LODO_MODELS,
    LODO_PREDICTIONS,
    REFERENCE_MODES,
    SCORER_MODELS,
    SCORER_PREDICTIONS,
    SCORER_TABLE,
    export,
    mode_columns,
    preprocessing_settings,
    reference_cells,
)
from morphopotency.score.embedding import reference_embedding
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "model_bundle")
cpu_threads(snakemake.threads)
inp, p = snakemake.input, snakemake.params
meta = json.loads(Path(inp.cnn_json).read_text())
backbone = json.loads(Path(inp.selected).read_text())["backbone"]
cells = pd.read_csv(inp.cells, sep="\t", dtype={"donor": str, "image": str})
cv = pd.read_csv(inp.cv_predictions, sep="\t", dtype={"donor": str, "image": str})
final = pd.read_csv(inp.final_predictions, sep="\t", dtype={"donor": str, "image": str})
source = p.config["cnn"]["data"]["source"]
ssea3_cut = None
if inp.labels:  # the imaging source: the SSEA3 intensity that labelled the reference cells
    labels = pd.read_csv(inp.labels, sep="\t")
    ssea3_cut = ssea3_threshold(labels["ssea3_8bit"].to_numpy(), p.config["imaging"]["ssea3_threshold"])
# The reference images' pixel size, as their shapes were measured (one value per image).
pixels = cells.groupby(["donor", "image"])["pixel_size_um"].first() if "pixel_size_um" in cells else None
reference_pixel = float(pixels.median()) if pixels is not None and pixels.notna().any() else None
files = {
    "cnn/model.safetensors": inp.cnn,
    "cnn/model.json": inp.cnn_json,
    "reference/donors.tsv": inp.donors,
    "metrics/test_metrics.tsv": inp.test_metrics,
    "metrics/comparison.tsv": inp.comparison,
    "provenance/inputs.tsv": inp.manifest,
}
if inp.shape_model:
    files |= {"shape_modes/model.npz": inp.shape_model, "shape_modes/model.json": inp.shape_model_json}
for path in inp.lodo:  # the leave-one-donor-out validation, which a QC report shows beside its scores
    files["metrics/lodo_validation.tsv"] = path
for path in inp.shift:  # what the *_donor estimators move the final model's error rates by
    files[DONOR_SHIFT] = path
for path in inp.lodo_models:  # cross-fitting: every LODO model, named by the donor it left out
    donor = Path(path).parent.name
    files[f"{LODO_MODELS}/{donor}/model.safetensors"] = path
    files[f"{LODO_MODELS}/{donor}/model.json"] = Path(path).with_suffix(".json")
if inp.scorers:  # the shape and combined scorers; their predictions travel as a table (cnn's left out)
    models, predictions, table = inp.scorers
    files |= {SCORER_MODELS: models, SCORER_TABLE: table}
cellpose_sha = None
for path in inp.cellpose:  # segmenter cellpose: the model itself travels with the bundle
    files[CELLPOSE_MODEL], cellpose_sha = path, sha256(path)
tables = {"reference/cells.tsv": reference_cells(cells, cv, backbone, final)}
if inp.shape_distribution:  # the reference donors' shape-mode shares, as scoring numbers them
    distribution = pd.read_csv(inp.shape_distribution, sep="\t", dtype={"donor": str})
    tables[REFERENCE_MODES] = mode_columns(distribution)
if inp.scorers:
    scored = pd.read_csv(inp.scorers[1], sep="\t", dtype={"held_out": str})
    tables[SCORER_PREDICTIONS] = scored[scored["scorer"] != "cnn"]
if inp.lodo_predictions:
    tables[LODO_PREDICTIONS] = pd.concat(
        [
            pd.read_csv(f, sep="\t", dtype={"donor": str, "image": str, "held_out": str})
            for f in inp.lodo_predictions
        ],
        ignore_index=True,
    )
scratch = tempfile.TemporaryDirectory()
embedding = Path(scratch.name) / "embedding.npz"
reference_embedding(inp.cnn, inp.crops, final).save(embedding)
files["reference/embedding.npz"] = embedding
provenance = {"config_sha256": config_hash(p.config), "commit": git_commit(p.basedir), "config": p.config}
export(
    snakemake.output.bundle,
    files,
    preprocessing_settings(p.config, meta, ssea3_cut, reference_pixel, source, cellpose_sha, by_donor(cells)),
    tables,
    provenance,
)
scratch.cleanup()
log.info("bundle of %s (cut-off %.4g) with %d reference cells", backbone, meta["threshold"], len(cells))
