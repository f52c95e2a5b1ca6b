"""Unit 04's explorers (course_lib.explorers.rnn) and text corpus (course_lib.data.text), headless.

Each "things to try" suggestion of lecture 04's explorers is checked here as written (the test
quotes it in its docstring); the lecture's text and these tests change together
(tests/test_lecture04.py checks that every suggestion is quoted here).
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

from course_lib.data.text import sklearn_text, split_text
from course_lib.explorers.rnn import (
    CLIP_MODES,
    NOTES_SEQUENCE,
    CliffExplorer,
    LSTMGateExplorer,
    TemperatureExplorer,
    cliff_state,
    lstm_gate_state,
    next_char_distribution,
    parse_sequence,
    temperature_state,
)
from course_lib.models import CharRNN, CharVocab
from course_lib.nn.rnn import lstm_step_forward

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


CLIFF_DEFAULTS = {"w": 1.01, "T": 1000, "lr": 1e-3, "clip": "none"}
LSTM_DEFAULTS = {"sequence": NOTES_SEQUENCE, "input_bias": -10.0, "forget_bias": 10.0, "output_bias": -10.0,
                 "activation": "linear"}


@pytest.fixture(scope="module")
def cliff():
    """One cliff explorer for the module, numbers only (building one draws its figure: ~0.5 s)."""
    e = CliffExplorer()
    e.render = False
    return e


@pytest.fixture(scope="module")
def lstm():
    e = LSTMGateExplorer()
    e.render = False
    return e


def _from_defaults(e, defaults, **values):
    """Controls back at their defaults, then ``values``: a test sees what a fresh explorer would."""
    e.update(**defaults)
    return e.update(**values) if values else e.last


TEMP_DEFAULTS = {"prompt": "The data set ", "temperature": 1.0, "seed": 0}


# ---- the corpus ----------------------------------------------------------------------------------

def test_sklearn_text_is_the_shipped_descriptions_and_splits_without_loss():
    text = sklearn_text()
    assert len(text) > 30_000 and "iris" in text.lower() and len(set(text)) > 60
    train, val = split_text(text, 0.1)
    assert train + val == text and abs(len(val) - 0.1 * len(text)) <= 1
    with pytest.raises(ValueError, match="val_fraction"):
        split_text(text, 1.0)


# ---- the cliff -----------------------------------------------------------------------------------

def test_cliff_gradient_matches_autograd_and_clipping_matches_the_notes_example():
    for w, T, u in ((1.01, 1000, 1.0), (0.97, 50, 0.7), (1.1, 10, -0.3)):
        s = cliff_state(w, T, u=u)
        wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
        ut = torch.tensor(u, dtype=torch.float64, requires_grad=True)
        h = torch.zeros((), dtype=torch.float64)
        for t in range(T):                              # the unrolled linear RNN, x = [1, 0, ..., 0]
            h = wt * h + ut * (1.0 if t == 0 else 0.0)
        loss = 0.5 * (h - 1) ** 2
        loss.backward()
        assert s["y"] == pytest.approx(h.item(), rel=1e-10) and s["loss"] == pytest.approx(loss.item(), rel=1e-10)
        np.testing.assert_allclose(s["grad"], [wt.grad.item(), ut.grad.item()], rtol=1e-9)
    # (30, -40) clipped at 15 - the notes' rule by value vs the global norm, with the same tools
    p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    p.grad = torch.tensor([30.0, -40.0], dtype=torch.float64)
    torch.nn.utils.clip_grad_value_([p], 15)
    assert p.grad.tolist() == [15.0, -15.0]
    p.grad = torch.tensor([30.0, -40.0], dtype=torch.float64)
    torch.nn.utils.clip_grad_norm_([p], 15)
    np.testing.assert_allclose(p.grad.numpy(), [9.0, -12.0], rtol=1e-6)


def test_cliff_stays_finite_over_its_whole_range():
    """The corners of the accepted range: the gradient is finite, so the clipped step and its angle are numbers."""
    for w in (0.01, 0.9, 1.1):
        for T in (2, 1000):
            for clip in CLIP_MODES:
                s = cliff_state(w, T, clip=clip)
                assert np.isfinite(s["grad"]).all() and np.isfinite(s["loss"]) and math.isfinite(s["angle"])


def test_cliff_rejects_bad_input():
    with pytest.raises(ValueError, match="w must be"):
        cliff_state(1.11, 100)
    with pytest.raises(ValueError, match="T must be"):
        cliff_state(1.0, 1001)
    with pytest.raises(ValueError, match="T must be"):
        cliff_state(1.0, 1)
    with pytest.raises(ValueError, match="clip must be"):
        cliff_state(1.0, 10, clip="sometimes")


def test_try_cliff_move_w_across_one(cliff):
    """"Set T = 1000 and move w from 0.99 to 1.01: w^(T-1) jumps from 4.4e-5 to 20,752 and its derivative
    from 0.044 to 2.1e7.\""""
    lo, hi = _from_defaults(cliff, CLIFF_DEFAULTS, T=1000, w=0.99), cliff.update(w=1.01)
    assert f"{lo['y']:.1e}" == "4.4e-05" and round(hi["y"]) == 20752
    assert round(lo["dy_dw"], 3) == 0.044 and f"{hi['dy_dw']:.1e}" == "2.1e+07"


def test_try_cliff_short_sequences_are_smooth(cliff):
    """"Set T = 10: the same two values of w give 0.91 and 1.09; the cliff comes from multiplying by w many
    times.\""""
    assert round(_from_defaults(cliff, CLIFF_DEFAULTS, T=10, w=0.99)["y"], 2) == 0.91
    assert round(cliff.update(w=1.01)["y"], 2) == 1.09


def test_try_cliff_unclipped_step_flies_off(cliff):
    """"At w = 1.01, T = 1000 with clip `none`, one SGD step throws w to about -4e8 and the loss after it
    overflows to inf.\""""
    r = _from_defaults(cliff, CLIFF_DEFAULTS, w=1.01, T=1000, clip="none")
    assert -5e8 < r["new_w"] < -3e8 and math.isinf(r["loss_after"]) and r["loss"] > 1e8


def test_try_cliff_norm_keeps_the_direction_value_turns_it(cliff):
    """"Switch clip to `norm`: the step has length lr x 15 = 0.015 and points the gradient's way (angle 0); with
    `value` each coordinate is cut to 15 and the step turns by about 45 degrees.\""""
    n = _from_defaults(cliff, CLIFF_DEFAULTS, w=1.01, T=1000, clip="norm")
    assert n["step_length"] == pytest.approx(0.015, rel=1e-6) and n["angle"] < 1e-3
    assert n["loss_after"] < 1 < n["loss"]
    v = cliff.update(clip="value")
    np.testing.assert_array_equal(v["clipped"], [15.0, 15.0])
    assert 44 < v["angle"] < 46 and v["step_length"] == pytest.approx(0.015 * math.sqrt(2))


def test_try_cliff_no_clipping_needed_at_small_T(cliff):
    """"At T = 10 (w = 1.01) the gradient norm is below 15 and all three clip modes take the same step.\""""
    steps = [_from_defaults(cliff, CLIFF_DEFAULTS, w=1.01, T=10, clip=c) for c in CLIP_MODES]
    assert steps[0]["grad_norm"] < 15
    for s in steps[1:]:
        np.testing.assert_array_equal(s["step"], steps[0]["step"])


def test_cliff_explorer_draws_before_any_control_moves():
    e = CliffExplorer()
    assert e.png.startswith(PNG) and len(e.png) > 2000
    bundle = e._repr_mimebundle_()
    assert base64.b64decode(bundle["image/png"]).startswith(PNG)
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert e.last["y"] == pytest.approx(1.01 ** 999)        # the default is the notes' w = 1.01, T = 1000


# ---- LSTM gates ------------------------------------------------------------------------------------

def test_parse_sequence_and_its_errors():
    np.testing.assert_array_equal(parse_sequence(NOTES_SEQUENCE)[3], [1, 0, 1])
    assert parse_sequence("1 2 3;\n4,5,6").shape == (2, 3)
    with pytest.raises(ValueError, match="step 2"):
        parse_sequence("1,2,3; 1,2")
    with pytest.raises(ValueError, match="step 1"):
        parse_sequence("a,b,c")
    with pytest.raises(ValueError, match="empty"):
        parse_sequence(" ; ")
    with pytest.raises(ValueError, match="within"):
        parse_sequence("1e300,1,0; 1,0,1")               # would overflow the picture: refused, with the bound


def test_lstm_tanh_mode_is_pytorchs_cell():
    """With tanh, the explorer's cell is torch.nn.LSTMCell with the notes' weights (gate order i, f, g, o)."""
    x = parse_sequence(NOTES_SEQUENCE)
    s = lstm_gate_state(x, input_bias=-2.0, forget_bias=1.0, output_bias=0.5, activation="tanh")
    cell = torch.nn.LSTMCell(3, 1).double()
    with torch.no_grad():
        cell.weight_ih.copy_(torch.tensor([[0, 100, 0], [0, 100, 0], [1, 0, 0], [0, 0, 100]], dtype=torch.float64))
        cell.weight_hh.zero_()
        cell.bias_ih.copy_(torch.tensor([-2.0, 1.0, 0.0, 0.5], dtype=torch.float64))
        cell.bias_hh.zero_()
        h = c = torch.zeros(1, 1, dtype=torch.float64)
        ys, cs = [], []
        for xt in torch.from_numpy(x):
            h, c = cell(xt.view(1, 3), (h, c))
            ys.append(h.item())
            cs.append(c.item())
    np.testing.assert_allclose(s["y"], ys, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(s["c"], cs, rtol=1e-12, atol=1e-15)
    h1, c1, _ = lstm_step_forward(x[:1], np.zeros((1, 1)), np.zeros((1, 1)),
                                  np.array([[0, 0, 1, 0], [100, 100, 0, 0], [0, 0, 0, 100.0]]), np.zeros((1, 4)),
                                  np.array([-2.0, 1.0, 0.0, 0.5]))
    assert h1.item() == pytest.approx(ys[0]) and c1.item() == pytest.approx(cs[0])


def test_lstm_explorer_keeps_its_picture_on_a_bad_sequence():
    e = LSTMGateExplorer()
    assert e.png.startswith(PNG) and len(e.png) > 2000
    before = e.last["y"]
    r = e.update(sequence="3,1; oops")
    assert "step 1" in r["error"] and r["y"] == before         # the error is shown, the numbers stay
    assert "error" not in e.update(sequence=NOTES_SEQUENCE)


def test_try_lstm_defaults_are_the_notes_example(lstm):
    """"Start with the defaults (the notes' example): y is about [0, 0, 0, 7, 0] and c about [3, 7, 7, 7, 0].\""""
    r = _from_defaults(lstm, LSTM_DEFAULTS)
    np.testing.assert_allclose(r["y"], [0, 0, 0, 7, 0], atol=1e-3)
    np.testing.assert_allclose(r["c"], [3, 7, 7, 7, 0], atol=1e-3)


def test_try_lstm_forget_bias_low_loses_the_seven(lstm):
    """"Lower the forget bias to -10: the forget gate closes at step 3, where x2 = 0, the 7 is lost and y_4 is 0.\""""
    r = _from_defaults(lstm, LSTM_DEFAULTS, forget_bias=-10.0)
    assert r["f"][2] < 1e-4 and r["f"][0] > 0.999 and r["c"][2] < 1e-3 and abs(r["y"][3]) < 1e-3


def test_try_lstm_input_bias_high_writes_everything(lstm):
    """"Raise the input bias to +10: every x1 is written, c becomes about [3, 7, 9, 10, 0] and y_4 = 10.\""""
    r = _from_defaults(lstm, LSTM_DEFAULTS, input_bias=10.0)
    np.testing.assert_allclose(r["c"], [3, 7, 9, 10, 0], atol=1e-3)
    assert r["y"][3] == pytest.approx(10, abs=1e-3)


def test_try_lstm_output_bias_high_shows_the_cell(lstm):
    """"Raise the output bias to +10: the output gate is always open and y follows c: about [3, 7, 7, 7, 0].\""""
    r = _from_defaults(lstm, LSTM_DEFAULTS, output_bias=10.0)
    assert min(r["o"]) > 0.9999
    np.testing.assert_allclose(r["y"], [3, 7, 7, 7, 0], atol=1e-3)
    np.testing.assert_allclose(r["y"], r["c"], atol=1e-3)


def test_try_lstm_forget_bias_and_the_long_product(lstm):
    """"Set the forget bias to 4.6 (sigma = 0.99): after 100 steps the product of forget gates is about 0.37, near
    the marked 0.99^100 = 0.366, while the RNN's product is below 1e-40.\""""
    r = _from_defaults(lstm, LSTM_DEFAULTS, forget_bias=4.6)
    assert round(r["forget"], 2) == 0.99 and round(r["forget_product"], 2) == 0.37 and round(0.99 ** 100, 3) == 0.366
    assert r["rnn_product"] < 1e-40


def test_try_lstm_tanh_squashes_the_memory(lstm):
    """"Switch g, h to tanh (PyTorch's cell): the cell holds tanh(3) + tanh(4) = 1.99 and y_4 = tanh(1.99) = 0.96.\""""
    r = _from_defaults(lstm, LSTM_DEFAULTS, activation="tanh")
    assert round(math.tanh(3) + math.tanh(4), 2) == 1.99 == round(r["c"][3], 2)
    assert round(r["y"][3], 2) == 0.96 == round(math.tanh(1.99), 2)


# ---- temperature ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def char_model():
    """A small LSTM trained for 3 passes over the shipped corpus (about 2 s of CPU)."""
    from course_lib.train import fit

    text = sklearn_text()
    train, val = split_text(text)
    vocab = CharVocab(text)
    X, Y = vocab.windows(train, 64)
    torch.manual_seed(0)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, Y), batch_size=32, shuffle=True,
                                         generator=torch.Generator().manual_seed(0))
    model = CharRNN(len(vocab), 32, 128)
    fit(model, loader, epochs=3, optimizer=torch.optim.Adam(model.parameters(), lr=1e-2), loss_fn=CharRNN.loss,
        device="cpu", grad_clip=1.0, progress=False)
    return model, vocab


@pytest.fixture(scope="module")
def temp(char_model):
    e = TemperatureExplorer(*char_model)
    e.render = False
    return e


def test_next_char_distribution_is_the_softmax_at_the_temperature(char_model):
    model, vocab = char_model
    with torch.no_grad():
        logits = model(vocab.encode("The data").view(1, -1))[0, -1].double()
    for T in (0.5, 1.0, 2.0):
        np.testing.assert_allclose(next_char_distribution(model, vocab, "The data", T),
                                   torch.softmax(logits / T, 0).numpy(), rtol=1e-6)
    greedy = next_char_distribution(model, vocab, "The data", 0)
    assert greedy.sum() == 1 and greedy[int(logits.argmax())] == 1
    with pytest.raises(ValueError, match="never saw"):
        next_char_distribution(model, vocab, "The dată", 1.0)
    with pytest.raises(ValueError, match="empty"):
        next_char_distribution(model, vocab, "", 1.0)


def test_temperature_explorer_draws_and_shows_errors(char_model):
    e = TemperatureExplorer(*char_model)
    assert e.png.startswith(PNG) and len(e.png) > 2000 and len(e.last["sample"]) == 160
    r = e.update(prompt="∑ unknown")
    assert "never saw" in r["error"] and e.png.startswith(PNG)


def test_try_temperature_zero_is_greedy(temp):
    """"Set the temperature to 0: the sample is greedy, the same for every seed, and the entropy is 0 (perplexity 1).\""""
    a, b = _from_defaults(temp, TEMP_DEFAULTS, temperature=0.0, seed=0), temp.update(seed=7)
    assert a["sample"] == b["sample"] and a["entropy"] == 0.0 and a["perplexity"] == 1.0


def test_try_temperature_one_seeds_differ(temp):
    """"At temperature 1 change the seed: each seed gives another text from the same distribution.\""""
    a, b = _from_defaults(temp, TEMP_DEFAULTS, temperature=1.0, seed=0), temp.update(seed=1)
    assert a["sample"] != b["sample"] and a["entropy"] == b["entropy"]


def test_try_temperature_high_flattens(char_model, temp):
    """"Raise the temperature to 3: the bars flatten, the perplexity climbs towards the vocabulary's size (a uniform
    choice) and the text turns to noise.\""""
    model, vocab = char_model
    ppl = [_from_defaults(temp, TEMP_DEFAULTS, temperature=t)["perplexity"] for t in (0.5, 1.0, 2.0, 3.0)]
    assert ppl == sorted(ppl) and len(vocab) / 2 < ppl[-1] < len(vocab)
    assert temperature_state(model, vocab, "The data set ", 100.0)["perplexity"] > 0.99 * len(vocab)
    noisy = temp.update(temperature=3.0)["sample"]
    assert sum(not (c.isalpha() or c == " ") for c in noisy) > 0.25 * len(noisy)


def test_try_temperature_low_repeats_common_words(temp):
    """"Lower it to 0.3: the entropy falls below half its value at 1, and for every seed the text uses less than half
    as many distinct characters (a few common words such as 'the', or runs of spaces).\""""
    for seed in range(4):
        low = _from_defaults(temp, TEMP_DEFAULTS, temperature=0.3, seed=seed)
        one = temp.update(temperature=1.0)
        assert low["entropy"] < one["entropy"] / 2
        assert 2 * len(set(low["sample"])) < len(set(one["sample"])), (seed, low["sample"], one["sample"])
