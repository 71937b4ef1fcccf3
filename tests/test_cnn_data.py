"""CNN inputs: folder data sets, grouped splits, on-device preprocessing and augmentation."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from skimage import io as skio

from morphopotency.cnn.data import from_folder, to_uint8
from morphopotency.cnn.splits import fold_indices, make_splits, split_groups
from morphopotency.cnn.tensors import augment, prepare


def _cells(n_images=20, per_image=10, seed=0):
    rng = np.random.default_rng(seed)
    donors = np.repeat([f"D{i % 5}" for i in range(n_images)], per_image)
    images = np.repeat([f"img{i}" for i in range(n_images)], per_image)
    return pd.DataFrame(
        {
            "donor": donors,
            "image": images,
            "cell_id": np.arange(n_images * per_image),
            "label": rng.integers(0, 2, n_images * per_image),
        }
    )


@pytest.mark.parametrize("group_by", ["image", "donor", "none"])
def test_splits_hold_each_cell_out_once_and_never_split_a_group(group_by):
    cells = _cells()
    groups = split_groups(cells, group_by)
    splits = make_splits(cells["label"].to_numpy(), groups, folds=5, val_fraction=0.1, seed=4)
    tested = splits[splits["role"] == "test"]["cell"]
    assert sorted(tested) == list(range(len(cells)))
    for fold in range(5):
        index = fold_indices(splits, fold)
        assert sum(map(len, index.values())) == len(cells)
        sides = [set(groups[index[r]]) for r in ("train", "val", "test")]
        assert not (sides[0] & sides[1]) and not (sides[0] & sides[2]) and not (sides[1] & sides[2])
    if group_by != "donor":  # 70/10/20 within a group's granularity
        shares = splits.groupby("role").size() / len(splits)
        assert shares["test"] == pytest.approx(0.2, abs=0.02) and shares["val"] == pytest.approx(
            0.1, abs=0.04
        )


def test_split_errors_say_what_to_change():
    cells = _cells(n_images=3)
    with pytest.raises(ValueError, match="needs at least 5 groups to split by; there are 3"):
        make_splits(cells["label"].to_numpy(), split_groups(cells, "image"), folds=5)
    with pytest.raises(ValueError, match="single class"):
        make_splits(np.zeros(len(cells)), split_groups(cells, "none"), folds=5)


def test_prepare_resizes_and_min_max_normalises_each_image():
    batch = torch.zeros(2, 40, 40, dtype=torch.uint8)
    batch[0, 10:30, 10:30] = 200
    batch[1] = 7  # flat: stays zero instead of dividing by zero
    x = prepare(batch, 64, in_chans=3)
    assert x.shape == (2, 3, 64, 64) and x.dtype == torch.float32
    assert x[0].min() == 0 and x[0].max() == pytest.approx(1.0) and torch.equal(x[0, 0], x[0, 2])
    assert torch.count_nonzero(x[1]) == 0
    assert prepare(batch, 40, in_chans=1).shape == (2, 1, 40, 40)


def test_augment_gives_a_rotation_or_flip_of_each_image_reproducibly():
    x = torch.rand(64, 1, 9, 9)
    out = augment(x, torch.Generator().manual_seed(5))
    dihedral = lambda im: [torch.rot90(f, k, dims=(-2, -1)) for f in (im, im.flip(-1)) for k in range(4)]  # noqa: E731
    for before, after in zip(x, out):
        assert any(torch.equal(after, t) for t in dihedral(before))
    assert sum(torch.equal(a, b) for a, b in zip(x, out)) < 32  # most images moved
    assert torch.equal(out, augment(x, torch.Generator().manual_seed(5)))


def test_folder_dataset_reads_classes_metadata_and_names_bad_files(tmp_path):
    for name, value in (("multipotent", 250), ("other", 90)):
        (tmp_path / name).mkdir()
        for i in range(3):
            image = np.zeros((30, 20 + i), dtype=np.uint8)
            image[5:25, 5:15] = value
            skio.imsave(tmp_path / name / f"c{i}.png", image, check_contrast=False)
    data = from_folder(tmp_path, "multipotent", side=32)
    assert data.crops.shape == (6, 32, 32) and data.crops.dtype == np.uint8
    assert list(data.labels) == [1, 1, 1, 0, 0, 0]
    assert data.crops.max() == 255  # per-image min-max, whatever the source intensity
    pd.DataFrame(
        {
            "file": [f"{c}/c{i}.png" for c in ("multipotent", "other") for i in range(3)],
            "donor": list("AABBCC"),
            "image": list("112233"),
        }
    ).to_csv(tmp_path / "metadata.tsv", sep="\t", index=False)
    assert list(from_folder(tmp_path, "multipotent", side=32).cells["donor"]) == list("AABBCC")
    with pytest.raises(ValueError, match="including 'stem'"):
        from_folder(tmp_path, "stem", side=32)
    (tmp_path / "other" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"other/broken\.png: cannot read image"):
        from_folder(tmp_path, "multipotent", side=32)


def test_to_uint8_spreads_any_range():
    assert list(to_uint8(np.array([1000.0, 1500.0, 2000.0]))) == [0, 128, 255]
    assert list(to_uint8(np.array([3.0, 3.0]))) == [0, 0]


@pytest.mark.parametrize(("lab", "expected"), [(None, "COMPATIBLE"), ("AVX2", "AVX2")])
def test_cpu_threads_asks_mkl_for_reproducible_results_unless_the_lab_chose(lab, expected):
    """In a process of its own: the setting is process-wide, and MKL reads it once."""
    env = {k: v for k, v in os.environ.items() if k != "MKL_CBWR"} | ({"MKL_CBWR": lab} if lab else {})
    code = (
        "import os, torch; from morphopotency.cnn.tensors import cpu_threads; cpu_threads(1); "
        "print(os.environ['MKL_CBWR'], torch.get_num_threads())"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == [expected, "1"]
