"""course_lib.viz and course_lib.widgets, headless (Agg): numbers and PNG bytes change as they should.

Unit 01's explorers (course_lib.explorers.linear) are tested in tests/test_explorers_linear.py."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from hypothesis import given, settings

from course_lib import viz, widgets
from course_lib.data import load_digits, make_blobs
from tests.strategies import conv_configs

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ---- viz ---------------------------------------------------------------------------------

def test_image_grid_shapes():
    d = load_digits(images=True)
    fig = viz.image_grid(d.X_train[:10], d.y_train[:10], ncols=5)
    assert len([a for a in fig.axes if a.images]) == 10
    assert fig.axes[0].get_title() == str(d.y_train[0])
    fig2 = viz.image_grid(d.X_train[:3].reshape(3, 64), ncols=8)          # flat rows -> 8x8
    assert fig2.axes[0].images[0].get_array().shape == (8, 8)
    fig3 = viz.image_grid(torch.rand(4, 3, 5, 5), labels=[0, 1, 0, 1], class_names=["cat", "dog"])
    assert fig3.axes[1].get_title() == "dog"
    with pytest.raises(ValueError):
        viz.image_grid(np.zeros((2, 10)))


def test_training_curves_both_history_formats():
    solver_hist = {"loss": list(np.linspace(2, 0.5, 50)), "train_acc": [0.5, 0.8], "val_acc": [0.4, 0.7], "lr": []}
    fig = viz.training_curves(solver_hist)
    ax_loss, ax_acc = fig.axes
    assert len(ax_loss.lines) == 1 and len(ax_acc.lines) == 2
    fit_hist = {"train_loss": [1, 0.5], "val_loss": [1.1, 0.7], "train_acc": [float("nan")] * 2,
                "val_acc": [float("nan")] * 2}
    fig = viz.training_curves(fit_hist)
    assert len(fig.axes[0].lines) == 2 and len(fig.axes[1].lines) == 0


def test_decision_regions_scores_and_labels():
    X, y = make_blobs(30, 3, seed=0)
    ax = viz.decision_regions(lambda P: np.stack([P[:, 0], P[:, 1], -P[:, 0]], 1), X, y, resolution=50)
    assert ax.get_xlim()[0] < X[:, 0].min()
    fig, ax2 = plt.subplots()
    out = viz.decision_regions(lambda P: (P[:, 0] > 0).astype(int), X, y, ax=ax2, resolution=30)
    assert out is ax2 and ax2.collections


def test_attention_heatmap_and_embedding():
    w = torch.softmax(torch.randn(4, 6), -1)
    ax = viz.attention_heatmap(w, list("abcdef"), list("wxyz"))
    assert [t.get_text() for t in ax.get_xticklabels()] == list("abcdef")
    assert len(ax.texts) == 24
    with pytest.raises(ValueError):
        viz.attention_heatmap(np.zeros(3))
    Z = np.random.default_rng(0).standard_normal((40, 5))
    ax = viz.embedding_2d(Z, np.arange(40) % 3, class_names=["a", "b", "c"])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b", "c"]
    offsets = np.concatenate([c.get_offsets() for c in ax.collections])
    assert offsets.shape == (40, 2)


def test_figure_to_png_deterministic():
    fig, ax = viz.new_figure(pyplot=False)
    ax.plot([0, 1], [1, 0])
    a, b = viz.figure_to_png(fig), viz.figure_to_png(fig)
    assert a.startswith(PNG) and a == b


# ---- widgets --------------------------------------------------------------------------------

def test_optimizer_explorer():
    ex = widgets.OptimizerExplorer()
    r = ex.update(surface="bowl", optimizer="sgd", lr=0.01, steps=50, w1_0=-4.0, w2_0=1.5)
    assert r["final_loss"] < r["initial_loss"] and r["diverged"] == 0.0
    mom = ex.update(optimizer="momentum", momentum=0.9)
    assert mom["final_loss"] < r["final_loss"]             # momentum is faster on the long valley
    png = ex.png
    # plain GD on 25 w2^2 is stable only for lr < 2 / 50
    div = ex.update(optimizer="sgd", lr=0.045, steps=300)
    assert div["diverged"] == 1.0 and ex.png != png
    assert ex.update(lr=0.035, steps=300)["diverged"] == 0.0
    ex.render = False                       # numbers only from here
    for name, lr in (("nesterov", 0.01), ("adagrad", 0.5), ("rmsprop", 0.05), ("adam", 0.1)):
        out = ex.update(optimizer=name, lr=lr, steps=100)
        assert out["final_loss"] < out["initial_loss"], name
    # the saddle: starting exactly on the ridge stays there; a tiny offset escapes
    on = ex.update(surface="saddle", optimizer="sgd", lr=0.05, steps=100, w1_0=2.0, w2_0=0.0)
    assert on["final_w2"] == 0.0 and abs(on["final_w1"]) < 1e-3
    off = ex.update(w2_0=0.05)
    assert abs(off["final_w2"]) > 1.0
    path = widgets.OptimizerExplorer.trajectory("bowl", "sgd", 0.01, 0.0, 5, (1.0, 1.0))
    assert path.shape == (6, 2) and path[1, 0] == pytest.approx(1 - 0.02)


def test_activation_histogram_explorer():
    ex = widgets.ActivationHistogramExplorer(width=128, n=200)
    small = ex.update(depth=6, nonlinearity="tanh", init="std", std=0.01)
    assert len(small["stds"]) == 6 and small["last_std"] < 1e-4            # vanishing activations
    xav = ex.update(init="xavier")
    assert 0.05 < xav["last_std"] < 1.0
    ex.render = False
    big = ex.update(init="std", std=1.0)
    assert big["saturated"] > 0.5                                         # tanh saturates
    he = ex.update(nonlinearity="relu", init="he", depth=10)
    assert 0.3 < he["last_std"] < 3.0 and len(ex.last["_acts"]) == 10
    assert ex.png.startswith(PNG)
    png = ex.png
    ex.render = True
    ex.update(depth=4)
    assert ex.png != png
    a1 = ex.update(depth=3)
    a2 = ex.update(depth=3)
    assert a1 == a2                                                       # same seed every time


def test_conv_kernel_explorer_sizes_and_presets():
    img = np.random.default_rng(0).random((20, 17))
    ex = widgets.ConvKernelExplorer(img)
    ex.render = False
    for S in (1, 2, 3):
        for P in (0, 1, 2):
            r = ex.update(stride=S, padding=P)
            assert (r["out_h"], r["out_w"]) == ((20 - 3 + 2 * P) // S + 1, (17 - 3 + 2 * P) // S + 1)
    ex.render = True
    ident = ex.update(preset="identity", stride=1, padding=1)
    assert ident["mean"] == pytest.approx(img.mean()) and ex.kernel()[1, 1] == 1
    png = ex.png
    blur = ex.update(preset="blur")
    assert blur["std"] < ident["std"] and ex.png != png
    edge = ex.update(preset="edge", padding=0)
    assert abs(edge["mean"]) < 0.05                                       # edge kernels sum to zero
    ex.update(k11=9.0)
    assert ex.controls["preset"].value == "custom" and ex.kernel()[1, 1] == 9.0


def test_conv2d_single_matches_torch():
    rng = np.random.default_rng(3)
    x, k = rng.standard_normal((9, 11)), rng.standard_normal((3, 3))
    for S, P in [(1, 0), (2, 1), (3, 2)]:
        ref = torch.nn.functional.conv2d(torch.tensor(x)[None, None], torch.tensor(k)[None, None], stride=S,
                                         padding=P)[0, 0].numpy()
        np.testing.assert_allclose(widgets.conv2d_single(x, k, S, P), ref, rtol=1e-12)


@settings(max_examples=40, deadline=None)
@given(conv_configs())
def test_conv2d_single_property(cfg):
    x, k = cfg["x"][0, 0], cfg["w"][0, 0]
    ref = torch.nn.functional.conv2d(torch.tensor(x)[None, None], torch.tensor(k)[None, None],
                                     stride=cfg["stride"], padding=cfg["pad"])[0, 0].numpy()
    np.testing.assert_allclose(widgets.conv2d_single(x, k, cfg["stride"], cfg["pad"]), ref, rtol=1e-10, atol=1e-12)


def test_default_conv_explorer_uses_sample_image():
    ex = widgets.ConvKernelExplorer()
    assert 40 <= ex.last["in_h"] <= 140 and ex.png.startswith(PNG)
