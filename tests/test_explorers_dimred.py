"""Unit 07's explorers (course_lib.explorers.dimred), headless.

Each "things to try" suggestion of lecture 07 is checked here as written (the test's docstring
quotes it; tests/test_lecture07.py fails when a suggestion has no quoting test).
"""
from __future__ import annotations

import base64

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_lib.explorers.dimred import (
    PERPLEXITIES,
    TOY_POINTS,
    EigenDigitsExplorer,
    KernelExplorer,
    NeighbourhoodExplorer,
    ProjectionExplorer,
    TSNEExplorer,
    eigendigits_state,
    kernel_state,
    neighbourhood_state,
    projection_state,
    tsne_state,
)

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize("cls", [ProjectionExplorer, EigenDigitsExplorer, TSNEExplorer, KernelExplorer,
                                 NeighbourhoodExplorer])
def test_explorer_draws_before_any_control_moves_and_has_a_static_png(cls):
    e = cls()
    assert e.png.startswith(PNG) and len(e.png) > 5000
    bundle = e._repr_mimebundle_()
    assert base64.b64decode(bundle["image/png"]).startswith(PNG)
    assert "application/vnd.jupyter.widget-view+json" in bundle
    with pytest.raises(ValueError, match="unknown control"):
        e.update(colour=1)


def test_moving_a_control_as_a_browser_does_redraws():
    e = ProjectionExplorer()
    before = e.png
    e.controls["angle"].value = 41.0
    assert e.last["angle"] == 41.0 and e.png != before


# ---- projection ---------------------------------------------------------------------------------

def test_projection_state_against_the_covariance():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 2)) @ np.array([[2.0, 0.5], [0.0, 0.7]])
    S = np.cov(X.T, bias=True)
    for a in (0.0, 33.0, 90.0, 170.0):
        s = projection_state(X, a)
        w = s["_w"]
        assert s["variance"] == pytest.approx(w @ S @ w)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        projection_state(np.zeros((4, 3)), 0)


def test_try_sum_is_constant():
    """"Move `angle` anywhere: the projected variance plus the reconstruction error stays 3.6, the trace of S.\""""
    e = ProjectionExplorer()
    e.render = False
    for a in np.arange(0, 181, 7.5):
        r = e.update(angle=float(a))
        assert r["variance"] + r["error"] == pytest.approx(3.6) == pytest.approx(r["total"])


def test_try_the_optimum():
    """"Set `angle` to 41 (the marked optimum is at 40.9 degrees): the projected variance reaches its maximum,
    3.214 = λ₁, and the error its minimum, 0.386 = λ₂.\""""
    e = ProjectionExplorer()
    e.render = False
    r = e.update(angle=41.0)
    assert r["best_angle"] == pytest.approx(40.9, abs=0.05)
    assert r["variance"] == pytest.approx(3.214, abs=5e-4) and r["error"] == pytest.approx(0.386, abs=5e-4)
    grid = [projection_state(TOY_POINTS, a) for a in range(181)]
    assert max(s["variance"] for s in grid) == pytest.approx(r["variance"])
    assert min(s["error"] for s in grid) == pytest.approx(r["error"])


def test_try_right_angles_swap():
    """"Set `angle` to 131, at right angles to the optimum: the two numbers swap.\""""
    e = ProjectionExplorer()
    e.render = False
    a, b = e.update(angle=41.0), e.update(angle=131.0)
    assert b["variance"] == pytest.approx(a["error"]) and b["error"] == pytest.approx(a["variance"])


# ---- eigen-digits ------------------------------------------------------------------------------

def test_try_k10():
    """"Set `k` to 10: 73.8 % of the variance is kept, and the squared error over all the digits equals N times
    the discarded eigenvalues, 565,183.40.\""""
    e = EigenDigitsExplorer()
    e.render = False
    r = e.update(k=10)
    assert round(100 * r["kept"], 1) == 73.8
    assert r["sse"] == pytest.approx(565_183.40, abs=0.01) and r["discarded"] == pytest.approx(r["sse"], rel=1e-10)


def test_try_raise_k():
    """"Raise `k` one step at a time: the digit's error never goes up, and at k = 64 it is 0.\""""
    e = EigenDigitsExplorer()
    e.render = False
    for index in (0, 5, 1796):
        errs = [e.update(index=index, k=k)["digit_error"] for k in range(65)]
        assert all(b <= a + 1e-9 for a, b in zip(errs, errs[1:]))
        assert errs[-1] == pytest.approx(0.0, abs=1e-18 + 1e-9) and errs[0] > errs[10] > 0


def test_try_k0_is_the_mean():
    """"Set `k` to 0: the reconstruction is the mean digit, the same whichever digit you pick.\""""
    e = EigenDigitsExplorer()
    e.render = False
    e.update(k=0, index=3)
    a = e.last["_reconstruction"].copy()
    e.update(index=900)
    np.testing.assert_array_equal(a, e.last["_reconstruction"])
    from course_lib.explorers.dimred import digits_raw
    np.testing.assert_allclose(a, digits_raw()[0].mean(0))


def test_cached_data_cannot_be_changed_by_a_caller():
    from course_lib.explorers.dimred import digits_raw, swiss_roll

    X, y = digits_raw()
    with pytest.raises(ValueError, match="read-only"):
        X[0, 0] = 99.0
    with pytest.raises(ValueError, match="read-only"):
        swiss_roll()[0][0, 0] = 1.0
    assert (X / 16).max() == 1.0 and digits_raw()[0][0, 0] == 0.0


def test_eigendigits_state_on_other_data_and_bad_input():
    X = np.random.default_rng(0).standard_normal((30, 5))
    s = eigendigits_state(2, 5, X=X)
    assert s["digit_error"] == pytest.approx(0.0, abs=1e-20 + 1e-12) and s["kept"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="k must"):
        eigendigits_state(0, 6, X=X)
    with pytest.raises(ValueError, match="index"):
        eigendigits_state(30, 2, X=X)


# ---- t-SNE -------------------------------------------------------------------------------------

def test_try_perplexity_widens_the_bandwidths():
    """"Raise `perplexity` from 5 to 50: the median bandwidth σ grows (each point listens to more neighbours),
    while 5-NN accuracy in the map stays above 0.95.\""""
    e = TSNEExplorer()
    e.render = False
    runs = [e.update(perplexity=p) for p in PERPLEXITIES]
    sig = [r["median_sigma"] for r in runs]
    assert sig == sorted(sig) and sig[-1] > 1.5 * sig[0]
    assert all(r["knn_accuracy"] > 0.95 for r in runs)


def test_try_unsquared_kernel():
    """"Switch `kernel` to the notes' unsquared form: at every perplexity the final KL is at least three times
    as large, and at perplexity 30 the 5-NN accuracy drops by more than 0.05.\""""
    for p in PERPLEXITIES:
        a, b = tsne_state(p), tsne_state(p, squared=False)
        assert b["kl"] > 3 * a["kl"]
    assert tsne_state(30, squared=False)["knn_accuracy"] < tsne_state(30)["knn_accuracy"] - 0.05


def test_try_exaggeration_off():
    """"Turn `early exaggeration` off: on 300 points started from PCA the map's 5-NN accuracy moves by less than
    0.03; exaggeration matters for large data sets and random starts.\""""
    for p in PERPLEXITIES:
        on, off = tsne_state(p), tsne_state(p, exaggeration=False)
        assert abs(on["knn_accuracy"] - off["knn_accuracy"]) < 0.03
        assert not np.array_equal(on["_Y"], off["_Y"])


# ---- kernels -----------------------------------------------------------------------------------

def test_try_s_01():
    """"At s = 0.1 the Gaussian needs distance 2.146, the Student-t 3.0.\""""
    e = KernelExplorer()
    r = e.update(s=0.1)
    assert r["d_gaussian"] == pytest.approx(2.146, abs=5e-4) and r["d_student"] == pytest.approx(3.0)


def test_try_lower_s():
    """"Lower s to 0.01: the Student-t distance is now 3.28 times the Gaussian one (1.40 at s = 0.1): dissimilar
    points are pushed much further apart in the map.\""""
    assert kernel_state(0.1)["ratio"] == pytest.approx(1.40, abs=5e-3)
    assert kernel_state(0.01)["ratio"] == pytest.approx(3.28, abs=5e-3)
    ratios = [kernel_state(s)["ratio"] for s in np.linspace(0.01, 0.5, 30)]
    assert ratios == sorted(ratios, reverse=True)


def test_try_high_s():
    """"Raise s to 0.9: now the Student-t distance is the smaller one (0.333 against 0.459): close neighbours are
    drawn closer.\""""
    r = kernel_state(0.9)
    assert r["d_student"] == pytest.approx(0.333, abs=5e-4) and r["d_gaussian"] == pytest.approx(0.459, abs=5e-4)


# ---- neighbourhoods ----------------------------------------------------------------------------

def test_try_k6():
    """"With k = 6 the graph is one piece and the first coordinate follows the roll: |Spearman| 0.974.\""""
    e = NeighbourhoodExplorer()
    r = e.update(k=6)
    assert r["components"] == 1 and round(r["spearman"], 3) == 0.974


def test_try_k10_short_circuits():
    """"Raise k to 8 and 10: red edges short-circuit the layers and |Spearman| drops to 0.772 and 0.542.\""""
    a, b, c = (neighbourhood_state(k) for k in (6, 8, 10))
    assert (round(b["spearman"], 3), round(c["spearman"], 3)) == (0.772, 0.542)
    assert a["shortcuts"] < b["shortcuts"] < c["shortcuts"]


def test_try_k3_falls_apart():
    """"Lower k to 3: the graph falls into 4 pieces and the coordinate is constant on each piece: it no longer says
    where a point lies along the roll.\""""
    from scipy.sparse.csgraph import connected_components

    r = neighbourhood_state(3)
    n, piece = connected_components(r["_W"], directed=False)
    assert r["components"] == n == 4
    assert max(np.ptp(r["_z"][piece == c]) for c in range(n)) < 1e-8
    assert neighbourhood_state(6)["components"] == 1 and np.unique(neighbourhood_state(6)["_z"].round(8)).size > 300
