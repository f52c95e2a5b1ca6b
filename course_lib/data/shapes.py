"""Generated 32x32 colour images of shapes and glyphs: a small image set with real structure.

Ten classes (six geometric shapes and four letters rendered from DejaVu Sans, the font
matplotlib ships) drawn at a random pose (position, size, rotation) in a random colour on a
random two-colour gradient background, with a random distractor stroke and pixel noise. Nothing
is downloaded: outlines come from :mod:`matplotlib.path` and :class:`matplotlib.textpath.TextPath`.

What it is for (unit 03): the class is a *local shape* that moves, so a convolutional network
(weights shared over positions) learns it from a few thousand images while a multi-layer
perceptron of more parameters, which must learn every position separately, does not; the
colour carries no information about the class, so first-layer filters learn edges and colour
contrasts, and saliency maps show the object rather than the background.

Measured with ``tests/test_data_shapes.py::test_small_cnn_clearly_beats_mlp`` (default
``load_shapes()``: 300 training images per class, inputs mapped by ``(x - 0.5) / 0.25``, 6 epochs
of Adam with batches of 64, accuracy on the 1,000 test images, seed 0, one CPU thread):
``SmallCNN(3, 10, 32, channels=(16, 32))`` (25,578 parameters) reaches 0.71, ``MLP(3072, (128,),
10)`` (394,634 parameters) 0.43; the test asserts CNN >= 0.6, MLP <= 0.5 and a gap >= 0.2.

How the images are made, and why by hand: each class outline is rasterised once (cached) on a
fine grid with ``Path.contains_points`` and smoothed; every image is then an inverse affine map
of its pixel grid into that template with bilinear interpolation, vectorised over the whole
batch in NumPy. Drawing each image with a matplotlib figure would take milliseconds per image
(tens of seconds for a data set); this takes well under a second for a few thousand images.
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np

from .split import Split

__all__ = ["SHAPE_CLASSES", "make_shapes", "load_shapes"]

#: Class names, in label order.
SHAPE_CLASSES: tuple[str, ...] = ("circle", "ring", "triangle", "square", "star", "plus",
                                  "A", "E", "H", "S")

_TEMPLATE = 96          # side of the cached template raster (template pixels over [-1, 1]^2)


def _rng(seed: int | np.random.Generator) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _polygons(name: str) -> list[np.ndarray]:
    """Closed outlines of a class in about [-1, 1]^2 (filled with the even-odd rule, so holes work)."""
    # lazy: matplotlib (a second to import) only rasterises the class templates, once each (cached)
    from matplotlib.path import Path

    t = np.linspace(0, 2 * np.pi, 97)[:-1]
    circle = np.stack([np.cos(t), np.sin(t)], axis=1)
    if name == "circle":
        return [0.95 * circle]
    if name == "ring":
        return [0.95 * circle, 0.55 * circle]
    if name == "triangle":
        return [np.asarray(Path.unit_regular_polygon(3).vertices, dtype=float)[:-1] - [0, 0.2]]
    if name == "square":
        return [0.78 * np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=float)]
    if name == "star":
        return [1.05 * np.asarray(Path.unit_regular_star(5, 0.42).vertices, dtype=float)[:-1]]
    if name == "plus":
        a, b = 0.3, 0.95
        return [np.array([[-a, -b], [a, -b], [a, -a], [b, -a], [b, a], [a, a], [a, b], [-a, b],
                          [-a, a], [-b, a], [-b, -a], [-a, -a]], dtype=float)]
    return _glyph(name)


def _glyph(char: str) -> list[np.ndarray]:
    """The outline of ``char`` in DejaVu Sans Bold (shipped with matplotlib), centred, height ~1.9."""
    # lazy: matplotlib (a second to import) only rasterises the class templates, once each (cached)
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    if not char.strip():
        raise ValueError(f"{char!r} has no outline to draw; use a visible character")
    path = TextPath((0, 0), char, size=1.0, prop=FontProperties(family="DejaVu Sans", weight="bold"))
    polys = [a for a in (np.asarray(p, dtype=float) for p in path.to_polygons()) if len(a) >= 3]
    if not polys:
        raise ValueError(f"the font has no outline for {char!r}")
    pts = np.concatenate(polys)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    centre, half = (lo + hi) / 2, (hi - lo).max() / 2
    return [(p - centre) / half * 0.95 for p in polys]


@cache
def _template(name: str) -> np.ndarray:
    """(T, T) float64 coverage in [0, 1] of the class outline over [-1, 1]^2 (row 0 is y = +1), smoothed
    so that down-sampling it with bilinear interpolation does not alias."""
    # lazy: matplotlib (a second to import) only rasterises the class templates, once each (cached)
    from matplotlib.path import Path

    c = (np.arange(_TEMPLATE) + 0.5) / _TEMPLATE * 2 - 1
    gx, gy = np.meshgrid(c, -c)
    pts = np.stack([gx.ravel(), gy.ravel()], axis=1)
    inside = np.zeros(len(pts), dtype=bool)
    for poly in _polygons(name):
        inside ^= Path(poly).contains_points(pts)          # even-odd rule: holes of rings and glyphs
    img = inside.reshape(_TEMPLATE, _TEMPLATE).astype(np.float64)
    k = np.array([1, 4, 6, 4, 1], dtype=np.float64) / 16  # binomial blur, about 1 template pixel
    img = np.apply_along_axis(lambda r: np.convolve(r, k, mode="same"), 1, img)
    img = np.apply_along_axis(lambda r: np.convolve(r, k, mode="same"), 0, img)
    img.flags.writeable = False
    return img


def _bilinear(templates: np.ndarray, idx: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Sample ``templates[idx[n]]`` at template coordinates (u, v) in [-1, 1] (x right, y up); 0 outside."""
    T = templates.shape[-1]
    col = (u + 1) / 2 * T - 0.5
    row = (1 - v) / 2 * T - 0.5
    c0, r0 = np.floor(col).astype(np.int64), np.floor(row).astype(np.int64)
    fc, fr = col - c0, row - r0
    out = np.zeros(u.shape, dtype=np.float64)
    n = idx.reshape(-1, *([1] * (u.ndim - 1)))
    for dr, dc, w in ((0, 0, (1 - fr) * (1 - fc)), (0, 1, (1 - fr) * fc), (1, 0, fr * (1 - fc)), (1, 1, fr * fc)):
        r, c = r0 + dr, c0 + dc
        ok = (r >= 0) & (r < T) & (c >= 0) & (c < T)
        out += w * np.where(ok, templates[n, np.clip(r, 0, T - 1), np.clip(c, 0, T - 1)], 0.0)
    return out


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n,) Euclidean distance of each point ``p[i]`` from the segment ``[a[i], b[i]]`` (all (n, 3))."""
    ab = b - a
    t = np.clip(((p - a) * ab).sum(1) / np.maximum((ab * ab).sum(1), 1e-12), 0, 1)
    return np.linalg.norm(p - (a + t[:, None] * ab), axis=1)


def _stroke(rng: np.random.Generator, n: int, gx: np.ndarray, gy: np.ndarray, width: float) -> np.ndarray:
    """(n, S, S) coverage of one random straight line of the given width (the distractor)."""
    theta = rng.uniform(0, np.pi, n)[:, None, None]
    offset = rng.uniform(-0.9, 0.9, n)[:, None, None]
    dist = np.abs(gx * np.sin(theta) - gy * np.cos(theta) - offset)
    return np.clip(width - dist, 0, None) / width


def make_shapes(n_per_class: int = 100, *, size: int = 32, noise: float = 0.05, max_rotation: float = 30.0,
                scale: tuple[float, float] = (0.55, 0.85), distractor: bool = True, spread: float = 1.0,
                seed: int | np.random.Generator = 0, return_masks: bool = False,
                classes: Sequence[str] = SHAPE_CLASSES) -> tuple[np.ndarray, ...]:
    """Draw ``n_per_class`` images of every class of ``classes`` (:data:`SHAPE_CLASSES`), in a shuffled order.

    Each image: the class outline, scaled to a half-width drawn uniformly from ``scale`` (a
    fraction of the image's half-width), rotated by up to ``max_rotation`` degrees either way,
    placed anywhere it fits; filled with a random colour on a random two-colour linear gradient
    (the shape's colour is at least 0.4 away, in RGB distance, from every colour of the gradient, so
    it is visible); a thin straight
    stroke of a third colour across the image when ``distractor``; Gaussian pixel noise of std
    ``noise``; clipped to [0, 1].

    Args:
        n_per_class: images per class (>= 1).
        size: height = width in pixels (>= 8).
        noise: std of the added Gaussian noise (>= 0).
        max_rotation: largest rotation in degrees.
        scale: (low, high) half-width of the shape as a fraction of the image's, in (0, 1].
        distractor: draw a random line that is not part of the class.
        spread: fraction in [0, 1] of the room left by the shape over which its centre may move
            (0: always centred; 1: anywhere it fits).
        seed: an int or a ``numpy.random.Generator``; NumPy's global RNG is never touched.
        return_masks: also return where the object is (for checking what a saliency map highlights).
        classes: class names, each a shape of :data:`SHAPE_CLASSES` or any single character the
            font has (new classes for a transfer-learning experiment); labels index this sequence.

    Returns:
        X: (len(classes) * n_per_class, 3, size, size) float32 in [0, 1] (NCHW, PyTorch's layout);
        y: (len(classes) * n_per_class,) int64 labels indexing ``classes``;
        with ``return_masks``, also masks: (len(classes) * n_per_class, size, size) float32, the object's
        coverage of each pixel in [0, 1].

    Introduced in lecture 03_cnn.
    """
    if n_per_class < 1:
        raise ValueError(f"n_per_class must be >= 1, got {n_per_class}")
    if size < 8:
        raise ValueError(f"size must be >= 8 pixels, got {size}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    if not 0 <= spread <= 1:
        raise ValueError(f"spread must be in [0, 1], got {spread}")
    lo, hi = scale
    if not 0 < lo <= hi <= 1:
        raise ValueError(f"scale must satisfy 0 < low <= high <= 1, got {scale}")
    classes = tuple(classes)
    unknown = [c for c in classes if c not in SHAPE_CLASSES and len(c) != 1]
    if unknown or not classes:
        raise ValueError(f"classes must be names of SHAPE_CLASSES or single characters, got {unknown or classes}")
    if len(set(classes)) != len(classes):
        raise ValueError(f"classes must be distinct, got {classes}")
    rng = _rng(seed)
    k = len(classes)
    n = k * n_per_class
    y = rng.permutation(np.repeat(np.arange(k, dtype=np.int64), n_per_class))
    templates = np.stack([_template(name) for name in classes])

    c = (np.arange(size) + 0.5) / size * 2 - 1                      # pixel centres over [-1, 1]
    gx, gy = np.meshgrid(c, -c)                                     # x right, y up; row 0 at the top
    s = rng.uniform(lo, hi, n)
    theta = np.deg2rad(rng.uniform(-max_rotation, max_rotation, n))
    tx, ty = (spread * (1 - s) * rng.uniform(-1, 1, n) for _ in range(2))   # the shape stays inside the image
    X0, Y0 = gx[None] - tx[:, None, None], gy[None] - ty[:, None, None]
    cos, sin = np.cos(theta)[:, None, None], np.sin(theta)[:, None, None]
    u = (cos * X0 + sin * Y0) / s[:, None, None]                    # inverse rotation, then inverse scale
    v = (-sin * X0 + cos * Y0) / s[:, None, None]
    mask = _bilinear(templates, y, u, v)                            # (n, size, size) coverage in [0, 1]

    bg0, bg1, fg = (rng.uniform(0, 1, (n, 3)) for _ in range(3))
    for _ in range(50):                                             # resample the few low-contrast colours
        low = _segment_distance(fg, bg0, bg1) < 0.4
        if not low.any():
            break
        fg[low] = rng.uniform(0, 1, (int(low.sum()), 3))
    else:                                                           # pragma: no cover - p(fail) < 1e-20
        raise RuntimeError("could not draw contrasting colours")
    phi = rng.uniform(0, 2 * np.pi, n)[:, None, None]
    ramp = ((gx * np.cos(phi) + gy * np.sin(phi)) / np.sqrt(2) + 1) / 2   # (n, size, size) in [0, 1]
    img = bg0[:, :, None, None] + (bg1 - bg0)[:, :, None, None] * ramp[:, None]
    if distractor:
        line = _stroke(rng, n, gx[None], gy[None], width=1.5 / size)[:, None]
        img += line * (rng.uniform(0, 1, (n, 3))[:, :, None, None] - img)
    img += mask[:, None] * (fg[:, :, None, None] - img)
    img += noise * rng.standard_normal(img.shape)
    X = np.clip(img, 0, 1).astype(np.float32)
    return (X, y, mask.astype(np.float32)) if return_masks else (X, y)


def load_shapes(n_train_per_class: int = 300, n_val_per_class: int = 50, n_test_per_class: int = 100, *,
                seed: int = 0, size: int = 32, noise: float = 0.05, max_rotation: float = 30.0,
                scale: tuple[float, float] = (0.55, 0.85), distractor: bool = True) -> Split:
    """A train/val/test :class:`~course_lib.data.Split` of :func:`make_shapes` images (NCHW float32).

    The three parts come from independent streams of one ``numpy.random.SeedSequence(seed)``, so
    each is fixed by ``seed`` and they share no image. Class counts are exactly balanced. The
    default (3,000 / 500 / 1,000 images) takes under 2 s and 55 MB.

    Args:
        n_train_per_class, n_val_per_class, n_test_per_class: images per class in each part.
        seed: seed of the whole split.
        size, noise, max_rotation, scale, distractor: as in :func:`make_shapes`.

    Introduced in lecture 03_cnn.
    """
    streams = np.random.SeedSequence(seed).spawn(3)
    (X_train, y_train), (X_val, y_val), (X_test, y_test) = (
        make_shapes(m, size=size, noise=noise, max_rotation=max_rotation, scale=scale, distractor=distractor,
                    seed=np.random.default_rng(ss))
        for m, ss in zip((n_train_per_class, n_val_per_class, n_test_per_class), streams))
    return Split(X_train, y_train, X_val, y_val, X_test, y_test, SHAPE_CLASSES)
