"""The paper's alternative cropper (selective search), and its message when OpenCV is missing."""

import builtins

import numpy as np
import pytest

from morphopotency.imaging import selective_search
from morphopotency.simulate.images import simulate_donor


def test_boxes_find_cells_and_crops_have_the_size():
    pytest.importorskip("cv2")
    field = simulate_donor(3, "S8", 1, 384, 12, 0.5)[0][1]
    shape = field.image[0].astype(np.float64)
    boxes = selective_search.selective_search_boxes(shape, min_area=400, max_area=20000)
    assert len(boxes) >= 5
    centres_r = ((boxes["row0"] + boxes["row1"]) // 2).to_numpy()
    centres_c = ((boxes["col0"] + boxes["col1"]) // 2).to_numpy()
    on_cells = (field.labels[centres_r, centres_c] > 0).mean()
    assert on_cells > 0.5  # most proposals are centred on a cell
    crops = selective_search.crop_boxes(shape, boxes, 64, 65535)
    assert crops.shape == (len(boxes), 64, 64) and crops.dtype == np.uint8 and crops.max() > 0


def test_clear_message_without_opencv(monkeypatch):
    real_import = builtins.__import__

    def no_cv2(name, *args, **kwargs):
        if name == "cv2":
            raise ImportError("No module named 'cv2'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_cv2)
    with pytest.raises(ImportError, match=r"morphopotency\[crops\].*opencv-contrib-python-headless"):
        selective_search.selective_search_boxes(np.zeros((32, 32)))


def test_selective_search_rule(tmp_path):
    pytest.importorskip("cv2")
    from tests.workflow_helpers import snakemake, tiny_config, write_project

    config = tiny_config()
    config["imaging"] = {"cropper": "selective_search"}
    root = write_project(tmp_path, config)
    result = snakemake(root, "results/imaging/crops_selective_search/S8.npy")
    assert result.returncode == 0, result.stderr[-3000:]
    crops = np.load(root / "results/imaging/crops_selective_search/S8.npy", allow_pickle=False)
    assert crops.ndim == 3 and crops.shape[1:] == (128, 128)
