"""Embedded datasets and generators. Nothing here touches the network.

- ``load_digits``: scikit-learn's 8x8 handwritten digits (shipped inside
  scikit-learn) with a fixed, stratified train/val/test split.
- ``make_blobs``, ``make_spirals``: 2-D toy sets for decision-region pictures.
- ``sample_image``: a photograph shipped with matplotlib (for convolution demos).
- ``make_shapes``, ``load_shapes``: generated 32x32 colour images of 10 shapes and glyphs at random
  poses and colours (:mod:`course_lib.data.shapes`), on which a small CNN clearly beats an MLP.

Every generator takes a ``seed`` (or a ``numpy.random.Generator``) and never
touches NumPy's global RNG.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from .shapes import SHAPE_CLASSES, load_shapes, make_shapes
from .split import Split

__all__ = ["Split", "load_digits", "make_blobs", "make_spirals", "sample_image", "DIGIT_CLASSES",
           "SHAPE_CLASSES", "load_shapes", "make_shapes"]

DIGIT_CLASSES = tuple(str(i) for i in range(10))


def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


_DEFAULT_SPLIT = (0.2, 0.2, 0)   # (val_fraction, test_fraction, seed) of digits_split.npz


def _digits_raw() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits file, read without importing scikit-learn (``digits.csv.gz`` in its package,
    found along ``sys.path``): a grading kernel whose tasks may not use scikit-learn still loads the data."""
    for base in sys.path:
        path = os.path.join(base or ".", "sklearn", "datasets", "data", "digits.csv.gz")
        if os.path.isfile(path):
            raw = np.loadtxt(path, delimiter=",")
            return raw[:, :-1], raw[:, -1].astype(np.int64)
    raise FileNotFoundError("scikit-learn's digits.csv.gz was not found on sys.path: is scikit-learn installed?")


def load_digits(*, val_fraction: float = 0.2, test_fraction: float = 0.2, images: bool = False,
                seed: int = 0) -> Split:
    """scikit-learn's digits (1,797 images of 8x8 pixels, 10 classes), scaled to [0, 1].

    The split is stratified and fixed by ``seed`` (default 0: the split every unit uses). The
    default split is scikit-learn's ``train_test_split`` (stratified, ``random_state`` 0 and 1),
    stored as indices in ``digits_split.npz`` so that loading it needs NumPy only (a test checks
    the file against scikit-learn); other fractions or seeds call scikit-learn.

    Args:
        val_fraction, test_fraction: fractions of the whole set held out.
        images: if True, X has shape (N, 1, 8, 8); otherwise (N, 64).
        seed: seed of the split.

    Returns:
        Split with X in float64 in [0, 1] and y in int64.

    Introduced in lecture 01_linear_classifiers.
    """
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError("val_fraction and test_fraction must be in (0, 1) and sum to less than 1")
    X, y = _digits_raw()
    X = X.astype(np.float64) / 16.0
    if (val_fraction, test_fraction, seed) == _DEFAULT_SPLIT:
        with np.load(Path(__file__).with_name("digits_split.npz")) as f:
            i_train, i_val, i_test = (f[k].astype(np.int64) for k in ("train", "val", "test"))
    else:
        i_train, i_val, i_test = digits_split_indices(y, val_fraction, test_fraction, seed)
    X_train, X_val, X_test = X[i_train], X[i_val], X[i_test]
    if images:
        X_train, X_val, X_test = (a.reshape(-1, 1, 8, 8) for a in (X_train, X_val, X_test))
    return Split(X_train, y[i_train], X_val, y[i_val], X_test, y[i_test], DIGIT_CLASSES)


def digits_split_indices(y: np.ndarray, val_fraction: float, test_fraction: float,
                         seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, val, test) indices of the stratified split (scikit-learn's ``train_test_split``).

    Introduced in lecture 01_linear_classifiers.
    """
    # lazy: scikit-learn only for a split other than the shipped one; a kernel whose tasks forbid it still loads the digits
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    i_rest, i_test = train_test_split(idx, test_size=test_fraction, stratify=y, random_state=seed)
    i_train, i_val = train_test_split(i_rest, test_size=val_fraction / (1 - test_fraction), stratify=y[i_rest],
                                      random_state=seed + 1)
    return i_train, i_val, i_test


def make_blobs(n_per_class: int = 100, num_classes: int = 3, *, spread: float = 0.6,
               radius: float = 2.0, seed: int | np.random.Generator = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs whose centres sit evenly on a circle.

    Returns:
        X: (n_per_class * num_classes, 2) float64; y: (n_per_class * num_classes,) int64.

    Introduced in lecture 01_linear_classifiers.
    """
    if n_per_class < 1 or num_classes < 2:
        raise ValueError("need n_per_class >= 1 and num_classes >= 2")
    rng = _rng(seed)
    angles = 2 * np.pi * np.arange(num_classes) / num_classes
    centres = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    X = np.concatenate([c + spread * rng.standard_normal((n_per_class, 2)) for c in centres])
    y = np.repeat(np.arange(num_classes), n_per_class)
    return X, y.astype(np.int64)


def make_spirals(n_per_class: int = 100, num_classes: int = 3, *, noise: float = 0.2,
                 turns: float = 1.0, seed: int | np.random.Generator = 0) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spirals (the classic set no linear classifier separates).

    Returns:
        X: (n_per_class * num_classes, 2) float64 in about [-1, 1]^2; y: int64 labels.

    Introduced in lecture 01_linear_classifiers.
    """
    if n_per_class < 1 or num_classes < 2:
        raise ValueError("need n_per_class >= 1 and num_classes >= 2")
    rng = _rng(seed)
    X, y = [], []
    for k in range(num_classes):
        r = np.linspace(0.0, 1.0, n_per_class)
        t = (np.linspace(k * 2 * np.pi / num_classes, k * 2 * np.pi / num_classes + turns * 2 * np.pi,
                         n_per_class) + noise * rng.standard_normal(n_per_class))
        X.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        y.append(np.full(n_per_class, k))
    return np.concatenate(X), np.concatenate(y).astype(np.int64)


def sample_image(name: str = "grace_hopper.jpg", *, gray: bool = True) -> np.ndarray:
    """A photograph shipped with matplotlib, as float64 in [0, 1].

    Returns:
        (H, W) if ``gray`` else (H, W, 3).

    Introduced in lecture 03_cnn.
    """
    # lazy: matplotlib takes a second to import; of this module only the sample image needs it
    import matplotlib.cbook as cbook
    import matplotlib.image as mpimg

    img = mpimg.imread(cbook.get_sample_data(name, asfileobj=False), format=name.rsplit(".", 1)[-1])
    img = np.asarray(img, dtype=np.float64)
    if img.max() > 1.0:
        img = img / 255.0
    img = img[..., :3] if img.ndim == 3 else img
    if gray and img.ndim == 3:
        img = img @ np.array([0.299, 0.587, 0.114])
    return img
