"""Small helpers shared by the layer modules (not part of the public API)."""
from __future__ import annotations

import numpy as np


def as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    """A ``numpy.random.Generator`` from a Generator, a seed, or ``None``.

    ``None`` gives a fresh generator seeded from the OS: it is not reproducible,
    but it never touches (or reseeds) NumPy's global random state.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)
