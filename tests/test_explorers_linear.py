"""Unit 01's explorers (course_lib.explorers.linear), headless: their plain compute functions, every
"things to try" suggestion of lecture 01 as written, and the figure drawn before any control moves.

Each suggestion test quotes the suggestion it checks; the lecture's text and these tests change together.
"""
from __future__ import annotations

import base64
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from course_lib.data import make_blobs
from course_lib.explorers import linear as L
from course_lib.explorers.linear import (
    KNNExplorer,
    LinearClassifierExplorer,
    explorer_blobs,
    knn_dataset,
    knn_state,
    linear_classifier_state,
)

PNG = b"\x89PNG\r\n\x1a\n"
START_W, START_B = L._START_W, L._START_B


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def state(**kw):
    X, y = explorer_blobs()
    W = kw.pop("W", START_W)
    b = kw.pop("b", START_B)
    return linear_classifier_state(X, y, W, b, **kw)


# ---- the losses behind the linear explorer --------------------------------------------------

def test_linear_losses_gradients():
    from course_lib.grading import numeric_gradient
    X, y = make_blobs(10, 3, seed=1)
    rng = np.random.default_rng(2)
    Wm, b = rng.standard_normal((3, 2)), rng.standard_normal(3)
    for fn in (L.linear_softmax_loss, L.linear_svm_loss):
        _, dW, db = fn(Wm, b, X, y, 0.3)
        num_dW = numeric_gradient(lambda w, fn=fn: fn(w, b, X, y, 0.3)[0], Wm.copy())
        num_db = numeric_gradient(lambda v, fn=fn: fn(Wm, v, X, y, 0.3)[0], b.copy())
        np.testing.assert_allclose(dW, num_dW, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(db, num_db, rtol=1e-5, atol=1e-7)


def test_linear_losses_match_torch():
    X, y = make_blobs(12, 3, seed=3)
    rng = np.random.default_rng(4)
    Wm, b = rng.standard_normal((3, 2)), rng.standard_normal(3)
    scores = torch.tensor(X @ Wm.T + b)
    l2 = 0.3 * np.sum(Wm ** 2)          # the bias is not penalised in the explorer
    ce = torch.nn.functional.cross_entropy(scores, torch.tensor(y)).item()
    hinge = torch.nn.functional.multi_margin_loss(scores, torch.tensor(y), margin=1.0).item() * 3
    assert L.linear_softmax_loss(Wm, b, X, y, 0.3)[0] == pytest.approx(ce + l2, rel=1e-12)
    assert L.linear_svm_loss(Wm, b, X, y, 0.3)[0] == pytest.approx(hinge + l2, rel=1e-12)


def test_gradient_descent_curve_and_divergence():
    X, y = explorer_blobs()
    W, b, curve = L.gradient_descent("softmax", START_W, START_B, X, y, reg=0.0, lr=0.1, steps=30)
    assert len(curve) == 31 and np.all(np.diff(curve) < 0)
    assert curve[-1] == pytest.approx(L.linear_softmax_loss(W, b, X, y, 0.0)[0])
    # a learning rate far past 2 / curvature: the loss overflows, the curve ends with inf
    _, _, curve = L.gradient_descent("softmax", START_W, START_B, X, y, reg=0.3, lr=10.0, steps=200)
    assert np.isinf(curve[-1]) and len(curve) < 201


def test_state_numbers_are_consistent():
    s = state(reg=0.2, steps=0, scale=1.5)
    assert s["loss"] == pytest.approx(s["data_loss"] + s["reg_loss"])
    assert s["reg_loss"] == pytest.approx(0.2 * np.sum((1.5 * START_W) ** 2))
    assert s["trained_loss"] == pytest.approx(s["loss"]) and s["rises"] == 0
    X, y = explorer_blobs()
    assert s["accuracy"] == pytest.approx(np.mean(np.argmax(X @ (1.5 * START_W).T, 1) == y))
    with pytest.raises(ValueError, match="loss must be"):
        state(loss="hinge")


def test_explorer_data_is_separable_and_start_is_poor():
    s = state(loss="svm", reg=0.0, lr=1.0, steps=200)
    assert s["trained_accuracy"] == 1.0 and s["trained_data_loss"] == 0.0
    assert state()["accuracy"] < 0.4          # "deliberately poor random weights" to start from


# ---- lecture 01, linear explorer: "things to try", each as written -------------------------

def test_try_all_zero_gives_log3_and_2():
    """"Set every row's w1, w2 and b to 0: every point gets three equal scores, the loss is
    log 3 = 1.099 with softmax and exactly 2 with the SVM loss.\""""
    zero_W, zero_b = np.zeros((3, 2)), np.zeros(3)
    assert state(W=zero_W, b=zero_b)["loss"] == pytest.approx(math.log(3), abs=1e-12)
    assert round(math.log(3), 3) == 1.099
    assert state(W=zero_W, b=zero_b, loss="svm")["loss"] == 2.0


def test_try_scale_keeps_regions_changes_loss():
    """"Move scale from 1 to 2: the left picture does not change (same regions, same accuracy), but
    the softmax loss does, and with reg > 0 the penalty is 4 times larger.\""""
    one, two = state(scale=1.0, reg=0.1), state(scale=2.0, reg=0.1)
    np.testing.assert_array_equal(one["_pred"], two["_pred"])
    assert one["accuracy"] == two["accuracy"]
    assert abs(one["data_loss"] - two["data_loss"]) > 0.5
    assert two["reg_loss"] == pytest.approx(4 * one["reg_loss"])
    # the regions themselves: the same labels on a grid of the plane
    g = np.stack(np.meshgrid(np.linspace(-4, 4, 50), np.linspace(-4, 4, 50)), -1).reshape(-1, 2)
    np.testing.assert_array_equal(np.argmax(g @ one["_W"].T + one["_b"], 1), np.argmax(g @ two["_W"].T + two["_b"], 1))


def test_try_learning_rates():
    """"With softmax and reg = 0.1, raise lr: up to lr = 3 the loss falls at every step; at lr = 5 it
    zig-zags (it goes up at about half of the 50 steps); at lr = 10 it blows up. Then lower lr to
    0.01: after 50 steps the loss has barely moved (still above 1.1, from 2.2).\""""
    for lr in (0.1, 0.3, 1.0, 3.0):
        s = state(reg=0.1, lr=lr, steps=50)
        assert s["rises"] == 0 and s["trained_loss"] < 0.5, lr
    s5 = state(reg=0.1, lr=5.0, steps=50)
    assert 20 <= s5["rises"] <= 30
    s10 = state(reg=0.1, lr=10.0, steps=50)
    assert s10["trained_loss"] > 1000 * s10["loss"]
    slow = state(reg=0.1, lr=0.01, steps=50)
    assert slow["trained_loss"] > 1.1 and round(slow["loss"], 1) == 2.2


def test_try_svm_reaches_zero_softmax_does_not():
    """"Switch to the SVM loss with reg = 0, lr = 1 and 50 steps: after training the data loss is
    exactly 0, every point beyond the margin. The softmax loss gets small but never 0.\""""
    svm = state(loss="svm", reg=0.0, lr=1.0, steps=50)
    assert svm["trained_data_loss"] == 0.0
    soft = state(loss="softmax", reg=0.0, lr=1.0, steps=50)
    assert 0 < soft["trained_data_loss"] < 0.05


def test_try_regularisation_shortens_the_arrows():
    """"Raise reg from 0 to 0.3 (softmax, lr = 0.3, 50 steps): the trained arrows get shorter and the
    loss stays above 0.5.\""""
    free, held = state(reg=0.0, lr=0.3, steps=50), state(reg=0.3, lr=0.3, steps=50)
    assert held["trained_weight_norm"] < 0.6 * free["trained_weight_norm"]
    assert held["trained_loss"] > 0.5 > free["trained_loss"]


# ---- the linear explorer's widget ----------------------------------------------------------

def test_linear_explorer_draws_before_any_control_moves():
    ex = LinearClassifierExplorer(resolution=30)
    assert ex.png.startswith(PNG)
    assert len(ex.fig.axes) == 3                      # hand-set, trained, loss curve
    bundle = ex._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert base64.b64decode(bundle["image/png"]) == ex.png   # a static copy for renderers without widgets
    assert ex.controls["steps"].value > 0             # the trained panel and the curve show something


def test_linear_explorer_update_and_controls():
    ex = LinearClassifierExplorer(resolution=30)
    base = ex.update(reg=0.0, steps=0)
    png0 = ex.png
    more_reg = ex.update(reg=1.0)
    assert more_reg["loss"] > base["loss"] and more_reg["data_loss"] == pytest.approx(base["data_loss"])
    assert ex.png != png0
    ex.render = False
    ex.update(row=0, w1=2.5, w2=0.0, b=0.0)
    assert ex.W[0].tolist() == [2.5, 0.0]
    ex.update(row=1)
    assert ex.controls["w1"].value == pytest.approx(ex.W[1, 0])
    ex.update(w2=-1.25)
    assert ex.W[0].tolist() == [2.5, 0.0] and ex.W[1, 1] == -1.25
    # the explorer's numbers are those of the plain function
    W, b = ex.params()
    expected = linear_classifier_state(ex.X, ex.y, W, b, scale=1.0, loss="softmax", reg=1.0, lr=0.1, steps=0)
    assert ex.update(steps=0) == {k: v for k, v in expected.items() if not k.startswith("_")}
    with pytest.raises(ValueError, match="unknown control"):
        ex.update(alpha=1)


def test_linear_explorer_ui_change_triggers_update_and_diverged_drawing():
    ex = LinearClassifierExplorer(resolution=20)
    before = ex.last["loss"]
    ex.controls["reg"].value = 0.5                  # as if the student moved the slider
    assert ex.last["loss"] > before
    ex.update(reg=0.3, lr=10.0, steps=200)           # diverges: still draws, and says so
    assert ex.last["diverged"] and ex.png.startswith(PNG)
    assert any("diverged" in t.get_text() for ax in ex.fig.axes for t in ax.texts)
    ex.update(steps=0)
    curve_ax = ex.fig.axes[2]
    assert any("GD steps" in t.get_text() for t in curve_ax.texts)


def test_linear_explorer_rejects_bad_shapes():
    with pytest.raises(ValueError, match="W0 of shape"):
        LinearClassifierExplorer(W0=np.zeros((2, 2)))


# ---- kNN explorer ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def knn():
    d = knn_dataset()
    return {(k, m): knn_state(*d, k=k, metric=m) for k in (1, 15, 120) for m in ("l1", "l2")}


def test_knn_state_matches_sklearn():
    from sklearn.neighbors import KNeighborsClassifier
    Xtr, ytr, Xva, yva = knn_dataset()
    for k in (1, 7):
        s = knn_state(Xtr, ytr, Xva, yva, k=k, resolution=10)
        ref = KNeighborsClassifier(n_neighbors=k).fit(Xtr, ytr)
        assert s["val_accuracy"] == pytest.approx(ref.score(Xva, yva))
    d = knn_dataset()
    assert [len(a) for a in d] == [120, 120, 120, 120] and set(np.unique(d[1])) == {0, 1, 2}


def test_try_knn_k1_fits_training_set(knn):
    """"k = 1: training accuracy is exactly 1.00 (each training point is its own nearest
    neighbour), but validation accuracy is only 0.825; look at the islands around stray points.\""""
    s = knn[(1, "l2")]
    assert s["train_accuracy"] == 1.0 and s["val_accuracy"] == pytest.approx(0.825)


def test_try_knn_larger_k_smooths(knn):
    """"Raise k to 15: the boundary smooths (its length on the grid halves), training accuracy drops
    below 1 and validation accuracy rises to 0.90.\""""
    one, fifteen = knn[(1, "l2")], knn[(15, "l2")]
    assert fifteen["boundary"] < 0.6 * one["boundary"]
    assert fifteen["train_accuracy"] < 1.0 and round(fifteen["val_accuracy"], 2) == 0.90


def test_try_knn_k_all_is_one_region(knn):
    """"Push k to 120, every training point: one region, every point gets the most common training
    class, and validation accuracy collapses to 0.29.\""""
    s = knn[(120, "l2")]
    Xtr, ytr, _, yva = knn_dataset()
    assert s["regions"] == 1 and round(s["val_accuracy"], 2) == 0.29
    assert s["val_accuracy"] == pytest.approx(np.mean(yva == np.argmax(np.bincount(ytr))))


def test_try_knn_l1_bends_the_boundary(knn):
    """"At k = 1 switch from L2 to L1: about 4 % of the plane changes label.\""""
    changed = np.mean(knn[(1, "l1")]["_labels"] != knn[(1, "l2")]["_labels"])
    assert round(changed, 2) == 0.04


def test_knn_explorer_draws_before_any_control_moves():
    ex = KNNExplorer(resolution=30)
    assert ex.png.startswith(PNG) and len(ex.fig.axes) == 1
    assert base64.b64decode(ex._repr_mimebundle_()["image/png"]) == ex.png
    png1 = ex.png
    out = ex.update(k=15)
    assert ex.png != png1 and set(out) == {"train_accuracy", "val_accuracy", "boundary", "regions"}
    ex.controls["metric"].value = "l1"               # as if the student picked L1
    assert ex.last["val_accuracy"] == knn_state(*knn_dataset(), k=15, metric="l1", resolution=30)["val_accuracy"]
