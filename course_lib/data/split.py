"""The train/val/test split every loader of :mod:`course_lib.data` returns (its own module so that
the generators' modules can return one without importing the package)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Split:
    """A train/val/test split. ``X_*``: (N, D) float64 (or (N, 1, 8, 8) images); ``y_*``: (N,) int64.

    Introduced in lecture 01_linear_classifiers.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    classes: tuple

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __repr__(self) -> str:
        return (f"Split(train={self.X_train.shape}, val={self.X_val.shape}, "
                f"test={self.X_test.shape}, classes={len(self.classes)})")
