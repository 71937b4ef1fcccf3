"""A compact reference distribution of the CNN's view of cells: the final model's pooled backbone features
of the reference cells it did not train on, reduced by PCA, so a bundle can tell whether a new donor's
cells look, to the model, like cells it was validated on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA

N_COMPONENTS = 8


@dataclass(frozen=True)
class EmbeddingReference:
    mean: np.ndarray  # (features,)
    components: np.ndarray  # (k, features)
    cells: np.ndarray  # the reference cells' row numbers in reference/cells.tsv
    coords: np.ndarray  # (cells, k)

    def project(self, features: np.ndarray) -> np.ndarray:
        features = np.asarray(features, float)
        if features.ndim != 2 or features.shape[1] != len(self.mean):
            raise ValueError(
                f"embeddings of shape {features.shape}; the bundle's have {len(self.mean)} features"
            )
        return (features - self.mean) @ self.components.T

    def save(self, path: str | Path) -> None:
        from morphopotency.io.atomic import atomic_path

        arrays = {
            "mean": self.mean,
            "components": self.components,
            "cells": self.cells,
            "coords": self.coords,
        }
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> EmbeddingReference:
        with np.load(path, allow_pickle=False) as stored:
            return cls(**{key: stored[key] for key in ("mean", "components", "cells", "coords")})


def fit_reference(
    features: np.ndarray, cells: np.ndarray, n_components: int = N_COMPONENTS
) -> EmbeddingReference:
    """PCA of the reference cells' embeddings (``cells``: their row numbers), at most ``n_components``."""
    features = np.asarray(features, float)
    k = max(1, min(n_components, len(features) - 1, features.shape[1]))
    pca = PCA(n_components=k, random_state=0).fit(features)
    return EmbeddingReference(
        mean=pca.mean_, components=pca.components_, cells=np.asarray(cells), coords=pca.transform(features)
    )


def reference_embedding(
    model_file: str | Path, crops_file: str | Path, final: pd.DataFrame
) -> EmbeddingReference:
    """The final model's embeddings of the reference cells it did not train on (its validation and test
    cells, as for its error rates), PCA-reduced: an EmbeddingReference."""
    import torch

    from morphopotency.cnn.model import load_model
    from morphopotency.cnn.train import embed

    held_out = np.sort(final.loc[final["role"].isin(["val", "test"]), "cell"].to_numpy())
    model, spec, _ = load_model(model_file)
    crops = torch.from_numpy(np.load(crops_file, allow_pickle=False))
    return fit_reference(embed(model, crops, held_out, spec), held_out)
