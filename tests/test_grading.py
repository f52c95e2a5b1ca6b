"""course_lib.grading: the messages students read, gradient checks and shortcut detection."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from course_lib import grading as g


def test_assert_close_reports_shape_mismatch():
    with pytest.raises(AssertionError, match=r"loss: wrong shape: expected \(3, 2\), got \(2, 3\)"):
        g.assert_close(np.ones((2, 3)), np.ones((3, 2)), name="loss")


def test_assert_close_reports_worst_element_expected_and_got():
    a = np.arange(6.0).reshape(2, 3)
    b = a.copy()
    b[1, 2] = 7.0
    b[0, 1] = 1.0 + 1e-3
    with pytest.raises(AssertionError) as exc:
        g.assert_close(a, b, name="dW")
    msg = str(exc.value)
    assert "2 of 6 value(s) differ" in msg and "index (1, 2)" in msg
    assert "expected 7, got 5" in msg


def test_assert_close_reports_nan_none_and_dtype():
    with pytest.raises(AssertionError, match="NaN"):
        g.assert_close(np.array([1.0, np.nan]), np.array([1.0, 2.0]))
    with pytest.raises(AssertionError, match="forget to return"):
        g.assert_close(None, np.zeros(2))
    with pytest.raises(AssertionError, match="dtype"):
        g.assert_close(np.zeros(2, np.float32), np.zeros(2), check_dtype=True)


def test_assert_close_passes_within_tolerance_and_on_matching_infinities():
    g.assert_close(np.array([1.0, np.inf]), np.array([1.0 + 1e-9, np.inf]))
    with pytest.raises(AssertionError):
        g.assert_close(np.array([np.inf]), np.array([-np.inf]))


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(max_dims=3, max_side=5),
                  elements=st.floats(-1e6, 1e6, allow_nan=False)))
def test_assert_close_accepts_itself_and_rejects_a_perturbation(x):
    g.assert_close(x, x.copy())
    y = x.copy()
    y.flat[0] += 1.0 + abs(y.flat[0])
    with pytest.raises(AssertionError):
        g.assert_close(y, x)


def test_numeric_gradient_matches_analytic_and_restores_input():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    x0 = x.copy()
    num = g.numeric_gradient(lambda z: np.sum(np.sin(z) * z), x)
    np.testing.assert_allclose(num, np.cos(x0) * x0 + np.sin(x0), rtol=1e-7, atol=1e-9)
    np.testing.assert_array_equal(x, x0)


def test_numeric_gradient_array_is_vector_jacobian_product():
    rng = np.random.default_rng(1)
    x, dout = rng.standard_normal(5), rng.standard_normal(5)
    np.testing.assert_allclose(g.numeric_gradient_array(np.tanh, x, dout), dout * (1 - np.tanh(x) ** 2),
                               rtol=1e-6)


def test_numeric_gradient_rejects_integer_arrays():
    with pytest.raises(TypeError, match="float"):
        g.numeric_gradient(lambda z: z.sum(), np.arange(3))


def test_check_gradient_passes_right_and_names_the_wrong_element():
    x = np.array([0.3, -1.2, 2.5])
    assert g.check_gradient(lambda z: np.sum(z ** 3), x, 3 * x ** 2) < 1e-8
    wrong = 3 * x ** 2
    wrong[1] = 0.0
    with pytest.raises(AssertionError, match=r"index \(1,\)"):
        g.check_gradient(lambda z: np.sum(z ** 3), x, wrong, name="dx")


