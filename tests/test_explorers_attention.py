"""Unit 05's explorers (course_lib.explorers.attention), headless.

Each "things to try" suggestion of lecture 05 is checked here as written (the test's docstring
quotes it); the lecture's text and these tests change together (tests/test_lecture05.py checks
that every suggestion is quoted here).
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
import torch.nn.functional as F

from course_lib.explorers.attention import (
    MASKS,
    TOY_TREE,
    AttentionExplorer,
    BeamSearchExplorer,
    KernelRegressionExplorer,
    PositionalEncodingExplorer,
    attention_state,
    beam_search_trace,
    kernel_regression_state,
    nadaraya_watson_data,
    positional_encoding_state,
    token_embeddings,
)
from course_lib.nn import sinusoidal_positional_encoding

PNG = b"\x89PNG\r\n\x1a\n"
SENTENCE = "the cat sat on the mat".split()


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _quiet(cls):
    e = cls()
    e.render = False
    return e


# ---- the plain compute functions ------------------------------------------------------------------

def test_token_embeddings_depend_on_the_string_only():
    e = token_embeddings(["a", "b", "a"], 8)
    assert e.shape == (3, 8)
    np.testing.assert_array_equal(e[0], e[2])
    assert not np.allclose(e[0], e[1])
    assert not np.allclose(token_embeddings(["a"], 8, seed=1), e[:1])


@pytest.mark.parametrize("mask", ["none", "causal j<=i"])
@pytest.mark.parametrize("heads,head", [(1, 0), (4, 3)])
def test_attention_state_matches_pytorch_sdpa(mask, heads, head):
    """The weights and outputs of the head are torch's scaled_dot_product_attention on the same q, k, v."""
    r = attention_state(SENTENCE, num_heads=heads, head=head, mask=mask, pad=1, positions=True)
    x = token_embeddings(r["tokens"], 64) + sinusoidal_positional_encoding(7, 64)
    rng = np.random.default_rng(1)
    Wq, Wk, Wv = (rng.standard_normal((64, 64)) / 8 for _ in range(3))
    d = 64 // heads
    cols = slice(head * d, (head + 1) * d)
    q, k, v = (torch.from_numpy(x @ W[:, cols]) for W in (Wq, Wk, Wv))
    keep = torch.ones(7, 7, dtype=torch.bool)
    if mask != "none":
        keep = keep.tril()
    keep[:, 6] = False
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
    np.testing.assert_allclose(r["_output"], out.numpy(), atol=1e-12)
    np.testing.assert_allclose(r["_weights"].sum(axis=1), 1.0, atol=1e-12)
    assert r["d_k"] == d


def test_attention_state_rejects_bad_input():
    with pytest.raises(ValueError, match="at least one token"):
        attention_state([])
    with pytest.raises(ValueError, match="must divide"):
        attention_state(SENTENCE, num_heads=3)
    with pytest.raises(ValueError, match="head must be"):
        attention_state(SENTENCE, num_heads=2, head=2)
    with pytest.raises(ValueError, match="mask must be one of"):
        attention_state(SENTENCE, mask="upper")
    with pytest.raises(ValueError, match="temperature"):
        attention_state(SENTENCE, temperature=0)


def test_kernel_regression_is_softmax_of_gaussian_scores():
    x_train, y_train, x_test, y_true = nadaraya_watson_data()
    assert x_train.shape == (50,) and x_test.shape == (50,) and np.all(np.diff(x_train) >= 0)
    r = kernel_regression_state(0.5)
    scores = torch.from_numpy(-((x_test[:, None] - x_train[None]) ** 2) / (2 * 0.25))
    np.testing.assert_allclose(r["_weights"], torch.softmax(scores, dim=-1).numpy(), atol=1e-12)
    np.testing.assert_allclose(r["_y_hat"], r["_weights"] @ y_train, atol=1e-12)
    with pytest.raises(ValueError, match="bandwidth"):
        kernel_regression_state(0.0)


def test_positional_encoding_dot_product_is_a_sum_of_cosines():
    r = positional_encoding_state(16, 5)
    w = 1.0 / 10000 ** (np.arange(0, 16, 2) / 16)
    expected = np.cos(np.outer(r["_offsets"], w)).sum(axis=1)
    np.testing.assert_allclose(r["_dots"], expected, atol=1e-12)
    assert r["_pe"].shape == (64, 16)
    with pytest.raises(ValueError, match="position"):
        positional_encoding_state(16, 64)


def test_beam_search_trace_on_a_tree_with_an_early_end():
    tree = {"": {"x": 0.5, "y": 0.5}, "x": {"x": 1.0}}         # "y" ends after one step
    r = beam_search_trace(2, tree)
    assert r["steps"][0] == [("x", 0.5), ("y", 0.5)] and r["best"] == "xx" and r["best_prob"] == 0.5
    with pytest.raises(ValueError, match="width"):
        beam_search_trace(0)


def test_toy_tree_is_a_probability_tree():
    for dist in TOY_TREE.values():
        assert math.isclose(sum(dist.values()), 1.0)


# ---- the explorers draw before any control moves ---------------------------------------------------

@pytest.mark.parametrize("cls", [AttentionExplorer, KernelRegressionExplorer, PositionalEncodingExplorer,
                                 BeamSearchExplorer])
def test_explorer_draws_before_any_control_moves(cls):
    e = cls()
    assert e.png.startswith(PNG) and len(e.png) > 2000
    bundle = e._repr_mimebundle_()
    assert base64.b64decode(bundle["image/png"]).startswith(PNG)
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_attention_explorer_draws_the_nan_row_and_head_range_follows_heads():
    e = AttentionExplorer()
    before = e.png
    r = e.update(mask="notes' j<i")
    assert r["nan_rows"] == [0] and e.png != before
    assert [t.get_text() for t in e.fig.axes[0].texts].count("NaN") == 6      # row 0 of the 6 x 6 weights, in red
    e.render = False
    e.update(heads=8, head=7)
    assert e.controls["head"].max == 7
    r = e.update(heads=2)
    assert e.controls["head"].max == 1 and e.controls["head"].value == 1 and r["d_k"] == 32
    assert e.update(tokens="   ")["tokens"] == ["?"]
    long = e.update(tokens=" ".join(f"w{i}" for i in range(40)), pad=0)
    assert long["tokens"] == [f"w{i}" for i in range(16)] and long["dropped_tokens"] == 24
    assert e.update(tokens="a b")["dropped_tokens"] == 0
    with pytest.raises(ValueError, match="unknown control"):
        e.update(dropout=0.1)


# ---- lecture 05's "things to try", one test each ---------------------------------------------------

def test_try_untick_the_scale():
    """"Untick the 1/sqrt(d_k) scale: with one head (d_k = 64) the scores spread exactly 8 times wider and each
    row's largest weight grows.\""""
    e = _quiet(AttentionExplorer)
    on = e.update(heads=1, scaled=True)
    off = e.update(scaled=False)
    assert off["score_std"] == pytest.approx(8 * on["score_std"], rel=1e-12)
    assert off["max_weight"] > on["max_weight"] + 0.2


def test_try_temperature():
    """"Lower the temperature to 0.1: each row's weight piles onto one or two keys; raise it to 10: the rows
    become nearly uniform (entropy close to log L).\""""
    e = _quiet(AttentionExplorer)
    cold = e.update(temperature=0.1)
    hot = e.update(temperature=10.0)
    assert cold["max_weight"] > 0.7 and cold["entropy"] < 0.5
    assert hot["entropy"] > 0.99 * math.log(6)


def test_try_causal_masks():
    """"Choose `causal j<=i`: everything above the diagonal is 0 and the first row is [1, 0, ..., 0]. Choose
    the notes' `j<i`: the first row is NaN.\""""
    e = _quiet(AttentionExplorer)
    e.update(mask="causal j<=i")
    w = e.last["_weights"]
    assert np.triu(w, 1).max() == 0.0 and w[0].tolist() == [1.0, 0, 0, 0, 0, 0]
    r = e.update(mask="notes' j<i")
    assert r["nan_rows"] == [0] and np.isnan(e.last["_weights"][0]).all()
    assert not np.isnan(e.last["_weights"][1:]).any()
    assert set(MASKS) == {"none", "causal j<=i", "notes' j<i"}


def test_try_padding():
    """"Add padding: the `<pad>` columns get weight 0 and the real tokens' outputs do not change.\""""
    e = _quiet(AttentionExplorer)
    e.update(pad=0)
    base = e.last["_output"].copy()
    for pad in (1, 3):
        r = e.update(pad=pad)
        assert r["pad_weight"] == 0.0 and r["tokens"][-pad:] == ["<pad>"] * pad
        np.testing.assert_allclose(e.last["_output"][:6], base, atol=1e-12)


def test_try_repeated_word():
    """"The sentence has 'the' twice: without positional encoding both of its rows are identical; tick
    positional encoding and they differ.\""""
    e = _quiet(AttentionExplorer)
    e.update(positions=False)
    w = e.last["_weights"]
    np.testing.assert_array_equal(w[0], w[4])
    e.update(positions=True)
    w = e.last["_weights"]
    assert np.abs(w[0] - w[4]).max() > 0.05


def test_try_heads():
    """"Switch to 4 heads and move the head slider: d_k is 16 and each head has its own pattern.\""""
    e = _quiet(AttentionExplorer)
    pats = []
    for h in range(4):
        r = e.update(heads=4, head=h)
        assert r["d_k"] == 16
        pats.append(e.last["_weights"].copy())
    for a in range(4):
        for b in range(a):
            assert np.abs(pats[a] - pats[b]).max() > 0.05


def test_try_small_bandwidth():
    """"Slide the bandwidth down to 0.01: each row of the weight matrix is nearly one-hot and the curve jumps
    through the noisy points (training MSE near 0, test MSE large).\""""
    e = _quiet(KernelRegressionExplorer)
    r = e.update(bandwidth=0.01)
    assert r["max_weight"] > 0.9 and r["neighbours"] < 1.2
    assert r["train_mse"] < 0.02 and r["test_mse"] > 0.25


def test_try_large_bandwidth():
    """"Slide it up to 10: every weight is about 1/50 and the prediction is a flat line at the mean of the
    targets.\""""
    e = _quiet(KernelRegressionExplorer)
    e.update(bandwidth=10.0)
    w, y_hat = e.last["_weights"], e.last["_y_hat"]
    y_train = e.last["_data"][1]
    assert np.abs(w - 1 / 50).max() < 0.002
    assert np.abs(y_hat - y_train.mean()).max() < 0.1


def test_try_best_bandwidth():
    """"Between h = 0.2 and 0.3 the prediction is closest to f: the smallest test MSE of the slider.\""""
    e = _quiet(KernelRegressionExplorer)
    slider = e.controls["bandwidth"]
    steps = int(round((slider.max - slider.min) / slider.step))
    hs = [10 ** (slider.min + i * slider.step) for i in range(steps + 1)]
    mse = [e.update(bandwidth=h)["test_mse"] for h in hs]
    best = hs[int(np.argmin(mse))]
    assert 0.2 <= best <= 0.3, best


def test_try_move_the_position():
    """"Move the position p: the dot-product curve does not change, it depends on the offset k only.\""""
    e = _quiet(PositionalEncodingExplorer)
    e.update(position=0)
    first = e.last["_dots"].copy()
    for p in (5, 30, 63):
        r = e.update(position=p)
        np.testing.assert_allclose(e.last["_dots"], first, atol=1e-9)
        assert r["shift_invariant"]


def test_try_the_peak_is_half_of_d():
    """"The peak, at k = 0, is D/2: try D = 4, 32 and 128.\""""
    e = _quiet(PositionalEncodingExplorer)
    for d in (4, 32, 128):
        r = e.update(dim=d)
        assert r["dot_at_0"] == pytest.approx(d / 2, abs=1e-12)
        assert e.last["_dots"].max() == pytest.approx(d / 2, abs=1e-12)


def test_try_d_equal_two():
    """"With D = 2 the encoding is (sin p, cos p) and the curve is cos k: positions about 6 apart (2 pi) look
    alike. With D = 32 the curve stays below 0.75 of its peak from k = 4 on.\""""
    e = _quiet(PositionalEncodingExplorer)
    e.update(dim=2)
    d = e.last["_dots"]
    np.testing.assert_allclose(d, np.cos(np.arange(41)), atol=1e-12)
    assert d[6] > 0.95
    r = e.update(dim=32)
    assert (e.last["_dots"][4:] < 0.75 * r["dot_at_0"]).all()


def test_try_greedy():
    """"Width 1 is greedy decoding: A, A, A with probability 0.216.\""""
    r = _quiet(BeamSearchExplorer).update(width=1)
    assert r["best"] == "AAA" and r["best_prob"] == pytest.approx(0.216, abs=1e-12)


def test_try_width_two():
    """"Width 2 keeps B at the first step and finds B, B, B with probability 0.324.\""""
    e = _quiet(BeamSearchExplorer)
    r = e.update(width=2)
    assert [p for p, _ in r["steps"][0]] == ["A", "B"]
    assert r["best"] == "BBB" and r["best_prob"] == pytest.approx(0.324, abs=1e-12)


def test_try_wider_beams():
    """"Widths 3 and 4 find the same answer but score more candidates (12 and 14, against 10 for width 2 and
    6 for greedy).\""""
    e = _quiet(BeamSearchExplorer)
    got = {w: e.update(width=w) for w in (1, 2, 3, 4)}
    assert [got[w]["candidates"] for w in (1, 2, 3, 4)] == [6, 10, 12, 14]
    assert got[3]["best"] == got[4]["best"] == "BBB"
