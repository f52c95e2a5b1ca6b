"""Unit 03's explorer and input-gradient pictures (course_lib.explorers.cnn), headless.

Each "things to try" suggestion of lecture 03's sliding-window explorer is checked here as
written (the test quotes it); the lecture's text and these tests change together.
"""
from __future__ import annotations

import base64

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from course_lib.explorers.cnn import (
    RULES,
    SlidingWindowExplorer,
    input_gradient,
    relu_backward_rule,
    sliding_window_state,
    window_input,
)
from course_lib.widgets import KERNELS

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _torch_conv(x, k, stride, pad):
    t = F.conv2d(torch.from_numpy(x)[None, None], torch.from_numpy(k)[None, None], stride=stride, padding=pad)
    return t[0, 0].numpy()


# ---- the plain compute function -----------------------------------------------------------------

@pytest.mark.parametrize("size,stride,pad", [(7, 1, 0), (7, 2, 0), (6, 2, 0), (6, 2, 1), (9, 3, 2), (4, 1, 2)])
def test_state_matches_pytorch_at_every_position(size, stride, pad):
    x = np.random.default_rng(size + stride + pad).standard_normal((size, size))
    k = KERNELS["sobel_x"]
    ref = _torch_conv(x, k, stride, pad)
    first = sliding_window_state(x, k, stride=stride, pad=pad)
    assert (first["out_h"], first["out_w"]) == ref.shape and first["positions"] == ref.size
    np.testing.assert_allclose(first["_out"], ref, atol=1e-12)
    for p in range(ref.size):
        s = sliding_window_state(x, k, stride=stride, pad=pad, position=p)
        assert (s["row"], s["col"]) == divmod(p, ref.shape[1])
        assert (s["top"], s["left"]) == (s["row"] * stride, s["col"] * stride)
        assert s["value"] == pytest.approx(ref[s["row"], s["col"]], abs=1e-12)
        filled = s["_filled"].ravel()
        assert not np.isnan(filled[:p + 1]).any() and np.isnan(filled[p + 1:]).all()


def test_state_clips_position_and_rejects_bad_input():
    s = sliding_window_state(window_input(), KERNELS["blur"], position=10_000)
    assert s["position"] == s["positions"] - 1 == 24
    with pytest.raises(ValueError, match="stride"):
        sliding_window_state(window_input(), KERNELS["blur"], stride=0)
    with pytest.raises(ValueError, match="2-D"):
        sliding_window_state(np.zeros((1, 5, 5)), KERNELS["blur"])
    with pytest.raises(ValueError, match="does not fit"):
        sliding_window_state(np.zeros((2, 2)), KERNELS["blur"])
    with pytest.raises(ValueError, match="size"):
        window_input(2)


# ---- the explorer ---------------------------------------------------------------------------------

def test_explorer_draws_before_any_control_moves_and_has_a_static_png():
    e = SlidingWindowExplorer()
    assert e.png.startswith(PNG) and len(e.png) > 2000
    bundle = e._repr_mimebundle_()
    assert base64.b64decode(bundle["image/png"]).startswith(PNG)
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_explorer_position_range_follows_the_output_size():
    e = SlidingWindowExplorer()
    e.render = False
    assert e.controls["position"].max == 24                 # 7x7 input, 3x3 kernel: 5x5 positions
    e.update(position=20)
    r = e.update(size=6, stride=2)
    assert e.controls["position"].max == r["positions"] - 1 == 3 and r["position"] == 3
    with pytest.raises(ValueError, match="unknown control"):
        e.update(dilation=2)


def test_try_slide_to_the_end():
    """"Slide `position` from 0 to the end: the red window moves `stride` cells at a time, and there are
    out_h x out_w positions with out = floor((H - 3 + 2P) / S) + 1 per side.\""""
    e = SlidingWindowExplorer()
    e.render = False
    for size, stride, pad in ((7, 1, 0), (7, 2, 1), (9, 3, 0), (8, 2, 2)):
        r = e.update(size=size, stride=stride, padding=pad, position=0)
        side = (size - 3 + 2 * pad) // stride + 1
        assert r["positions"] == side * side == e.controls["position"].max + 1
        corners = []
        for p in range(r["positions"]):
            q = e.update(position=p)
            corners.append((q["top"], q["left"]))
        assert corners[1] == (0, stride) and corners[-1] == ((side - 1) * stride, (side - 1) * stride)


def test_try_non_dividing_stride_drops_the_last_row_and_column():
    """"Set input size 6, stride 2, padding 0: the output is 2x2 and the last row and column (orange)
    are never read. Size 7 with the same stride reads every cell.\""""
    e = SlidingWindowExplorer()
    e.render = False
    r6 = e.update(size=6, stride=2, padding=0)
    assert (r6["out_h"], r6["out_w"]) == (2, 2) and r6["unused_rows"] == r6["unused_cols"] == 1
    r7 = e.update(size=7)
    assert (r7["out_h"], r7["out_w"]) == (3, 3) and r7["unused_rows"] == r7["unused_cols"] == 0


def test_try_same_padding():
    """"Padding 1 with stride 1 keeps the output the size of the input ('same' padding) whatever the size.\""""
    e = SlidingWindowExplorer()
    e.render = False
    for size in range(4, 10):
        r = e.update(size=size, stride=1, padding=1)
        assert (r["out_h"], r["out_w"]) == (size, size)


def test_try_sobel_on_the_edges_of_the_square():
    """"With `sobel_x`, put the window across the left edge of the square: the output is large and
    positive (4); on the right edge it is -4; on flat regions, inside the square or on the background, 0.\""""
    e = SlidingWindowExplorer()
    e.render = False
    r = e.update(kernel="sobel_x", size=7, stride=1, padding=0, position=0)
    out = e.last["_out"]
    # default input: the square covers rows/columns 1..3 of 7; output cell (i, j) reads rows i..i+2, cols j..j+2
    assert out[1, 0] == 4.0 and out[1, 2] == -4.0          # left edge, right edge, all three rows inside
    assert out.max() == 4.0 and out.min() == -4.0
    assert out[4, 4] == 0.0                                 # background only
    x = window_input(9)                                     # a bigger square has an inside: 3x3 window inside it
    assert sliding_window_state(x, KERNELS["sobel_x"], position=3 * 7 + 3)["value"] == 0.0
    q = e.update(position=1 * 5 + 0)
    assert q["value"] == 4.0 and (q["row"], q["col"]) == (1, 0) and r["out_w"] == 5


def test_try_identity_with_same_padding_copies_the_input():
    """"Choose `identity` with padding 1: the output is the input itself.\""""
    e = SlidingWindowExplorer()
    e.render = False
    e.update(kernel="identity", size=7, stride=1, padding=1)
    np.testing.assert_array_equal(e.last["_out"], window_input(7))


def test_explorer_with_a_fixed_input_ignores_size():
    x = np.arange(25.0).reshape(5, 5)
    e = SlidingWindowExplorer(x)
    e.render = False
    r = e.update(kernel="identity", size=9)
    assert r["out_h"] == 3 and e.last["_out"][0, 0] == x[1, 1]


# ---- input gradients --------------------------------------------------------------------------------

X_EX = np.array([[1, -1, 5], [2, -5, -7], [-3, 2, 4]], dtype=float)
G_EX = np.array([[-2, 3, -1], [6, -3, 1], [2, -1, 3]], dtype=float)
EXPECTED = {"backprop": [[-2, 0, -1], [6, 0, 0], [0, -1, 3]],
            "deconvnet": [[0, 3, 0], [6, 0, 1], [2, 0, 3]],
            "guided": [[0, 0, 0], [6, 0, 0], [0, 0, 3]]}


@pytest.mark.parametrize("rule", RULES)
def test_relu_rules_on_the_worked_example(rule):
    x = torch.tensor(X_EX, requires_grad=True)
    relu = nn.ReLU()
    with relu_backward_rule(relu, rule):
        relu(x).backward(torch.tensor(G_EX))
    assert x.grad.tolist() == EXPECTED[rule]


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(),
                         nn.Flatten(), nn.Linear(4 * 6 * 6, 3)).double()


def test_input_gradient_is_the_true_gradient_and_hooks_are_removed():
    model = _net()
    x = torch.randn(5, 3, 6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([0, 1, 2, 1, 0])
    g = input_gradient(model, x, y)
    xr = x.clone().requires_grad_(True)
    model(xr)[torch.arange(5), y].sum().backward()
    torch.testing.assert_close(g, xr.grad)
    guided = input_gradient(model, x, y, "guided")
    assert not torch.allclose(guided, g)
    again = input_gradient(model, x, y)                     # the guided hooks are gone
    torch.testing.assert_close(again, g)
    assert not x.requires_grad and g.shape == x.shape


def test_guided_gradient_has_no_negative_backflow():
    """Guided backprop lets only positive gradients back through a ReLU: with one ReLU directly on the
    input, the input gradient is nonnegative whatever the signs of the read-out weights."""
    model = nn.Sequential(nn.Identity(), nn.ReLU(), nn.Flatten(), nn.Linear(9, 2)).double()
    with torch.no_grad():
        model[3].weight.copy_(torch.linspace(-1, 1, 18, dtype=torch.float64).view(2, 9))
    x = torch.tensor(X_EX).view(1, 1, 3, 3)
    g = input_gradient(model, x, torch.tensor([1]), "guided")
    assert (g >= 0).all() and (g > 0).any()


def test_input_gradient_rejects_an_unknown_rule():
    with pytest.raises(ValueError, match="rule"):
        input_gradient(_net(), torch.zeros(1, 3, 6, 6, dtype=torch.float64), torch.tensor([0]), "smooth")


def test_moving_controls_as_a_browser_does_recomputes_and_reranges_position():
    """Setting a control's value (what a slider move does) runs the observer: the position slider's range
    follows the new output size and the figure is redrawn."""
    e = SlidingWindowExplorer()
    e.controls["position"].value = 24
    before = e.png
    e.controls["stride"].value = 2                          # 7x7, stride 2: 3x3 positions
    assert e.controls["position"].max == 8 and e.controls["position"].value == 8 and e.last["position"] == 8
    assert e.png != before
    e.controls["size"].value = 6
    assert e.controls["position"].max == 3 and e.last["unused_rows"] == 1
