"""Explorers of unit 04 (recurrent networks): the gradient cliff, the LSTM's gates, sampling temperature.

- :func:`cliff_state` behind :class:`CliffExplorer`: the one-neuron linear RNN of the notes, whose
  output after ``T`` steps is ``u * w**(T - 1)``; its derivative, the loss surface over ``(w, u)``
  and one SGD step with no clipping, clipping by value or clipping by the global norm;
- :func:`lstm_gate_state` behind :class:`LSTMGateExplorer`: the notes' hand-set one-cell LSTM on an
  editable sequence, with the input, forget and output gate biases as sliders, and the product of
  forget gates over 100 steps beside a vanilla RNN's product of ``w * tanh'``;
- :func:`next_char_distribution` and :func:`temperature_state` behind :class:`TemperatureExplorer`:
  the next-character distribution of a trained :class:`course_lib.models.CharRNN` at a temperature,
  its entropy and perplexity, and a sampled text.

Each explorer draws its figure when it is built, before any control moves, and carries it as a
static PNG beside the widget (see :mod:`course_lib.explorers.linear`).
"""
from __future__ import annotations

import math
import textwrap
from typing import TYPE_CHECKING, Any

import ipywidgets as W
import numpy as np

from ..nn import sigmoid
from ..nn.rnn import lstm_step_forward
from ..widgets import Explorer, _slider
from .linear import _StaticFigure

if TYPE_CHECKING:
    from ..models import CharRNN, CharVocab

__all__ = ["CLIP_MODES", "cliff_state", "CliffExplorer", "NOTES_SEQUENCE", "MAX_INPUT", "parse_sequence", "lstm_gate_state",
           "LSTMGateExplorer", "next_char_distribution", "temperature_state", "TemperatureExplorer"]

#: Clipping modes of :func:`cliff_state`.
CLIP_MODES = ("none", "value", "norm")


# =============================================================================
# The cliff: y = u * w**(T - 1)
# =============================================================================

def _cliff_loss(w: np.ndarray | float, u: np.ndarray | float, T: int) -> Any:
    with np.errstate(over="ignore", invalid="ignore"):
        y = u * np.power(w, T - 1)
        loss = 0.5 * (y - 1.0) ** 2
    return np.where(np.isfinite(loss), loss, np.inf)


def cliff_state(w: float, T: int, *, u: float = 1.0, lr: float = 1e-3, clip: str = "none",
                threshold: float = 15.0) -> dict[str, Any]:
    """One step of SGD on the notes' cliff: a linear one-neuron RNN read after ``T`` steps.

    The network ``h_t = w h_{t-1} + u x_t`` reads ``x = [1, 0, ..., 0]``, so its output after ``T``
    steps is ``y = u * w**(T - 1)`` (the notes' ``y^1000 = w^999`` with ``u = 1``, ``T = 1000``). The
    loss is ``L = (y - 1)**2 / 2`` with gradient ``(dL/dw, dL/du) = (y - 1) * (u (T-1) w**(T-2), w**(T-1))``.
    The gradient is clipped as PyTorch does it (``torch.nn.utils.clip_grad_value_`` or
    ``clip_grad_norm_``) before the step ``(w, u) -= lr * g``.

    Args:
        w: recurrent weight, ``0 < w <= 1.1``; T: number of steps, ``2 <= T <= 1000`` (the loss and the
            gradient stay finite in float64 over this whole range).
        u: input weight; lr: learning rate > 0; clip: one of :data:`CLIP_MODES`; threshold: > 0.

    Returns:
        dict with ``y`` (= u w^(T-1)), ``dy_dw`` (= u (T-1) w^(T-2)), ``loss``, ``grad`` (dL/dw, dL/du),
        ``grad_norm``, ``clipped`` (the gradient used), ``angle`` (degrees between ``clipped`` and ``grad``),
        ``step`` (the change of (w, u)), ``step_length``, ``new_w``, ``new_u``, ``loss_after``
        (``inf`` when it overflows float64).

    Introduced in lecture 04_rnn.
    """
    # lazy: PyTorch (seconds) only for the gradient-clipping demo; the NumPy explorers work without it
    import torch

    if not 0 < w <= 1.1:
        raise ValueError(f"w must be in (0, 1.1], got {w}: beyond that the gradient overflows float64 at T = 1000")
    if not 2 <= int(T) <= 1000:
        raise ValueError(f"T must be in [2, 1000], got {T}: beyond that the gradient overflows float64 at w = 1.1")
    if clip not in CLIP_MODES:
        raise ValueError(f"clip must be one of {CLIP_MODES}, got {clip!r}")
    if lr <= 0 or threshold <= 0:
        raise ValueError(f"lr and threshold must be > 0, got lr={lr}, threshold={threshold}")
    T = int(T)
    y = u * w ** (T - 1)
    r = y - 1.0
    dy_dw = u * (T - 1) * w ** (T - 2)
    grad = np.array([r * dy_dw, r * w ** (T - 1)])
    g = torch.tensor(grad.copy(), dtype=torch.float64)
    p = torch.zeros(2, dtype=torch.float64, requires_grad=True)   # a parameter to hang the gradient on
    p.grad = g
    if clip == "value":
        torch.nn.utils.clip_grad_value_([p], threshold)
    elif clip == "norm":
        torch.nn.utils.clip_grad_norm_([p], threshold)
    clipped = p.grad.numpy().copy()
    norm = float(np.linalg.norm(grad))
    cos = float(clipped @ grad) / max(float(np.linalg.norm(clipped)) * norm, 1e-300)
    step = -lr * clipped
    new_w, new_u = w + step[0], u + step[1]
    return {"y": y, "dy_dw": dy_dw, "loss": float(_cliff_loss(w, u, T)), "grad": grad, "grad_norm": norm,
            "clipped": clipped, "angle": math.degrees(math.acos(min(1.0, max(-1.0, cos)))) if norm else 0.0,
            "step": step, "step_length": float(np.linalg.norm(step)), "new_w": float(new_w), "new_u": float(new_u),
            "loss_after": float(_cliff_loss(new_w, new_u, T))}


class CliffExplorer(_StaticFigure, Explorer):
    """The gradient cliff of a one-neuron linear RNN: ``w**(T-1)``, its derivative, and one clipped SGD step.

    Controls: ``w`` (0.9 to 1.1), ``T`` (10 to 1000, log scale), ``lr`` and ``clip`` (one of
    :data:`CLIP_MODES`, threshold 15 as in the notes). ``update`` returns the numbers of :func:`cliff_state`.

    Introduced in lecture 04_rnn.
    """

    figsize = (10, 3.6)

    def _controls(self) -> dict:
        T = W.FloatLogSlider(value=1000, base=10, min=1, max=3, step=0.1, description="T",
                             continuous_update=False, style={"description_width": "initial"}, readout_format=".0f")
        return {"w": _slider(1.01, 0.9, 1.1, 0.005, "w"), "T": T,
                "lr": _slider(1e-3, -4, -1, 0.5, "lr", log=True),
                "clip": W.ToggleButtons(options=list(CLIP_MODES), value="none", description="clip")}

    def compute(self, *, w: float, T: float, lr: float, clip: str) -> dict:
        return cliff_state(float(w), int(round(T)), lr=float(lr), clip=clip)

    def draw(self, result: dict, *, w: float, T: float, clip: str, **_: Any) -> None:
        T = int(round(T))
        ax_y, ax_s = self.fig.subplots(1, 2)
        ws = np.linspace(0.9, 1.1, 401)
        ax_y.semilogy(ws, ws ** (T - 1), label="$w^{T-1}$")
        ax_y.semilogy(ws, (T - 1) * ws ** (T - 2), "--", label="$d\\,w^{T-1}/dw$")
        ax_y.axvline(w, color="0.5", lw=0.8)
        ax_y.plot([w], [result["y"]], "o", color="C0")
        ax_y.set_xlabel("w")
        ax_y.set_title(f"T = {T}: $w^{{T-1}}$ = {result['y']:.4g}", fontsize=9)
        ax_y.legend(fontsize=8)
        # the loss surface around the current point, log10 of the loss
        w0, w1 = min(0.95, w - 0.03), max(1.05, w + 0.03)
        u0, u1 = -0.5, 2.0
        WW, UU = np.meshgrid(np.linspace(w0, w1, 81), np.linspace(u0, u1, 61))
        Z = np.log10(np.minimum(_cliff_loss(WW, UU, T), 1e30) + 1e-6)
        cs = ax_s.contourf(WW, UU, Z, levels=12, cmap="viridis")
        self.fig.colorbar(cs, ax=ax_s, label="log10 loss")
        start = np.array([w, 1.0])
        end = np.array([result["new_w"], result["new_u"]])
        inside = w0 <= end[0] <= w1 and u0 <= end[1] <= u1
        shown = end if inside else start + (end - start) * min(
            (w1 - w0) / 4 / max(abs(end[0] - start[0]), 1e-300), (u1 - u0) / 4 / max(abs(end[1] - start[1]), 1e-300))
        ax_s.annotate("", xy=tuple(shown), xytext=tuple(start),
                      arrowprops={"arrowstyle": "->", "color": "red" if not inside else "white", "lw": 2})
        ax_s.plot(*start, "wo")
        where = "lands inside" if inside else f"lands off the plot at w = {result['new_w']:.3g}"
        ax_s.set_title(f"one SGD step, clip = {clip}: {where}; loss {result['loss']:.3g} -> "
                       f"{result['loss_after']:.3g}", fontsize=8)
        ax_s.set_xlabel("w")
        ax_s.set_ylabel("u")
        self.fig.tight_layout()


# =============================================================================
# LSTM gates: the notes' hand-set cell
# =============================================================================

#: The notes' five inputs (x1, x2, x3): x1 is the value, x2 = 1 writes it, x2 = -1 clears, x3 = 1 reads.
NOTES_SEQUENCE = "3,1,0; 4,1,0; 2,0,0; 1,0,1; 3,-1,0"


#: Largest magnitude :func:`parse_sequence` accepts (larger values only overflow the picture).
MAX_INPUT = 1000.0


def parse_sequence(text: str) -> np.ndarray:
    """Parse ``"x1,x2,x3; x1,x2,x3; ..."`` into a (T, 3) float array, each number within ``+-MAX_INPUT``.

    Raises:
        ValueError: naming the step that does not hold three numbers.

    Introduced in lecture 04_rnn.
    """
    steps = [s for s in text.replace("\n", ";").split(";") if s.strip()]
    if not steps:
        raise ValueError("the sequence is empty: write steps as 'x1,x2,x3' separated by ';', e.g. " + NOTES_SEQUENCE)
    rows = []
    for k, s in enumerate(steps, 1):
        parts = [p for p in s.replace(" ", ",").split(",") if p]
        try:
            row = [float(p) for p in parts]
        except ValueError:
            raise ValueError(f"step {k} ({s.strip()!r}) is not three numbers x1,x2,x3") from None
        if len(row) != 3 or not all(math.isfinite(v) for v in row):
            raise ValueError(f"step {k} ({s.strip()!r}) must hold three finite numbers x1,x2,x3")
        if max(abs(v) for v in row) > MAX_INPUT:
            raise ValueError(f"step {k} ({s.strip()!r}): keep the numbers within +-{MAX_INPUT:g} (the gates already "
                             "saturate at |x2| = 1)")
        rows.append(row)
    return np.array(rows)


def lstm_gate_state(xs: np.ndarray | str, *, input_bias: float = -10.0, forget_bias: float = 10.0,
                    output_bias: float = -10.0, activation: str = "linear", horizon: int = 100,
                    rnn_w: float = 1.0, seed: int = 0) -> dict[str, Any]:
    """The notes' one-cell LSTM on a sequence of (x1, x2, x3), and the forget-gate product over ``horizon`` steps.

    Pre-activations (the notes' slide weights, biases from the arguments): candidate ``z = x1``,
    ``z_i = 100 x2 + input_bias``, ``z_f = 100 x2 + forget_bias``, ``z_o = 100 x3 + output_bias``.
    With ``activation="linear"`` (the notes) ``c_t = f c_{t-1} + i z`` and ``y_t = o c_t``; with
    ``"tanh"`` it is PyTorch's cell, run by :func:`course_lib.nn.rnn.lstm_step_forward`:
    ``c_t = f c_{t-1} + i tanh(z)``, ``y_t = o tanh(c_t)``.

    The long-range part compares, over ``horizon`` steps, the product of forget gates when no input
    arrives (``sigmoid(forget_bias) ** t``: how much of ``c_0`` reaches ``c_t``) with a vanilla RNN's
    product of ``w * tanh'(a_s)`` for ``h_s = tanh(w h_{s-1} + x_s)``, ``x_s ~ N(0, 1)`` (seeded).

    Returns:
        dict with ``i``, ``f``, ``o``, ``c``, ``y`` (each a list, one value per step), ``forget``
        (= sigmoid(forget_bias)), ``forget_product`` and ``rnn_product`` (the products after
        ``horizon`` steps), and for drawing ``_forget_curve``, ``_rnn_curve`` (length ``horizon``).

    Introduced in lecture 04_rnn.
    """
    x = parse_sequence(xs) if isinstance(xs, str) else np.asarray(xs, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 3 or len(x) == 0:
        raise ValueError(f"the sequence must have shape (T, 3) with T >= 1, got {x.shape}")
    if activation not in ("linear", "tanh"):
        raise ValueError(f"activation must be 'linear' (the notes) or 'tanh' (PyTorch), got {activation!r}")
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    # weights in course_lib's (PyTorch's) gate order (i, f, g, o): x @ Wx + b
    Wx = np.array([[0.0, 0.0, 1.0, 0.0], [100.0, 100.0, 0.0, 0.0], [0.0, 0.0, 0.0, 100.0]])
    b = np.array([input_bias, forget_bias, 0.0, output_bias])
    out: dict[str, list[float]] = {"i": [], "f": [], "o": [], "c": [], "y": []}
    h, c = np.zeros((1, 1)), np.zeros((1, 1))
    for xt in x:
        if activation == "tanh":
            h, c, cache = lstm_step_forward(xt[None], h, c, Wx, np.zeros((1, 4)), b)
            i, f, o = cache.i, cache.f, cache.o
        else:
            a = xt @ Wx + b
            i, f, o = sigmoid(a[0:1]), sigmoid(a[1:2]), sigmoid(a[3:4])
            c = f * c + i * a[2]
            h = o * c
        for k, v in (("i", i), ("f", f), ("o", o), ("c", c), ("y", h)):
            out[k].append(float(np.asarray(v).ravel()[0]))
    forget = float(sigmoid(np.array(forget_bias)))
    forget_curve = forget ** np.arange(1, horizon + 1)
    noise = np.random.default_rng(seed).standard_normal(horizon)
    hs, derivs = 0.0, np.empty(horizon)
    for s in range(horizon):
        hs = math.tanh(rnn_w * hs + noise[s])
        derivs[s] = rnn_w * (1 - hs ** 2)
    rnn_curve = np.cumprod(derivs)
    return {**out, "forget": forget, "forget_product": float(forget_curve[-1]), "rnn_product": float(rnn_curve[-1]),
            "_forget_curve": forget_curve, "_rnn_curve": rnn_curve}


class LSTMGateExplorer(_StaticFigure, Explorer):
    """The notes' hand-set one-cell LSTM: gate biases as sliders, an editable sequence, c_t and y_t.

    Controls: ``sequence`` (text ``"x1,x2,x3; ..."``, default :data:`NOTES_SEQUENCE`), ``input_bias``,
    ``forget_bias``, ``output_bias`` (-10 to 10) and ``activation`` (``linear`` as in the notes, or
    ``tanh`` as PyTorch). ``update`` returns the numbers of :func:`lstm_gate_state`; a sequence that
    does not parse leaves the figure as it was and shows the error in the read-out.

    Introduced in lecture 04_rnn.
    """

    figsize = (10, 3.4)

    def _controls(self) -> dict:
        return {"sequence": W.Text(value=NOTES_SEQUENCE, description="x1,x2,x3;", continuous_update=False,
                                   layout=W.Layout(width="330px")),
                "input_bias": _slider(-10.0, -10.0, 10.0, 0.1, "input bias"),
                "forget_bias": _slider(10.0, -10.0, 10.0, 0.1, "forget bias"),
                "output_bias": _slider(-10.0, -10.0, 10.0, 0.1, "output bias"),
                "activation": W.ToggleButtons(options=["linear", "tanh"], value="linear", description="g, h")}

    def compute(self, *, sequence: str, input_bias: float, forget_bias: float, output_bias: float,
                activation: str) -> dict:
        try:
            return lstm_gate_state(sequence, input_bias=input_bias, forget_bias=forget_bias,
                                   output_bias=output_bias, activation=activation)
        except ValueError as e:
            return {**{k: v for k, v in self.last.items() if k != "error"}, "error": str(e)}

    def draw(self, result: dict, **_: Any) -> None:
        ax_g, ax_c, ax_p = self.fig.subplots(1, 3)
        if "c" not in result:
            ax_g.set_title(result.get("error", ""), fontsize=8)
            return
        t = np.arange(1, len(result["c"]) + 1)
        for k, style in (("i", "o-"), ("f", "s-"), ("o", "^-")):
            ax_g.plot(t, result[k], style, label=k)
        ax_g.set_ylim(-0.05, 1.05)
        ax_g.set_xticks(t)
        ax_g.set_title("gates", fontsize=9)
        ax_g.legend(fontsize=8)
        ax_c.plot(t, result["c"], "o-", label="$c_t$")
        ax_c.plot(t, result["y"], "s--", label="$y_t$ (= $h_t$)")
        for tt, v in zip(t, result["y"]):
            ax_c.annotate(f"{v:.2f}", (tt, v), textcoords="offset points", xytext=(0, 6), fontsize=7, ha="center")
        ax_c.set_xticks(t)
        ax_c.set_title("cell and output" + (f"  ({result['error']})" if "error" in result else ""), fontsize=8)
        ax_c.legend(fontsize=8)
        steps = np.arange(1, len(result["_forget_curve"]) + 1)
        ax_p.semilogy(steps, np.maximum(result["_forget_curve"], 1e-60), label=f"forget gates ({result['forget']:.3f})^t")
        ax_p.semilogy(steps, np.maximum(result["_rnn_curve"], 1e-60), label="RNN: prod w tanh'")
        ax_p.axhline(0.99 ** 100, color="0.5", lw=0.8, ls=":")
        ax_p.annotate("0.99^100 = 0.366", (steps[-1], 0.366), fontsize=7, ha="right", va="bottom")
        ax_p.set_ylim(1e-60, 10)
        ax_p.set_xlabel("steps back")
        ax_p.set_title("how much gradient survives", fontsize=9)
        ax_p.legend(fontsize=7, loc="lower left")
        self.fig.tight_layout()


# =============================================================================
# Sampling temperature on a character model
# =============================================================================

def next_char_distribution(model: CharRNN, vocab: CharVocab, prompt: str, temperature: float) -> np.ndarray:
    """The model's distribution of the character after ``prompt``, at ``temperature``.

    ``softmax(logits / temperature)``; temperature 0 puts all mass on the most likely character
    (what :meth:`course_lib.models.CharRNN.generate` does at 0).

    Returns:
        (V,) float64 probabilities, summing to 1.

    Raises:
        ValueError: for an empty prompt, a character the vocabulary lacks, or a negative temperature.

    Introduced in lecture 04_rnn.
    """
    # lazy: PyTorch (seconds) only for the gradient-clipping demo; the NumPy explorers work without it
    import torch

    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if not prompt:
        raise ValueError("the prompt is empty: type at least one character")
    unknown = sorted(set(prompt) - set(vocab.stoi))
    if unknown:
        raise ValueError(f"the prompt has characters the model never saw: {unknown}; use only these: "
                         f"{''.join(vocab.chars)!r}")
    dev = next(model.parameters()).device
    was_training = model.training
    model.eval()
    with torch.no_grad():
        logits = model(vocab.encode(prompt).to(dev).view(1, -1))[0, -1].double().cpu()
    model.train(was_training)
    if temperature == 0:
        p = torch.zeros_like(logits)
        p[logits.argmax()] = 1.0
    else:
        p = torch.softmax(logits / temperature, dim=0)
    return p.numpy()


def temperature_state(model: CharRNN, vocab: CharVocab, prompt: str, temperature: float, *, length: int = 160,
                      seed: int = 0, top: int = 12) -> dict[str, Any]:
    """Everything the temperature explorer shows: the next-character distribution and a sampled text.

    Returns:
        dict with ``entropy`` (nats) and ``perplexity`` (= exp(entropy)) of the next-character distribution,
        ``top_char`` and ``top_prob`` (its most likely character), ``sample`` (``length`` characters sampled
        after the prompt by :meth:`course_lib.models.CharRNN.generate` with a generator seeded by ``seed``), and
        ``_probs`` (V,), ``_top`` (the ``top`` most likely (char, prob) pairs) for drawing.

    Introduced in lecture 04_rnn.
    """
    # lazy: PyTorch (seconds) only for the gradient-clipping demo; the NumPy explorers work without it
    import torch

    p = next_char_distribution(model, vocab, prompt, temperature)
    nz = p[p > 0]
    entropy = float(-(nz * np.log(nz)).sum()) + 0.0     # + 0.0: no "-0.0" for a one-hot
    order = np.argsort(-p, kind="stable")
    gen = torch.Generator().manual_seed(int(seed))
    ids = model.generate(vocab.encode(prompt), length, temperature=float(temperature), generator=gen)
    return {"entropy": entropy, "perplexity": math.exp(entropy), "top_char": vocab.itos[int(order[0])],
            "top_prob": float(p[order[0]]), "sample": vocab.decode(ids[len(prompt):]),
            "_probs": p, "_top": [(vocab.itos[int(k)], float(p[k])) for k in order[:top]]}


class TemperatureExplorer(_StaticFigure, Explorer):
    """Sampling from a trained character model: prompt and temperature -> next-character bars and a sample.

    Controls: ``prompt`` (text), ``temperature`` (0 to 3) and ``seed`` (of the sampler). ``update``
    returns the numbers of :func:`temperature_state`; a prompt with unknown characters shows the error
    in the read-out instead.

    Args:
        model: a trained :class:`course_lib.models.CharRNN`; vocab: its :class:`course_lib.models.CharVocab`.
        prompt: the initial prompt.

    Introduced in lecture 04_rnn.
    """

    figsize = (10, 3.4)

    def __init__(self, model: CharRNN, vocab: CharVocab, prompt: str = "The data set "):
        self.model, self.vocab, self.prompt = model, vocab, prompt
        super().__init__()

    def _controls(self) -> dict:
        return {"prompt": W.Text(value=self.prompt, description="prompt", continuous_update=False),
                "temperature": _slider(1.0, 0.0, 3.0, 0.05, "temperature"),
                "seed": _slider(0, 0, 20, 1, "seed")}

    def compute(self, *, prompt: str, temperature: float, seed: int) -> dict:
        try:
            return temperature_state(self.model, self.vocab, prompt, float(temperature), seed=int(seed))
        except ValueError as e:
            return {"error": str(e)}

    def draw(self, result: dict, *, prompt: str, temperature: float, **_: Any) -> None:
        ax_b, ax_t = self.fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.4]})
        ax_t.axis("off")
        if "error" in result:
            ax_t.text(0, 1, "\n".join(textwrap.wrap(result["error"], 60)), va="top", fontsize=8, color="red")
            ax_b.axis("off")
            return
        chars, probs = zip(*result["_top"])
        labels = [repr(c)[1:-1] if c.strip() else repr(c) for c in chars]
        ax_b.barh(range(len(probs))[::-1], probs, color="C0")
        ax_b.set_yticks(range(len(probs))[::-1])
        ax_b.set_yticklabels(labels, fontsize=8)
        ax_b.set_xlim(0, 1)
        ax_b.set_title(f"next character at T = {temperature:.2f}\nentropy {result['entropy']:.2f} nats, "
                       f"perplexity {result['perplexity']:.2f}", fontsize=8)
        body = "\n".join(textwrap.wrap(prompt + "|" + result["sample"], 64, replace_whitespace=True))
        ax_t.text(0, 1, body, va="top", family="monospace", fontsize=7)
        ax_t.set_title("sample (prompt | generated)", fontsize=8)
        self.fig.tight_layout()
