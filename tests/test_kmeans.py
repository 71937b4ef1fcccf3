"""Batched K-means for the shape-mode consensus: the same partition as scikit-learn where the optimum is
clear, runs independent of one another, and the co-association as a share of runs."""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from morphopotency.imaging.kmeans import co_association, kmeans_runs


def _blobs(seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(5, 6)) * 10
    return np.concatenate([c + rng.normal(size=(60, 6)) for c in centres])


def test_batched_runs_find_the_partition_scikit_learn_finds_on_a_clear_optimum():
    x = _blobs()
    reference = KMeans(5, n_init=10, random_state=0).fit(x).labels_
    labels = kmeans_runs(x, 5, 40, np.random.default_rng(1))
    agree = [adjusted_rand_score(reference, run) == 1.0 for run in labels]
    assert labels.shape == (40, 300) and np.mean(agree) >= 0.9
    # The partition most runs agree on is the optimum, as the consensus uses it.
    share = co_association(labels, 5)
    same = reference[:, None] == reference[None, :]
    assert share[same].mean() > 0.95 and share[~same].mean() < 0.05


def test_runs_are_reproducible_in_their_seed():
    x = _blobs(3)
    a = kmeans_runs(x, 4, 30, np.random.default_rng(7))
    assert np.array_equal(a, kmeans_runs(x, 4, 30, np.random.default_rng(7)))
    assert not np.array_equal(a, kmeans_runs(x, 4, 30, np.random.default_rng(8)))
    assert set(np.unique(a)) <= set(range(4))


def test_co_association_counts_shared_clusters():
    labels = np.array([[0, 0, 1], [1, 0, 0]])
    expected = np.array([[1, 0.5, 0], [0.5, 1, 0.5], [0, 0.5, 1]])
    np.testing.assert_allclose(co_association(labels, 2), expected)
