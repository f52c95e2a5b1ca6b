"""Unit 02's explorers (course_lib.explorers.backprop and course_lib.explorers.optim), headless: their plain
compute functions, every "things to try" suggestion of lecture 02 as written, and the figure drawn before any
control moves.

Each suggestion test quotes the suggestion it checks; the lecture's text and these tests change together
(test_lecture_quotes_the_suggestions checks that the quotes are in the lecture).
"""
from __future__ import annotations

import base64
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from course_lib.explorers.backprop import NONLINEARITIES, ActivationExplorer, activation_statistics
from course_lib.explorers.optim import OPTIMIZERS, OptimizerPathExplorer, optimizer_run

PNG = b"\x89PNG\r\n\x1a\n"
LECTURE = Path(__file__).resolve().parents[1] / "notebooks" / "lectures" / "02_backprop.ipynb"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def act(**kw):
    base = dict(depth=8, nonlinearity="tanh", init="std", std=0.01, bias=0.0)
    base.update(kw)
    return activation_statistics(**base)


def opt(**kw):
    base = dict(surface="bowl", optimizer="sgd", lr=0.038, momentum=0.9, steps=40, w0=(-4.0, 1.5))
    base.update(kw)
    return optimizer_run(**base)


# ---- the compute functions ------------------------------------------------------------------

def test_nonlinearity_derivatives_match_torch():
    """f' of every nonlinearity (used in the backward pass) is autograd's derivative of f."""
    z = np.linspace(-4, 4, 41) + 0.013
    for name, (f, df) in NONLINEARITIES.items():
        t = torch.tensor(z, requires_grad=True)
        ref = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu,
               "leaky_relu": torch.nn.functional.leaky_relu, "gelu": torch.nn.functional.gelu,
               "linear": lambda x: x}[name](t)
        ref.sum().backward()
        np.testing.assert_allclose(f(z), ref.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(df(z), t.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def test_activation_statistics_backward_is_the_chain_rule():
    """The gradients sent back equal PyTorch's for the same network (the same seed draws the same weights)."""
    depth, width, n = 3, 16, 7
    r = activation_statistics(depth, "gelu", "he", width=width, n=n, seed=5, bias=0.3)
    rng = np.random.default_rng(5)
    h = torch.tensor(rng.standard_normal((n, width)), requires_grad=True)
    ws = [torch.tensor(rng.standard_normal((width, width)) * np.sqrt(2 / width)) for _ in range(depth)]
    g_last = torch.tensor(rng.standard_normal((n, width)))
    hs, x = [], h
    for w in ws:
        x = torch.nn.functional.gelu(x @ w + 0.3)
        x.retain_grad()
        hs.append(x)
    (x * g_last).sum().backward()
    for layer in range(depth):
        np.testing.assert_allclose(r["_acts"][layer], hs[layer].detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(r["_grads"][layer], hs[layer].grad.numpy(), rtol=1e-9, atol=1e-12)


def test_activation_statistics_errors_and_determinism():
    with pytest.raises(ValueError, match="nonlinearity"):
        activation_statistics(3, "swish", "he")
    with pytest.raises(ValueError, match="init"):
        activation_statistics(3, "relu", "kaiming")
    with pytest.raises(ValueError, match="depth"):
        activation_statistics(0, "relu", "he")
    a, b = act(), act()
    assert a["act_std"] == b["act_std"] and a["grad_std"] == b["grad_std"]


def test_optimizer_run_uses_course_lib_optim():
    from course_lib import optim
    r = opt(optimizer="adam", lr=0.3, steps=3)
    w, state = np.array([-4.0, 1.5]), None
    for _ in range(3):
        w, state = optim.adam_step(w, np.array([2 * w[0], 50 * w[1]]), state, lr=0.3, beta1=0.9)
    np.testing.assert_allclose(r["_path"][-1], w, rtol=1e-14)
    assert r["steps_taken"] == 3 and len(r["_losses"]) == 4
    with pytest.raises(ValueError, match="optimiser"):
        opt(optimizer="lbfgs")
    with pytest.raises(ValueError, match="surface"):
        opt(surface="cliff")
    for name in OPTIMIZERS:                    # every optimiser makes progress somewhere sensible
        assert opt(optimizer=name, lr=0.01 if name in ("sgd", "momentum", "nesterov") else 0.05,
                   steps=100)["final_loss"] < 72.25, name


# ---- "things to try" of the activation explorer (lecture 02, section 6) -----------------------

def test_try_default_tanh_small_std_vanishes():
    """The default (tanh, std 0.01): the activations collapse to 0 (layer-8 std below 1e-5) and the gradient
    shrinks on its way back (layer-1 gradient std below 1e-4)."""
    r = act()
    assert r["last_std"] < 1e-5 and r["first_grad_std"] < 1e-4 and r["last_grad_std"] > 0.5


def test_try_tanh_std_one_saturates_and_gradients_grow():
    """std 1: over 80 % of the units sit at +-1 (saturated), yet the gradient grows on its way back
    (layer 1 over 100x layer 8): the few unsaturated units pass it through weights that are too large."""
    r = act(std=1.0)
    assert min(r["saturated_frac"]) > 0.8
    assert r["first_grad_std"] > 100 * r["last_grad_std"]


def test_try_tanh_xavier_is_healthy():
    """init xavier: the layer-8 std stays between 0.2 and 0.5 and the gradient std changes less than 3x
    across the layers."""
    r = act(init="xavier")
    assert 0.2 < r["last_std"] < 0.5
    assert max(r["grad_std"]) / min(r["grad_std"]) < 3


def test_try_relu_xavier_halves_second_moment_he_keeps_it():
    """relu with xavier: E[h^2] halves at every layer (the RMS falls by about 1/sqrt(2) per layer); with he
    it stays near 1."""
    x = act(nonlinearity="relu", init="xavier")
    rms = np.array(x["act_rms"])
    ratios = rms[1:] / rms[:-1]
    assert np.all((0.6 < ratios) & (ratios < 0.85)) and abs(np.mean(ratios ** 2) - 0.5) < 0.1
    he = act(nonlinearity="relu", init="he")
    assert all(0.8 < v < 1.4 for v in he["act_rms"])


def test_try_dying_relu_with_negative_bias():
    """relu, he, bias -1: from layer 4 on every unit is dead (0 for all inputs) and the gradient reaching
    layers 1-7 is exactly 0; leaky_relu with the same bias has no dead unit."""
    r = act(nonlinearity="relu", init="he", bias=-1.0)
    assert all(d == 1.0 for d in r["dead_frac"][3:])
    assert all(s == 0.0 for s in r["grad_std"][:7])
    leaky = act(nonlinearity="leaky_relu", init="he", bias=-1.0)
    assert max(leaky["dead_frac"]) == 0.0 and leaky["first_grad_std"] > 0


def test_try_sigmoid_not_centred_and_gradient_shrinks():
    """sigmoid with xavier: every layer's mean is about 0.5 (not zero-centred) and the gradient shrinks by
    about 4x per layer (sigmoid' is at most 1/4)."""
    r = act(nonlinearity="sigmoid", init="xavier")
    assert all(abs(m - 0.5) < 0.05 for m in r["act_mean"])
    g = np.array(r["grad_std"])
    assert np.all((3 < g[1:] / g[:-1]) & (g[1:] / g[:-1] < 6))


def test_try_gelu_like_relu_without_zeros():
    """gelu with he: the std stays between 0.6 and 1 like relu's, without exact zeros."""
    r = act(nonlinearity="gelu", init="he")
    assert all(0.6 < s < 1.0 for s in r["act_std"]) and max(r["zero_frac"]) == 0.0


# ---- "things to try" of the optimiser explorer (lecture 02, section 9) -----------------------

def test_try_default_sgd_zigzags_and_crawls():
    """The default (sgd, lr 0.038): w2 changes sign at every one of the 40 steps (the zig-zag across the valley)
    while w1 has only reached about -0.17."""
    r = opt()
    assert r["w2_sign_changes"] == 40 and -0.2 < r["final_w1"] < -0.1


def test_try_lr_above_two_over_fifty_diverges():
    """lr 0.041, just above 2/50: the zig-zag grows and the loss after 40 steps is above where it started."""
    r = opt(lr=0.041)
    assert r["diverged"] and r["final_loss"] > r["initial_loss"]
    assert not opt(lr=0.039)["diverged"]


def test_try_small_lr_no_zigzag_but_crawls():
    """lr 0.01: no zig-zag (w2 never changes sign), but the loss after 40 steps is still above 3."""
    r = opt(lr=0.01)
    assert r["w2_sign_changes"] == 0 and r["final_loss"] > 3


def test_try_momentum_half_damps_the_zigzag():
    """momentum with momentum 0.5 at lr 0.038: the zig-zag is damped: the largest |w2| over the last 10 steps is
    below 1e-4, against about 0.057 for sgd (grey), and the loss ends 1000x lower."""
    m, s = opt(optimizer="momentum", momentum=0.5), opt()
    assert m["max_abs_w2_last10"] < 1e-4 and 0.05 < s["max_abs_w2_last10"] < 0.065
    assert m["final_loss"] < s["final_loss"] / 1000


def test_try_heavy_momentum_oscillates_itself():
    """momentum 0.9 at lr 0.01: momentum itself overshoots (w2 changes sign 10 times where sgd never does) and
    still ends far lower than sgd (loss about 0.05 against 3.2)."""
    m, s = opt(optimizer="momentum", momentum=0.9, lr=0.01), opt(lr=0.01)
    assert m["w2_sign_changes"] == 10 and s["w2_sign_changes"] == 0
    assert m["final_loss"] < 0.06 and s["final_loss"] > 3


def test_try_momentum_stable_beyond_sgd_limit():
    """lr 0.05 with momentum 0.5: sgd diverges, momentum converges (the heavy ball is stable up to
    lr x 50 < 2 (1 + momentum))."""
    ex = OptimizerPathExplorer()
    ex.render = False
    r = ex.update(optimizer="momentum", momentum=0.5, lr=0.05)
    assert not r["diverged"] and r["final_loss"] < 1e-6 and r["sgd_final_loss"] > r["initial_loss"]


def test_try_saddle_ridge():
    """saddle, sgd, lr 0.05, start (2, 0): the path stays on the ridge and stops at the saddle point;
    start w2 at 0.05 and it escapes."""
    on = opt(surface="saddle", lr=0.05, steps=100, w0=(2.0, 0.0))
    off = opt(surface="saddle", lr=0.05, steps=100, w0=(2.0, 0.05))
    assert on["final_w2"] == 0.0 and abs(on["final_w1"]) < 1e-3
    assert abs(off["final_w2"]) > 1.0


# ---- the widgets ------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [ActivationExplorer, OptimizerPathExplorer])
def test_explorer_draws_before_any_control_moves(cls):
    ex = cls()
    assert ex.png.startswith(PNG)
    bundle = ex._repr_mimebundle_()
    assert base64.b64decode(bundle["image/png"]).startswith(PNG)      # a static copy for exported notebooks
    first = ex.png
    ex.update(**({"nonlinearity": "relu"} if cls is ActivationExplorer else {"optimizer": "momentum"}))
    assert ex.png != first
    with pytest.raises(ValueError, match="unknown control"):
        ex.update(colour="red")


def test_explorer_numbers_are_the_functions():
    ex = ActivationExplorer()
    assert ex.last["act_std"] == act()["act_std"]
    ex.render = False
    assert ex.update(nonlinearity="relu", init="he", bias=-1.0)["dead_frac"] == act(
        nonlinearity="relu", init="he", bias=-1.0)["dead_frac"]
    ox = OptimizerPathExplorer()
    assert ox.last["final_loss"] == opt()["final_loss"] and ox.last["sgd_final_loss"] == opt()["final_loss"]


def test_lecture_quotes_the_suggestions():
    """The lecture's "things to try" lists name the settings these tests check."""
    nb = json.loads(LECTURE.read_text(encoding="utf-8"))
    text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    for phrase in ("bias -1", "std 1", "lr 0.041", "momentum 0.5 at lr 0.038", "momentum 0.9 at lr 0.01",
                   "lr 0.05 with momentum 0.5", "sigmoid with xavier", "gelu with he", "saddle"):
        assert phrase in text, phrase


def test_computation_graph_shows_values_and_gradients_on_the_wires():
    """cs231n's (x + y) z at (-2, 5, -4): every wire carries its value (green) and its gradient (red)."""
    from course_lib.autograd import Value
    from course_lib.explorers.backprop import draw_computation_graph
    x, y, z = Value(-2.0, label="x"), Value(5.0, label="y"), Value(-4.0, label="z")
    q = x + y
    q.label = "q"
    f = q * z
    f.backward()
    fig, ax = plt.subplots()
    draw_computation_graph(f, ax)
    green = sorted(t.get_text() for t in ax.texts if t.get_color() == "green")
    red = sorted(t.get_text() for t in ax.texts if t.get_color() == "crimson")
    assert green == sorted(["-2", "5", "-4", "3", "-12"])          # x, y, z, q and the output f
    assert red == sorted(["-4", "-4", "3", "-4", "1"])             # df/dx, df/dy, df/dz, df/dq, df/df
    names = {t.get_text() for t in ax.texts}
    assert {"x", "y", "z", "q", "*"} <= names
