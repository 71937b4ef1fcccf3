"""Bad input, end to end: each case runs Snakemake on a user's project with one thing wrong, and checks
that the run stops before or at the first job that reads it, with a message naming the file and the
row, field or channel, and that nothing partial is left behind for a later run to take as complete.

Cases that configuration or sample-sheet checks catch stop while the DAG is built (no job runs at all);
cases in a file's content stop in the one job that reads the file.
"""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
import yaml

from tests.workflow_helpers import SAMPLES_HEADER, snakemake, tiny_config

pytestmark = pytest.mark.workflow

IMAGE = "data/images/S8/S8_field01.ome.tif"
TABLE = "data/rnaseq/demo_counts.tsv.gz"
LENGTHS = "data/rnaseq/gene_lengths.tsv"
RPKM = "results/rnaseq/expression/rpkm.tsv"
CELLS_S8 = "results/imaging/cells/S8.h5ad"


@pytest.fixture(scope="module")
def own_data(demo_run, tmp_path_factory) -> Path:
    """The tiny demo's table, lengths and images, as a user's own data (the demo switched off)."""
    data = tmp_path_factory.mktemp("own") / "data"
    shutil.copytree(demo_run / "results/demo/rnaseq", data / "rnaseq")
    for donor in ("S1", "S8", "S9"):
        shutil.copytree(demo_run / "results/demo/images" / donor, data / "images" / donor)
    return data


def samples(extra: list[str] = ()) -> list[str]:
    rows = [f"{d}\t{d}\tstem\t{d}\tdata/images/{d}/*.ome.tif" for d in ("S1", "S8", "S9")]
    return rows + ["D8\tS8\tdifferentiated\tD8\t", "D9\tS9\tdifferentiated\tD9\t", *extra]


def project(
    root: Path, own_data: Path, edit: Callable[[dict], None] | None = None, rows: list[str] | None = None
) -> Path:
    shutil.copytree(own_data, root / "data")
    config = tiny_config(demo={"enabled": False})
    config["rnaseq"]["table"] = TABLE
    config["rnaseq"]["gene_lengths"] = LENGTHS
    if edit:
        edit(config)
    (root / "config").mkdir()
    (root / "config/config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (root / "config/samples.tsv").write_text(
        SAMPLES_HEADER + "".join(r + "\n" for r in (rows if rows is not None else samples()))
    )
    return root


def leftovers(root: Path) -> list[str]:
    """Temporary or incomplete files that a later run could mistake for results."""
    results = root / "results"
    return [
        str(p.relative_to(root)) for p in results.rglob("*") if ".part" in p.name
    ]  # io.atomic's temporaries


def assert_refused(root: Path, result, needles: list[str], target: str | None) -> str:
    out = result.stdout + result.stderr
    assert result.returncode != 0, out[-3000:]
    for needle in needles:
        assert needle in out, f"{needle!r} not in:\n{out[-4000:]}"
    if target:
        assert not (root / target).exists(), f"{target} was left behind"
    assert not leftovers(root), leftovers(root)
    return out


# --- configuration and sample sheet: refused while the DAG is built, before any job -------------------


def _set(path: str, value) -> Callable[[dict], None]:
    def edit(config: dict) -> None:
        node = config
        *parents, last = path.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value

    return edit


PARSE_CASES = {
    "config unknown key": (
        _set("imaging.shape_modes.kk", 4),
        None,
        ["unknown key 'imaging.shape_modes.kk'", "allowed here:"],
    ),
    "config wrong type": (_set("cnn.epochs", "ten"), None, ["cnn.epochs", "'ten'"]),
    "config negative epochs": (_set("cnn.epochs", -1), None, ["cnn.epochs", "-1"]),
    "config threshold out of range": (_set("cnn.threshold", 1.5), None, ["cnn.threshold", "1.5"]),
    "sheet duplicate sample": (
        None,
        samples(["S9\tS9\tstem\tS9\t"]),
        ["config/samples.tsv", "sample 'S9' is duplicated (lines 4, 7)"],
    ),
    "sheet unknown condition": (
        None,
        samples(["D1\tS1\tmature\tD1\t"]),
        ["config/samples.tsv", "line 7", "mature"],
    ),
    "sheet id with slash": (
        None,
        samples(["S1/x\tS1\tdifferentiated\tS1\t"]),
        ["config/samples.tsv", "line 7 (sample 'S1/x')"],
    ),
    "sheet id with dot-dot": (
        None,
        samples(["..\tS1\tdifferentiated\tS1\t"]),
        ["config/samples.tsv", "line 7 (sample '..')"],
    ),
    "sheet images missing": (
        None,
        samples(["S7\tS7\tstem\tS7\tdata/images/S7/field.ome.tif"]),
        ["sample 'S7'", "data/images/S7/field.ome.tif"],
    ),
    "sheet glob matches nothing": (
        None,
        samples(["S7\tS7\tstem\tS7\tdata/nowhere/*.tif"]),
        ["sample 'S7': images", "match no image file"],
    ),
}


@pytest.mark.parametrize("case", list(PARSE_CASES))
def test_config_and_sheet_errors_stop_before_any_job(tmp_path, own_data, case):
    edit, rows, needles = PARSE_CASES[case]
    root = project(tmp_path, own_data, edit, rows)
    result = snakemake(root)
    out = assert_refused(root, result, needles, None)
    assert "Select jobs to execute" not in out
    assert not (root / "results").exists()


# --- expression table: refused by the job that reads it ----------------------------------------------


def _table(change: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        path = root / TABLE
        table = pd.read_csv(path, sep="\t", dtype=str)
        with gzip.open(path, "wt") as fh:
            change(table).to_csv(fh, sep="\t", index=False)

    return edit


def _cell(column: str, row: int, value: str):
    def change(table: pd.DataFrame) -> pd.DataFrame:
        table.loc[row, column] = value
        return table

    return change


def _duplicate_id(table: pd.DataFrame) -> pd.DataFrame:
    table.loc[5, "gene_id"] = table.loc[4, "gene_id"]
    return table


def _zero_sample(table: pd.DataFrame) -> pd.DataFrame:
    table["S9"] = "0"
    return table


def _truncate_gzip(root: Path) -> None:
    data = (root / TABLE).read_bytes()
    (root / TABLE).write_bytes(data[: len(data) // 2])


def _few_lengths(root: Path) -> None:
    lengths = pd.read_csv(root / LENGTHS, sep="\t")
    lengths.head(20).to_csv(root / LENGTHS, sep="\t", index=False)


TABLE_CASES = {
    "missing sample column": (
        _table(lambda t: t.drop(columns="S8")),
        [TABLE, "sample column(s) missing from the table: S8 (sample S8)"],
    ),
    "duplicate gene ids": (_table(_duplicate_id), [TABLE, "duplicated gene id", "rows 6, 7"]),
    "text in a count column": (
        _table(_cell("S8", 3, "many")),
        [TABLE, "column 'S8' (sample S8), row 5", "non-numeric value 'many'"],
    ),
    "negative count": (
        _table(_cell("S1", 7, "-4")),
        [TABLE, "column 'S1' (sample S1), row 9", "negative value -4"],
    ),
    "NaN": (_table(_cell("D8", 2, "NaN")), [TABLE, "column 'D8' (sample D8), row 4", "missing value (NaN)"]),
    "all-zero sample": (_table(_zero_sample), [TABLE, "column 'S9' (sample S9) is all zero"]),
    "lengths missing for most genes": (_few_lengths, [LENGTHS, "gene lengths missing for"]),
    "truncated gzip": (_truncate_gzip, [TABLE, "truncated or corrupt"]),
}


@pytest.mark.parametrize("case", list(TABLE_CASES))
def test_expression_table_errors_stop_in_the_reading_job(tmp_path, own_data, case):
    edit, needles = TABLE_CASES[case]
    root = project(tmp_path, own_data)
    edit(root)
    result = snakemake(root, RPKM)
    out = assert_refused(root, result, needles, RPKM)
    assert "Error in rule rnaseq_expression" in out
    assert not (root / "results/rnaseq/expression/counts.tsv").exists()


# --- images: refused by the segmentation job, except an empty field, which is a donor with no cells ------


def _image_bytes(change: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        (root / IMAGE).write_bytes(change((root / IMAGE).read_bytes()))

    return edit


def _image_array(change: Callable[[np.ndarray], np.ndarray], axes: str = "CYX") -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        image = change(tifffile.imread(root / IMAGE))
        names = ["CD105", "SSEA3", "DAPI"][: image.shape[axes.index("C")]]
        tifffile.imwrite(root / IMAGE, image, ome=True, metadata={"axes": axes, "Channel": {"Name": names}})

    return edit


IMAGE_CASES = {
    "corrupt TIFF": (_image_bytes(lambda b: b"\x00garbage" * 100), None, [IMAGE, "cannot read the image"]),
    "truncated TIFF": (_image_bytes(lambda b: b[: len(b) // 3]), None, [IMAGE, "cannot read the image"]),
    "too few channels": (
        _image_array(lambda a: a[:2]),
        None,
        [IMAGE, "no channel named 'DAPI' for 'nuclei'", "channels are ['CD105', 'SSEA3']"],
    ),
    "one-pixel image": (_image_array(lambda a: a[:, :1, :1]), None, [IMAGE, "1 x 1 pixels is too small"]),
    "z-stack where 2-D was said": (
        _image_array(lambda a: np.stack([a, a]), "ZCYX"),
        _set("imaging.z_projection", "none"),
        [IMAGE, "a z-stack (2 planes)", "imaging.z_projection"],
    ),
}


@pytest.mark.parametrize("case", list(IMAGE_CASES))
def test_image_errors_stop_in_the_segmentation_job(tmp_path, own_data, case):
    edit, config_edit, needles = IMAGE_CASES[case]
    root = project(tmp_path, own_data, config_edit)
    edit(root)
    result = snakemake(root, CELLS_S8)
    out = assert_refused(root, result, needles, CELLS_S8)
    assert "Error in rule imaging_segment" in out
    assert not list((root / "results/imaging").rglob("S8_field01*"))


def test_an_all_black_image_is_a_donor_with_zero_cells(tmp_path, own_data):
    root = project(tmp_path, own_data)
    _image_array(np.zeros_like)(root)
    result = snakemake(root)  # every stage, to the donor report
    assert result.returncode == 0, result.stderr[-3000:]
    fractions = pd.read_csv(root / "results/imaging/ssea3_fraction.tsv", sep="\t").set_index("donor")
    assert fractions.loc["S8", "cells"] == 0 and fractions.loc["S1", "cells"] > 0
    assert "donor S8: 0 cells" in (root / "results/logs/imaging/cells_S8.log").read_text()
    summary = pd.read_csv(root / "results/report/donor_summary.tsv", sep="\t").set_index("donor")
    assert (
        summary.loc["S8", "cells"] == 0 and summary.loc["S1", "cells"] > 0
    )  # reported, not dropped or unknown
    assert pd.isna(summary.loc["S8", "ssea3_positive_fraction"]) and pd.isna(
        summary.loc["S8", "rank_ssea3_positive_fraction"]
    )
    assert "S8" in (root / "results/report/donor_report.html").read_text()


# --- gene sets ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, needles",
    [
        ("", ["no gene sets found"]),
        (
            "GO:1 adhesion\tFN1\tCOL1A1\nbroken line without tabs\n",
            ["line 2", "expected 'name<TAB>description<TAB>gene...'"],
        ),
    ],
    ids=["empty GMT", "malformed GMT"],
)
def test_gene_set_errors_stop_in_the_enrichment_job(tmp_path, own_data, content, needles):
    root = project(tmp_path, own_data, _set("rnaseq.gene_sets.bp", "data/bp.gmt"))
    (root / "data/bp.gmt").write_text(content)
    target = "results/rnaseq/enrichment/go_bp.tsv"
    result = snakemake(root, target)
    assert_refused(root, result, ["data/bp.gmt", *needles], target)


# --- CNN ---------------------------------------------------------------------------------------------


def _cnn(**settings) -> Callable[[dict], None]:
    def edit(config: dict) -> None:
        config["cnn"] = {
            "enabled": True,
            "backbones": ["resnet18"],
            "pretrained": "none",
            "epochs": 1,
            "image_size": 32,
            **settings,
        }

    return edit


SPLITS = "results/cnn/data/splits.tsv"


@pytest.mark.parametrize(
    "edit, needles",
    [
        (
            lambda c: (_cnn(group_by="none")(c), _set("imaging.ssea3_threshold", 255)(c)),
            ["single class", "SSEA3 threshold"],
        ),
        (_cnn(group_by="none", folds=40), ["cnn.folds = 40 needs at least 40", "cells"]),
    ],
    ids=["one class", "fewer cells than folds"],
)
def test_cnn_data_errors_stop_in_the_dataset_job(tmp_path, own_data, edit, needles):
    root = project(tmp_path, own_data, edit)
    result = snakemake(root, SPLITS)
    out = assert_refused(root, result, needles, SPLITS)
    assert "Error in rule cnn_dataset" in out


def test_weights_of_another_model_are_refused_naming_the_file(tmp_path, own_data):
    import timm
    from safetensors.torch import save_file

    def edit(config: dict) -> None:
        _cnn(group_by="none", folds=2, pretrained="data/other.safetensors")(config)
        config["imaging"]["ssea3_threshold"] = (
            "otsu"  # the tiny fields are all below the default 90: two classes
        )

    root = project(tmp_path, own_data, edit)
    save_file(
        timm.create_model("mobilenetv3_small_050", pretrained=False).state_dict(),
        root / "data/other.safetensors",
    )
    target = "results/cnn/cv/resnet18/fold0/predictions.tsv"
    result = snakemake(root, target)
    assert_refused(root, result, ["data/other.safetensors: not usable as resnet18 weights"], target)
