"""The model bundle: written whole, verified on load; a changed byte, an added or missing file, or other
package versions are refused with the file named."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from morphopotency.config import load_schema, with_defaults
from morphopotency.score.bundle import FORMAT, MANIFEST, BundleError, export, load, preprocessing_settings
from tests.conftest import REPO


@pytest.fixture()
def bundle(tmp_path):
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"\x00weights" * 100)
    config = with_defaults(
        yaml.safe_load((REPO / "config/config.yaml").read_text()),
        load_schema(REPO / "workflow/schemas/config.schema.yaml"),
    )
    meta = {
        "spec": {"backbone": "resnet18", "image_size": 48},
        "threshold": 0.61,
        "positive_class": "multipotent",
    }
    settings = preprocessing_settings(config, meta, reference_pixel_um=0.8)
    cells = pd.DataFrame(
        {"donor": ["S1", "S8"], "image": ["a", "b"], "area": [100.0, 200.0], "prob": [0.2, 0.9]}
    )
    export(
        tmp_path / "model",
        {"cnn/model.safetensors": weights},
        settings,
        {"reference/cells.tsv": cells},
        {"config_sha256": "abc", "commit": "deadbeef"},
    )
    return tmp_path / "model"


def test_exported_bundle_loads_with_its_settings_and_tables(bundle):
    loaded = load(bundle)
    assert loaded.settings["cnn"]["threshold"] == 0.61
    assert loaded.settings["imaging"]["channels"] == {"shape": "CD105", "label": "SSEA3", "nuclei": "DAPI"}
    assert loaded.settings["shape_modes"] == {"n_points": 50}
    assert loaded.provenance["commit"] == "deadbeef" and "torch" in loaded.provenance["versions"]
    assert list(loaded.table("reference/cells.tsv")["donor"]) == ["S1", "S8"]
    lines = (bundle / MANIFEST).read_text().splitlines()
    assert sorted(line.split("  ")[1] for line in lines) == [
        "cnn/model.safetensors",
        "provenance.json",
        "reference/cells.tsv",
        "settings.json",
    ]
    assert not list(bundle.parent.glob(".model.*.part"))


def test_one_changed_byte_is_refused_by_name(bundle):
    target = bundle / "cnn/model.safetensors"
    data = bytearray(target.read_bytes())
    data[3] ^= 1
    target.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"cnn/model.safetensors: changed since export"):
        load(bundle)


def test_added_missing_or_unlisted_files_are_refused(bundle):
    (bundle / "extra.txt").write_text("x")
    with pytest.raises(BundleError, match=r"extra.txt: not in MANIFEST.sha256"):
        load(bundle)
    (bundle / "extra.txt").unlink()
    (bundle / "settings.json").unlink()
    with pytest.raises(BundleError, match=r"settings.json: listed in MANIFEST.sha256 but missing"):
        load(bundle)
    (bundle / MANIFEST).unlink()
    with pytest.raises(BundleError, match="is not a morphopotency model bundle"):
        load(bundle)


def test_a_bundle_from_other_versions_is_refused(bundle):
    record = json.loads((bundle / "provenance.json").read_text())
    installed = dict(record["versions"])
    assert load(bundle, installed).provenance["format"] == FORMAT == 5
    with pytest.raises(BundleError, match=r"provenance.json: made with torch .*, installed 3.0.0"):
        load(bundle, {**installed, "torch": "3.0.0"})
    # A patch release decides nothing the bundle holds.
    major, minor, *_ = installed["timm"].split(".")
    load(bundle, {**installed, "timm": f"{major}.{minor}.999"})


def test_new_images_are_brought_to_the_reference_pixel_size(bundle):
    """The shipped config resamples to 0.8 um, which a scoring run applies; a bundle trained on images as
    they were (resample_um null) brings new ones to its reference images' own pixel size, unless the
    scoring run says not to (score.match_pixel_size)."""
    loaded = load(bundle)
    assert loaded.settings["imaging"]["resample_um"] == 0.8
    assert loaded.settings["imaging"]["reference_pixel_size_um"] == 0.8
    assert loaded.target_pixel_size() == 0.8 == loaded.target_pixel_size(match=False)
    imaging = loaded.settings["imaging"] | {"resample_um": None, "reference_pixel_size_um": 0.65}
    as_imaged = type(loaded)(loaded.folder, loaded.settings | {"imaging": imaging}, loaded.provenance)
    assert as_imaged.target_pixel_size() == 0.65 and as_imaged.target_pixel_size(match=False) is None
