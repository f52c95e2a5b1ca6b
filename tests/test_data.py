"""course_lib.data: fixed splits, generators that never touch the global RNG."""
from __future__ import annotations

import numpy as np
import pytest

from course_lib import data


def test_digits_split_is_fixed_stratified_and_disjoint():
    a, b = data.load_digits(), data.load_digits()
    assert a.X_train.shape == (1077, 64) and a.X_val.shape == (360, 64) and a.X_test.shape == (360, 64)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert a.X_train.min() >= 0.0 and a.X_train.max() <= 1.0
    for y in (a.y_train, a.y_val, a.y_test):
        counts = np.bincount(y, minlength=10)
        assert counts.min() > 0.08 * len(y) and counts.max() < 0.12 * len(y)
    total = len(a.y_train) + len(a.y_val) + len(a.y_test)
    assert total == 1797


def test_digits_images_shape_and_other_seed_differs():
    s = data.load_digits(images=True)
    assert s.X_train.shape[1:] == (1, 8, 8) and s.num_classes == 10
    assert not np.array_equal(data.load_digits(seed=1).y_train, data.load_digits().y_train)


def test_digits_rejects_bad_fractions():
    with pytest.raises(ValueError, match="fraction"):
        data.load_digits(val_fraction=0.6, test_fraction=0.5)


@pytest.mark.parametrize("make", [data.make_blobs, data.make_spirals])
def test_generators_are_seeded_and_leave_global_rng_alone(make):
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    X1, y1 = make(50, 3, seed=7)
    X2, y2 = make(50, 3, seed=7)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert X1.shape == (150, 2) and y1.dtype == np.int64 and set(np.unique(y1)) == {0, 1, 2}
    assert not np.array_equal(make(50, 3, seed=8)[0], X1)
    np.testing.assert_array_equal(np.random.get_state()[1], before)


def test_generators_reject_degenerate_sizes():
    with pytest.raises(ValueError):
        data.make_blobs(0)
    with pytest.raises(ValueError):
        data.make_spirals(10, num_classes=1)


def test_sample_image_is_a_real_photo():
    img = data.sample_image()
    assert img.ndim == 2 and img.shape[0] > 100 and 0.0 <= img.min() < img.max() <= 1.0
    assert img.std() > 0.05
    assert data.sample_image(gray=False).shape == img.shape + (3,)


def test_the_stored_digits_split_is_scikit_learns_and_needs_no_scikit_learn():
    """The default split is read from digits_split.npz (NumPy only, so a grading kernel that may not
    import scikit-learn loads it); it must equal scikit-learn's stratified train_test_split."""
    import subprocess
    import sys

    from course_lib.data import _digits_raw, digits_split_indices, load_digits

    _, y = _digits_raw()
    stored = load_digits()
    i_train, i_val, i_test = digits_split_indices(y, 0.2, 0.2, 0)
    assert np.array_equal(stored.y_train, y[i_train]) and np.array_equal(stored.y_val, y[i_val])
    assert np.array_equal(stored.y_test, y[i_test])
    other = load_digits(seed=3)
    assert not np.array_equal(other.y_train, stored.y_train)
    code = ("import sys; from course_lib.data import load_digits; d = load_digits(); "
            "assert d.X_train.shape == (1077, 64); print([m for m in sys.modules if m.startswith('sklearn')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out
