"""Mutants and correct alternatives of unit 04 (recurrent networks and language models).

Each mutant is the full source of a solution cell with one plausible mistake, most of them from the
common-bug list of the unit's material (``shared/units/04_rnn.md`` (d)) and issue 17. They are built
from the solution cell by textual edits (``_edit`` fails loudly when an edit no longer applies, so a
mutant cannot silently turn into a copy of the solution).
"""
from __future__ import annotations

from tests.mutants import Mutant, edited_solution, solution_source

UNIT = "04_rnn"
NOTEBOOK = "04_rnn.ipynb"

def _solution(task: str) -> str:
    return solution_source(UNIT, NOTEBOOK, task)


def _edit(task: str, *pairs: tuple[str, str]) -> str:
    return edited_solution(UNIT, NOTEBOOK, task, *pairs)


def M(task: str, name: str, *pairs: tuple[str, str]) -> Mutant:
    return Mutant(task=task, name=name, source=_edit(task, *pairs))


MUTANTS = [
    # --- task 4.1: one RNN step
    M("task4_1", "tanh derivative from the wrong cache field (prev_h)",
      ("da = dnext_h * (1.0 - cache.next_h ** 2)", "da = dnext_h * (1.0 - cache.prev_h ** 2)")),
    M("task4_1", "tanh derivative forgets the upstream gradient",
      ("da = dnext_h * (1.0 - cache.next_h ** 2)", "da = 1.0 - cache.next_h ** 2")),
    M("task4_1", "db averaged over the batch",
      ("db=da.sum(axis=0)", "db=da.mean(axis=0)")),
    M("task4_1", "upstream gradient scaled in place",
      ("da = dnext_h * (1.0 - cache.next_h ** 2)", "dnext_h *= 1.0 - cache.next_h ** 2\n    da = dnext_h")),
    # --- task 4.2: RNN over a sequence
    M("task4_2", "weight gradients overwritten instead of accumulated over time",
      ("dWx += g.dWx", "dWx = g.dWx"), ("dWh += g.dWh", "dWh = g.dWh"), ("db += g.db", "db = g.db")),
    M("task4_2", "carried hidden gradient dropped",
      ("rnn_step_backward(dh[:, t] + dprev_h, steps[t])", "rnn_step_backward(dh[:, t], steps[t])")),
    M("task4_2", "time walked forwards in the backward pass",
      ("for t in reversed(range(T)):", "for t in range(T):")),
    M("task4_2", "dh0 taken before the loop finishes (after the last step's backward)",
      ("        dprev_h = g.dprev_h\n", "        dprev_h = g.dprev_h\n        dh0 = g.dprev_h if t == T - 1 else dh0\n"),
      ("return RNNGrads(dx=dx, dh0=dprev_h,", "return RNNGrads(dx=dx, dh0=dh0,")),
    # --- task 4.3: sigmoid and one LSTM step
    M("task4_3", "cs231n's gate order (i, f, o, g) on PyTorch-ordered weights",
      ("g = np.tanh(a[:, 2 * H:3 * H])\n    o = sigmoid(a[:, 3 * H:])", "o = sigmoid(a[:, 2 * H:3 * H])\n    g = np.tanh(a[:, 3 * H:])"),
      ("da = np.concatenate([di * c.i * (1.0 - c.i), df * c.f * (1.0 - c.f), dg * (1.0 - c.g ** 2),\n"
       "                         do * c.o * (1.0 - c.o)], axis=1)",
       "da = np.concatenate([di * c.i * (1.0 - c.i), df * c.f * (1.0 - c.f), do * c.o * (1.0 - c.o),\n"
       "                         dg * (1.0 - c.g ** 2)], axis=1)")),
    M("task4_3", "the old cell in h",
      ("next_h = o * np.tanh(next_c)", "next_h = o * np.tanh(prev_c)")),
    M("task4_3", "input gate forgotten in the cell update",
      ("next_c = f * prev_c + i * g", "next_c = f * prev_c + g")),
    M("task4_3", "an overflowing sigmoid 1/(1+exp(-x))",
      ("e = np.exp(-np.abs(x))                      # never overflows: the exponent is <= 0\n"
       "    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))", "return 1.0 / (1.0 + np.exp(-x))")),
    M("task4_3", "the caller's dnext_c updated in place",
      ("dc = dnext_c + dnext_h * c.o * (1.0 - tanh_c ** 2)", "dnext_c += dnext_h * c.o * (1.0 - tanh_c ** 2)\n    dc = dnext_c")),
    M("task4_3", "cell gradient misses the path through h",
      ("dc = dnext_c + dnext_h * c.o * (1.0 - tanh_c ** 2)", "dc = dnext_c + 0.0")),
    M("task4_3", "forget-gate gradient from the new cell",
      ("dc * c.g, dc * c.prev_c,", "dc * c.g, dc * c.next_c,")),
    # --- task 4.4: LSTM over a sequence
    M("task4_4", "carried cell gradient dropped",
      ("g = lstm_step_backward(dh[:, t] + dprev_h, dprev_c, steps[t])",
       "g = lstm_step_backward(dh[:, t] + dprev_h, np.zeros((N, H)), steps[t])")),
    M("task4_4", "weight gradients overwritten instead of accumulated over time",
      ("dWx += g.dWx", "dWx = g.dWx"), ("dWh += g.dWh", "dWh = g.dWh"), ("db += g.db", "db = g.db")),
    M("task4_4", "cell state reset to zero at every step",
      ("prev_h, prev_c, step_cache = lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)",
       "prev_h, prev_c, step_cache = lstm_step_forward(x[:, t], prev_h, np.zeros(h0.shape), Wx, Wh, b)")),
    M("task4_4", "cell state starts at h0",
      ("prev_h, prev_c = h0, np.zeros(h0.shape)", "prev_h, prev_c = h0, h0")),
    # --- task 4.5: word embeddings
    M("task4_5", "plain index assignment drops repeated ids",
      ("np.add.at(dW, cache.x, dout)        # dW[x] += dout would count a repeated id once", "dW[cache.x] += dout")),
    M("task4_5", "dW sized by the largest id seen instead of V",
      ("dW = np.zeros((cache.vocab_size, dout.shape[-1]))", "dW = np.zeros((int(cache.x.max()) + 1, dout.shape[-1]))")),
    # --- task 4.6: masked temporal softmax loss
    M("task4_6", "mask ignored",
      ("m = mask.astype(float)", "m = np.ones(mask.shape)")),
    M("task4_6", "divided by the number of real tokens instead of N",
      ("N = x.shape[0]", "N = max(int(mask.sum()), 1)")),
    M("task4_6", "mask applied to the loss but not to the gradient",
      ("return loss, dx * m[:, :, None] / N", "return loss, dx / N")),
    M("task4_6", "softmax without subtracting the maximum",
      ("shifted = x - x.max(axis=2, keepdims=True)", "shifted = x")),
    Mutant(task="task4_6", name="log of probabilities that underflow (as cs231n)", source='''def temporal_softmax_loss(x, y, mask):
    N, T, V = x.shape
    xf, yf, mf = x.reshape(N * T, V), y.reshape(N * T), mask.reshape(N * T)
    probs = np.exp(xf - np.max(xf, axis=1, keepdims=True))
    probs = probs / np.sum(probs, axis=1, keepdims=True)
    logp = np.log(probs[np.arange(N * T), yf])
    loss = -np.sum(mf * logp) / N
    dxf = probs.copy()
    dxf[np.arange(N * T), yf] -= 1
    dxf = dxf / N
    dxf = dxf * mf[:, None]
    return loss, dxf.reshape(N, T, V)
'''),
    # --- task 4.7: global-norm clipping
    M("task4_7", "each array clipped by its own norm",
      ("    total = float(np.sqrt(sum(float(np.sum(np.square(g))) for g in grads)))\n"
       "    scale = max_norm / total if total > max_norm else 1.0\n"
       "    return [np.asarray(g) * scale for g in grads], total",
       "    total = float(np.sqrt(sum(float(np.sum(np.square(g))) for g in grads)))\n"
       "    norms = [float(np.linalg.norm(g)) for g in grads]\n"
       "    return [np.asarray(g) * (max_norm / n if n > max_norm else 1.0) for g, n in zip(grads, norms)], total")),
    M("task4_7", "clipped by value at max_norm",
      ("return [np.asarray(g) * scale for g in grads], total",
       "return [np.clip(g, -max_norm, max_norm) for g in grads], total")),
    M("task4_7", "gradients rescaled in place",
      ("return [np.asarray(g) * scale for g in grads], total",
       "for g in grads:\n        g *= scale\n    return list(grads), total")),
    M("task4_7", "always rescaled to max_norm (scales small gradients up)",
      ("scale = max_norm / total if total > max_norm else 1.0", "scale = max_norm / total if total > 0 else 1.0")),
    # --- task 4.8: perplexity
    M("task4_8", "perplexity as exp of the sum",
      ("return float(np.exp(-np.sum(np.asarray(target_logprobs)[m]) / m.sum()))",
       "return float(np.exp(-np.sum(np.asarray(target_logprobs)[m])))")),
    M("task4_8", "mean of per-sentence perplexities",
      ("return float(np.exp(-np.sum(np.asarray(target_logprobs)[m]) / m.sum()))",
       "lp = np.asarray(target_logprobs)\n    rows = [np.exp(-lp[n][m[n]].mean()) for n in range(lp.shape[0]) if m[n].any()]\n"
       "    return float(np.mean(rows))")),
    M("task4_8", "padding counted as tokens",
      ("return float(np.exp(-np.sum(np.asarray(target_logprobs)[m]) / m.sum()))",
       "return float(np.exp(-np.mean(np.asarray(target_logprobs))))")),
]

# The mistakes issue 17 names ("mutants to keep and kill"): every one is among MUTANTS (tests/test_unit04.py).
ISSUE_NAMED = [
    ("task4_1", "tanh derivative from the wrong cache field (prev_h)"),
    ("task4_2", "weight gradients overwritten instead of accumulated over time"),
    ("task4_2", "carried hidden gradient dropped"),
    ("task4_3", "cs231n's gate order (i, f, o, g) on PyTorch-ordered weights"),
    ("task4_3", "the old cell in h"),
    ("task4_3", "an overflowing sigmoid 1/(1+exp(-x))"),
    ("task4_3", "the caller's dnext_c updated in place"),
    ("task4_4", "carried cell gradient dropped"),
    ("task4_5", "plain index assignment drops repeated ids"),
    ("task4_6", "mask ignored"),
    ("task4_6", "divided by the number of real tokens instead of N"),
    ("task4_7", "each array clipped by its own norm"),
    ("task4_8", "perplexity as exp of the sum"),
]
# The mutants graded for real by tests/test_units_grading.py (one notebook per K-th mutant of every task, so at
# most two per task keep that test's share small): each task's first, and the second where the issue names two.
NAMED = [pair for pair in ISSUE_NAMED if pair not in {
    ("task4_3", "the old cell in h"), ("task4_3", "the caller's dnext_c updated in place")}]

_HINTS_SIGMOID = '''def sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
'''

CORRECT_ALTERNATIVES = [
    # the student who follows only the task text's hints, written in their own words
    Mutant(task="task4_1", name="step with the affine backward written out per input", source='''def rnn_step_forward(x, prev_h, Wx, Wh, b):
    a = np.dot(x, Wx) + np.dot(prev_h, Wh) + b
    next_h = np.tanh(a)
    cache = RNNStepCache(x, prev_h, next_h, Wx, Wh)
    return next_h, cache


def rnn_step_backward(dnext_h, cache):
    da = dnext_h * (1 - cache.next_h * cache.next_h)
    dx = np.dot(da, cache.Wx.T)
    dprev_h = np.dot(da, cache.Wh.T)
    dWx = np.dot(cache.x.T, da)
    dWh = np.dot(cache.prev_h.T, da)
    db = np.sum(da, axis=0)
    return RNNStepGrads(dx, dprev_h, dWx, dWh, db)
'''),
    Mutant(task="task4_2", name="caches kept in a dict, gradients summed after the loop", source='''def rnn_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    hs, caches = [], {}
    h = h0
    for t in range(T):
        h, caches[t] = rnn_step_forward(x[:, t, :], h, Wx, Wh, b)
        hs.append(h)
    return np.stack(hs, axis=1), {"steps": caches, "T": T}


def rnn_backward(dh, cache):
    T = cache["T"]
    dxs, per_step = [None] * T, []
    carried = np.zeros_like(dh[:, 0, :])
    for t in range(T - 1, -1, -1):
        grads = rnn_step_backward(dh[:, t, :] + carried, cache["steps"][t])
        dxs[t] = grads.dx
        carried = grads.dprev_h
        per_step.append(grads)
    return RNNGrads(np.stack(dxs, axis=1), carried, sum(g.dWx for g in per_step),
                    sum(g.dWh for g in per_step), sum(g.db for g in per_step))
'''),
    Mutant(task="task4_3", name="the hints' sigmoid and np.split into four gates", source=_HINTS_SIGMOID + '''

def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    a = x @ Wx + prev_h @ Wh + b
    ai, af, ag, ao = np.split(a, 4, axis=1)
    i, f, g, o = sigmoid(ai), sigmoid(af), np.tanh(ag), sigmoid(ao)
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    return next_h, next_c, LSTMStepCache(x, prev_h, prev_c, i, f, g, o, next_c, Wx, Wh)


def lstm_step_backward(dnext_h, dnext_c, cache):
    tc = np.tanh(cache.next_c)
    dc = dnext_c + dnext_h * cache.o * (1 - tc ** 2)
    df = dc * cache.prev_c
    di = dc * cache.g
    dg = dc * cache.i
    do = dnext_h * tc
    dprev_c = dc * cache.f
    da = np.hstack([di * cache.i * (1 - cache.i), df * cache.f * (1 - cache.f), dg * (1 - cache.g ** 2),
                    do * cache.o * (1 - cache.o)])
    return LSTMStepGrads(da @ cache.Wx.T, da @ cache.Wh.T, dprev_c, cache.x.T @ da, cache.prev_h.T @ da,
                         da.sum(axis=0))
'''),
    Mutant(task="task4_3", name="sigmoid through tanh (also stable)", source=_edit(
        "task4_3", ("e = np.exp(-np.abs(x))                      # never overflows: the exponent is <= 0\n"
                    "    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))",
                    "return 0.5 * (1.0 + np.tanh(0.5 * x))"))),
    Mutant(task="task4_4", name="states kept in lists", source='''def lstm_forward(x, h0, Wx, Wh, b):
    hs, caches = [], []
    h, c = h0, np.zeros_like(h0)
    for t in range(x.shape[1]):
        h, c, sc = lstm_step_forward(x[:, t, :], h, c, Wx, Wh, b)
        hs.append(h)
        caches.append(sc)
    return np.stack(hs, axis=1), caches


def lstm_backward(dh, cache):
    T = len(cache)
    dnext_h = np.zeros_like(dh[:, 0, :])
    dnext_c = np.zeros_like(dh[:, 0, :])
    dxs = [None] * T
    dWx = dWh = db = 0
    for t in reversed(range(T)):
        g = lstm_step_backward(dh[:, t, :] + dnext_h, dnext_c, cache[t])
        dxs[t] = g.dx
        dnext_h, dnext_c = g.dprev_h, g.dprev_c
        dWx = dWx + g.dWx
        dWh = dWh + g.dWh
        db = db + g.db
    return RNNGrads(np.stack(dxs, axis=1), dnext_h, dWx, dWh, db)
'''),
    Mutant(task="task4_5", name="the hint's np.add.at on flattened arrays", source='''def word_embedding_forward(x, W):
    out = W[x, :]
    return out, EmbeddingCache(x, W.shape[0])


def word_embedding_backward(dout, cache):
    V = cache.vocab_size
    D = dout.shape[2]
    dW = np.zeros((V, D))
    np.add.at(dW, cache.x.reshape(-1), dout.reshape(-1, D))
    return dW
'''),
    Mutant(task="task4_5", name="one-hot matrix product", source='''def word_embedding_forward(x, W):
    onehot = np.eye(W.shape[0])[x]                  # (N, T, V)
    return onehot @ W, EmbeddingCache(x=x, vocab_size=W.shape[0])


def word_embedding_backward(dout, cache):
    onehot = np.eye(cache.vocab_size)[cache.x.reshape(-1)]   # (N*T, V)
    return onehot.T @ dout.reshape(-1, dout.shape[-1])
'''),
    Mutant(task="task4_6", name="flattened rows, log-sum-exp by hand", source='''def temporal_softmax_loss(x, y, mask):
    N, T, V = x.shape
    xf, yf, mf = x.reshape(N * T, V), y.reshape(N * T), mask.reshape(N * T)
    s = xf - np.max(xf, axis=1, keepdims=True)
    logp = s - np.log(np.sum(np.exp(s), axis=1, keepdims=True))
    loss = -np.sum(mf * logp[np.arange(N * T), yf]) / N
    dxf = np.exp(logp)
    dxf[np.arange(N * T), yf] -= 1
    dxf = dxf / N
    dxf = dxf * mf[:, None]
    return loss, dxf.reshape(N, T, V)
'''),
    Mutant(task="task4_7", name="norm by np.linalg.norm of the concatenation", source='''def clip_grad_norm(grads, max_norm):
    total = float(np.linalg.norm(np.concatenate([np.ravel(g) for g in grads])))
    if total > max_norm:
        return [g * (max_norm / total) for g in grads], total
    return [g.copy() for g in grads], total
'''),
    Mutant(task="task4_8", name="mean with np.where weights", source='''def perplexity(target_logprobs, mask):
    mean_nll = -np.average(target_logprobs, weights=np.asarray(mask, dtype=float))
    return float(np.exp(mean_nll))
'''),
]

_LM_MUTANTS = [
    M("task4_9", "targets not shifted (predicts the current character)",
      ("y = torch.stack([ids[s + 1:s + seq_len + 1] for s in starts])", "y = torch.stack([ids[s:s + seq_len] for s in starts])")),
    M("task4_9", "batches drawn from the global RNG (the seed does not repeat a run)",
      ("starts = torch.randint(0, len(ids) - seq_len - 1, (batch_size,), generator=gen)",
       "starts = torch.randint(0, len(ids) - seq_len - 1, (batch_size,))")),
    M("task4_9", "temperature multiplies the logits",
      ("return F.softmax(last / temperature, dim=0)", "return F.softmax(last * temperature, dim=0)")),
    M("task4_9", "temperature 0 not handled (softmax of logits / 0)",
      ("    if temperature == 0:\n        return F.one_hot(last.argmax(), len(last)).double()\n", "")),
]
MUTANTS += _LM_MUTANTS
ISSUE_NAMED.append(("task4_9", "targets not shifted (predicts the current character)"))
NAMED.append(("task4_9", "targets not shifted (predicts the current character)"))

CORRECT_ALTERNATIVES.append(Mutant(task="task4_9", name="the task text's recipe in other words", source='''def train_char_lm(text, *, steps=200, seq_len=32, batch_size=32, lr=1e-2, max_norm=1.0, seed=0):
    data = encode(text)
    g = torch.Generator()
    g.manual_seed(seed)
    model = CharLM(seed=seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for step in range(steps):
        idx = torch.randint(0, len(data) - seq_len - 1, (batch_size,), generator=g)
        windows = torch.stack([data[i:i + seq_len + 1] for i in idx])     # (B, T + 1)
        inputs, targets = windows[:, :-1], windows[:, 1:]
        logits, _ = model(inputs)
        loss = F.cross_entropy(logits.reshape(batch_size * seq_len, -1), targets.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=max_norm)
        optimizer.step()
        losses.append(loss.item())
    return model.eval(), losses


def next_char_probs(model, prompt, temperature=1.0):
    model.eval()
    with torch.no_grad():
        logits = model(encode(prompt)[None, :])[0][0, -1]
    if temperature == 0:
        probs = torch.zeros_like(logits)
        probs[torch.argmax(logits)] = 1.0
        return probs
    return torch.softmax(logits / temperature, dim=-1)


def sample(model, prompt, n, temperature=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = list(prompt)
    for _ in range(n):
        probs = next_char_probs(model, "".join(out), temperature)
        out.append(decode(torch.multinomial(probs, num_samples=1, generator=g)))
    return "".join(out)
'''))
