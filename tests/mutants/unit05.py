"""Unit 05 (attention and transformers): plausible wrong implementations of the graded tasks (each must be
killed by its task's test cell) and other correct implementations (each must pass).

A mutant's ``source`` is the full replacement source of that task's solution cell in
solutions/05_attention/05_attention.ipynb, built from the solution itself with ``_swap`` (one or a few
edits), so that it breaks loudly when the solution changes. The bugs are those of
../shared/units/05_attention.md (d) and issue #18.
"""
from __future__ import annotations

from tests.mutants import Mutant, edited_solution, solution_source

UNIT = "05_attention"
NOTEBOOK = "05_attention.ipynb"


def _solution(task: str) -> str:
    """The solution cell of ``task`` without its BEGIN/END SOLUTION marker lines."""
    return solution_source(UNIT, NOTEBOOK, task, markers=False)


def _swap(task: str, *pairs: tuple[str, str]) -> str:
    """The solution of ``task`` with each ``old`` (which must occur exactly once) replaced by ``new``."""
    return edited_solution(UNIT, NOTEBOOK, task, *pairs, markers=False)


def M(task: str, name: str, *pairs: tuple[str, str]) -> Mutant:
    return Mutant(task=task, name=name, source=_swap(task, *pairs))


_SOFTMAX_BODY = """    s = np.where(mask, scores, -np.inf)                     # removed before the softmax
    row_max = s.max(axis=-1, keepdims=True)
    row_max = np.where(np.isfinite(row_max), row_max, 0.0)  # a fully masked row: any finite shift
    e = np.where(mask, np.exp(s - row_max), 0.0)            # exp(-inf) = 0, no warning
    total = e.sum(axis=-1, keepdims=True)
    return e / np.where(total > 0, total, 1.0)              # 0 / 1 = 0 for a fully masked row"""

_BEAM_LOOP = """        alive = []
        for tokens, score in candidates[:beam_size]:
            (finished if tokens[-1] == eos else alive).append((tokens, score))
        if not alive:
            break
    return max(finished + alive, key=lambda c: c[1])"""

MUTANTS = [
    # Task 5.1: masked softmax
    M("task5_1", "mask applied after the softmax",
      (_SOFTMAX_BODY, """    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True) * mask""")),
    M("task5_1", "inverted mask (True = remove)",
      ("    s = np.where(mask, scores, -np.inf)", "    s = np.where(~mask, scores, -np.inf)"),
      ("    e = np.where(mask, np.exp(", "    e = np.where(~mask, np.exp(")),
    M("task5_1", "softmax over the wrong axis",
      (_SOFTMAX_BODY, """    s = np.where(mask, scores, -np.inf)
    row_max = s.max(axis=-2, keepdims=True)
    row_max = np.where(np.isfinite(row_max), row_max, 0.0)
    e = np.where(mask, np.exp(s - row_max), 0.0)
    total = e.sum(axis=-2, keepdims=True)
    return e / np.where(total > 0, total, 1.0)""")),
    M("task5_1", "unstable softmax (no max subtraction)",
      ("    e = np.where(mask, np.exp(s - row_max), 0.0)", "    e = np.where(mask, np.exp(s), 0.0)")),
    M("task5_1", "masked scores filled with -1e9 (a fully masked row becomes uniform)",
      (_SOFTMAX_BODY, """    s = np.where(mask, scores, -1e9)
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)""")),
    # Task 5.2: masks
    M("task5_2", "causal mask j < i (the notes' k=-1: row 0 has no key)",
      ("np.tril(np.ones((T, T), dtype=bool))", "np.tril(np.ones((T, T), dtype=bool), k=-1)")),
    M("task5_2", "padding mask inverted (True = padding, as torch's key_padding_mask)",
      ("np.arange(T)[None, :] < lengths[:, None]", "np.arange(T)[None, :] >= lengths[:, None]")),
    M("task5_2", "causal mask lets queries see the future (triu)",
      ("np.tril(np.ones((T, T), dtype=bool))", "np.triu(np.ones((T, T), dtype=bool))")),
    # Task 5.3: attention forward
    M("task5_3", "scores divided by d_k instead of sqrt(d_k)",
      ("scale = 1.0 / float(np.sqrt(q.shape[-1]))", "scale = 1.0 / float(q.shape[-1])")),
    M("task5_3", "scaled by the value size d_v",
      ("scale = 1.0 / float(np.sqrt(q.shape[-1]))", "scale = 1.0 / float(np.sqrt(v.shape[-1]))")),
    M("task5_3", "softmax over the queries (columns)",
      ("    weights = masked_softmax(scores, mask)",
       "    weights = np.swapaxes(masked_softmax(np.swapaxes(scores, -1, -2),\n"
       "                                         None if mask is None else np.swapaxes(mask, -1, -2)), -1, -2)")),
    M("task5_3", "mask ignored", ("masked_softmax(scores, mask)", "masked_softmax(scores)")),
    M("task5_3", "k.T instead of swapaxes (reverses the batch axes)",
      ("(q @ np.swapaxes(k, -1, -2))", "(q @ k.T)")),
    # Task 5.4: attention backward
    M("task5_4", "softmax backward without the row-sum term",
      ("    dS = A * (dA - np.sum(A * dA, axis=-1, keepdims=True))", "    dS = A * dA")),
    M("task5_4", "the scale forgotten in dq and dk",
      ("    dq = (dS @ k) * scale", "    dq = dS @ k"), ("    dk = (np.swapaxes(dS, -1, -2) @ q) * scale", "    dk = np.swapaxes(dS, -1, -2) @ q")),
    M("task5_4", "softmax backward sums over the wrong axis",
      ("np.sum(A * dA, axis=-1, keepdims=True)", "np.sum(A * dA, axis=-2, keepdims=True)")),
    # Task 5.5: heads
    M("task5_5", "heads split by reshape without transpose",
      ("    return x.reshape(N, L, num_heads, E // num_heads).transpose(0, 2, 1, 3)",
       "    return x.reshape(N, num_heads, L, E // num_heads)")),
    M("task5_5", "heads merged by reshape without transpose",
      ("    return x.transpose(0, 2, 1, 3).reshape(N, L, H * Dh)", "    return x.reshape(N, L, H * Dh)")),
    M("task5_5", "heads take interleaved columns",
      ("    return x.reshape(N, L, num_heads, E // num_heads).transpose(0, 2, 1, 3)",
       "    return x.reshape(N, L, E // num_heads, num_heads).transpose(0, 3, 1, 2)"),
      ("    return x.transpose(0, 2, 1, 3).reshape(N, L, H * Dh)", "    return x.transpose(0, 2, 3, 1).reshape(N, L, H * Dh)")),
    # Task 5.6: multi-head attention
    M("task5_6", "scaled by the model size sqrt(E) instead of the head size",
      ("    heads, _ = attention_forward(Q, K, V, mask)                   # (N, H, Lq, Dh)",
       "    heads, _ = attention_forward(Q * np.sqrt(Q.shape[-1] / E), K, V, mask)")),
    M("task5_6", "heads split by reshape without transpose",
      ("    Q = split_heads(query @ params.Wq + params.bq, num_heads)     # (N, H, Lq, Dh)",
       "    Q = (query @ params.Wq + params.bq).reshape(query.shape[0], num_heads, query.shape[1], -1)"),
      ("    K = split_heads(key @ params.Wk + params.bk, num_heads)       # (N, H, Lk, Dh)",
       "    K = (key @ params.Wk + params.bk).reshape(key.shape[0], num_heads, key.shape[1], -1)"),
      ("    V = split_heads(value @ params.Wv + params.bv, num_heads)",
       "    V = (value @ params.Wv + params.bv).reshape(value.shape[0], num_heads, value.shape[1], -1)")),
    M("task5_6", "mask converted as torch's (inverted)",
      ("        mask = np.asarray(mask, dtype=bool)", "        mask = ~np.asarray(mask, dtype=bool)")),
    M("task5_6", "no output projection",
      ("    return merge_heads(heads) @ params.Wo + params.bo", "    return merge_heads(heads)")),
    M("task5_6", "query projection used for the keys",
      ("K = split_heads(key @ params.Wk + params.bk", "K = split_heads(key @ params.Wq + params.bq")),
    # Task 5.7: positional encoding
    M("task5_7", "sin and cos swapped",
      ("    pe[:, 0::2] = np.sin(angles)", "    pe[:, 0::2] = np.cos(angles)"),
      ("    pe[:, 1::2] = np.cos(angles[:, :D // 2])", "    pe[:, 1::2] = np.sin(angles[:, :D // 2])")),
    M("task5_7", "exponent i / D instead of 2i / D",
      ("    angles = pos / 10000.0 ** (two_i / D)", "    angles = pos / 10000.0 ** (two_i / 2 / D)")),
    M("task5_7", "all sines first, then all cosines",
      ("    pe[:, 0::2] = np.sin(angles)\n    pe[:, 1::2] = np.cos(angles[:, :D // 2])",
       "    pe[:, :angles.shape[1]] = np.sin(angles)\n    pe[:, angles.shape[1]:] = np.cos(angles[:, :D // 2])")),
    M("task5_7", "exponent over every column index (not the pair's)",
      ("    two_i = np.arange(0, D, 2, dtype=np.float64)              # the sine columns 0, 2, 4, ...",
       "    two_i = np.arange(0, D, 2, dtype=np.float64)\n    odd = np.arange(1, D, 2, dtype=np.float64)"),
      ("    pe[:, 1::2] = np.cos(angles[:, :D // 2])", "    pe[:, 1::2] = np.cos(pos / 10000.0 ** (odd / D))")),
    # Task 5.8: byte-pair encoding
    M("task5_8", "overlapping pair counts (aaaa counts aa 3 times)",
      ("""            c, i = 0, 0
            while i < len(symbols) - 1:
                if (symbols[i], symbols[i + 1]) == pair:
                    c, i = c + 1, i + 2
                else:
                    i += 1
            counts[pair] = c""", """            counts[pair] = sum(1 for p in zip(symbols, symbols[1:]) if p == pair)""")),
    M("task5_8", "ties broken alphabetically",
      ("key=lambda p: (-counts[p], first[p])", "key=lambda p: (-counts[p], p)")),
    M("task5_8", "keeps merging pairs that occur once",
      ("        if counts[best] < 2:\n            break\n", "")),
    M("task5_8", "ties broken by the last occurrence",
      ("            first.setdefault(pair, i)", "            first[pair] = -i")),
    # Task 5.9: beam search
    M("task5_9", "beam scores as a product of probabilities",
      ("    alive = [((int(bos),), 0.0)]", "    alive = [((int(bos),), 1.0)]"),
      ("score + float(logp[t])", "score * float(np.exp(logp[t]))"),
      ("    return max(finished + alive, key=lambda c: c[1])",
       "    best = max(finished + alive, key=lambda c: c[1])\n    return best[0], float(np.log(best[1])) if best[1] > 0 else -np.inf")),
    M("task5_9", "finished beams expanded again",
      ("            (finished if tokens[-1] == eos else alive).append((tokens, score))",
       "            alive.append((tokens, score))")),
    M("task5_9", "finished hypotheses dropped",
      ("    return max(finished + alive, key=lambda c: c[1])",
       "    return max(alive or finished, key=lambda c: c[1])")),
    M("task5_9", "keeps the best token of each hypothesis only",
      ("""            for t in range(len(logp)):
                candidates.append((tokens + (t,), score + float(logp[t])))""",
       """            t = int(np.argmax(logp))
            candidates.append((tokens + (t,), score + float(logp[t])))""")),
    # Task 5.10: sequence classifier (PyTorch)
    M("task5_10", "mean pooling over padded frames (the mask ignored in the pooling)",
      ("    scores = (h @ w).masked_fill(~mask, float(\"-inf\"))      # (N, T): padding removed before the softmax",
       "    scores = h @ w")),
    M("task5_10", "pooling softmax over the features",
      ("    weights = torch.softmax(scores, dim=1)\n    pooled = (weights.unsqueeze(-1) * h).sum(dim=1)",
       "    weights = torch.softmax(scores, dim=0)\n    pooled = (weights.unsqueeze(-1) * h).sum(dim=1)")),
    M("task5_10", "padding not masked on keys in the encoder",
      ("self.encoder(self.prenet(x), src_key_padding_mask=~mask)", "self.encoder(self.prenet(x))")),
    M("task5_10", "key padding mask passed in our convention (True = real frame)",
      ("self.encoder(self.prenet(x), src_key_padding_mask=~mask)", "self.encoder(self.prenet(x), src_key_padding_mask=mask)")),
    M("task5_10", "dropout active at test time",
      ("        pooled, _ = attention_pool(h, mask, self.w)",
       "        pooled, _ = attention_pool(F.dropout(h, 0.2, training=True), mask, self.w)")),
]

# The mistakes issue #18 names (graded for real through `course autograde`, one mutant per task per submission,
# so the longest list sets the number of submissions: at most 3 per task). The softmax over the wrong axis is
# graded for real in Task 5.3 ("softmax over the queries"); Task 5.1's version is killed in tests/test_unit05.py.
NAMED = [
    ("task5_1", "mask applied after the softmax"),
    ("task5_1", "inverted mask (True = remove)"),
    ("task5_1", "unstable softmax (no max subtraction)"),
    ("task5_2", "causal mask j < i (the notes' k=-1: row 0 has no key)"),
    ("task5_3", "scores divided by d_k instead of sqrt(d_k)"),
    ("task5_3", "softmax over the queries (columns)"),
    ("task5_5", "heads split by reshape without transpose"),
    ("task5_6", "scaled by the model size sqrt(E) instead of the head size"),
    ("task5_7", "sin and cos swapped"),
    ("task5_7", "exponent i / D instead of 2i / D"),
    ("task5_9", "beam scores as a product of probabilities"),
    ("task5_9", "finished beams expanded again"),
    ("task5_10", "padding not masked on keys in the encoder"),
    ("task5_10", "mean pooling over padded frames (the mask ignored in the pooling)"),
    ("task5_10", "dropout active at test time"),
]

CORRECT_ALTERNATIVES = [
    M("task5_1", "loops over rows, mask filled with -inf",
      (_SOFTMAX_BODY, """    flat_s = scores.reshape(-1, scores.shape[-1])
    flat_m = mask.reshape(-1, scores.shape[-1])
    out = np.zeros_like(flat_s)
    for r in range(flat_s.shape[0]):
        keep = flat_m[r]
        if keep.any():
            z = flat_s[r, keep] - flat_s[r, keep].max()
            out[r, keep] = np.exp(z) / np.exp(z).sum()
    return out.reshape(scores.shape)""")),
    M("task5_2", "causal mask by comparing indices, padding by broadcasting",
      ("np.tril(np.ones((T, T), dtype=bool))", "np.arange(T)[None, :] <= np.arange(T)[:, None]"),
      ("    keep = np.arange(T)[None, :] < lengths[:, None]         # (N, T)\n    return keep[:, None, None, :]",
       "    return np.arange(T).reshape(1, 1, 1, T) < lengths.reshape(-1, 1, 1, 1)")),
    M("task5_3", "scale applied to q, einsum",
      ("    scores = (q @ np.swapaxes(k, -1, -2)) * scale        # (..., Lq, Lk)",
       "    scores = np.einsum('...qd,...kd->...qk', q * scale, k)"),
      ("    out = weights @ v", "    out = np.einsum('...qk,...kd->...qd', weights, v)")),
    M("task5_4", "softmax backward through the full Jacobian, einsum",
      ("    dS = A * (dA - np.sum(A * dA, axis=-1, keepdims=True))",
       "    jac = A[..., :, None] * (np.eye(A.shape[-1]) - A[..., None, :])    # d A_j / d S_l\n"
       "    dS = np.einsum('...j,...jl->...l', dA, jac)")),
    M("task5_5", "heads by slicing and stacking",
      ("    return x.reshape(N, L, num_heads, E // num_heads).transpose(0, 2, 1, 3)",
       "    d = E // num_heads\n    return np.stack([x[:, :, h * d:(h + 1) * d] for h in range(num_heads)], axis=1)"),
      ("    return x.transpose(0, 2, 1, 3).reshape(N, L, H * Dh)",
       "    return np.concatenate([x[:, h] for h in range(H)], axis=-1)")),
    M("task5_6", "a loop over the heads, the mask broadcast by hand",
      ("""    Q = split_heads(query @ params.Wq + params.bq, num_heads)     # (N, H, Lq, Dh)
    K = split_heads(key @ params.Wk + params.bk, num_heads)       # (N, H, Lk, Dh)
    V = split_heads(value @ params.Wv + params.bv, num_heads)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.ndim == 3:
            mask = mask[:, None]                                  # the same mask for every head
    heads, _ = attention_forward(Q, K, V, mask)                   # (N, H, Lq, Dh)
    return merge_heads(heads) @ params.Wo + params.bo""",
       """    Q = split_heads(query @ params.Wq + params.bq, num_heads)
    K = split_heads(key @ params.Wk + params.bk, num_heads)
    V = split_heads(value @ params.Wv + params.bv, num_heads)
    m = None
    if mask is not None:
        m = np.broadcast_to(np.asarray(mask, dtype=bool), (query.shape[0], query.shape[1], key.shape[1]))
    outs = []
    for h in range(num_heads):
        o, _ = attention_forward(Q[:, h], K[:, h], V[:, h], m)
        outs.append(o)
    return np.concatenate(outs, axis=-1) @ params.Wo + params.bo""")),
    M("task5_7", "loops over positions and pairs",
      ("""    pos = np.arange(L, dtype=np.float64)[:, None]             # (L, 1)
    two_i = np.arange(0, D, 2, dtype=np.float64)              # the sine columns 0, 2, 4, ...
    angles = pos / 10000.0 ** (two_i / D)                     # (L, ceil(D / 2))
    pe = np.zeros((L, D))
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles[:, :D // 2])                  # odd D: the last sine has no cosine
""", """    pe = np.zeros((L, D))
    for p in range(L):
        for c in range(0, D, 2):
            angle = p / 10000 ** (c / D)
            pe[p, c] = np.sin(angle)
            if c + 1 < D:
                pe[p, c + 1] = np.cos(angle)
""")),
    # The student who follows the hint of Task 5.8: strings, str.count and str.replace.
    Mutant(task="task5_8", name="the hint: str.count and str.replace", source='''def bpe_train(text, num_merges, new_symbols):
    """Byte-pair encoding: returns (merges, encoded); merges = [(a, b), ...], encoded: str."""
    if len(new_symbols) < num_merges or any(c in text for c in new_symbols):
        raise ValueError("need num_merges new symbols that do not occur in the text")
    s, merges = text, []
    for m in range(num_merges):
        best, best_count = None, 1
        for i in range(len(s) - 1):          # pairs in order of first occurrence: ties keep the first
            pair = s[i:i + 2]
            if s.count(pair) > best_count:
                best, best_count = pair, s.count(pair)
        if best is None:
            break
        merges.append((best[0], best[1]))
        s = s.replace(best, new_symbols[m])
    return merges, s
'''),
    M("task5_9", "heap of candidates, early stop when a finished hypothesis cannot be beaten",
      ("        candidates.sort(key=lambda c: -c[1])\n", ""),
      (_BEAM_LOOP, """        import heapq
        alive = []
        for tokens, score in heapq.nlargest(beam_size, candidates, key=lambda c: c[1]):
            (finished if tokens[-1] == eos else alive).append((tokens, score))
        if not alive or (finished and max(s for _, s in finished) >= max(s for _, s in alive)):
            break
    return max(finished + alive, key=lambda c: c[1])""")),
    M("task5_10", "masked softmax by hand, a small MLP instead of the encoder",
      ("""    scores = (h @ w).masked_fill(~mask, float("-inf"))      # (N, T): padding removed before the softmax
    weights = torch.softmax(scores, dim=1)""",
       """    scores = torch.einsum("nte,e->nt", h, w)
    scores = scores - scores.masked_fill(~mask, float("-inf")).max(dim=1, keepdim=True).values
    e = torch.where(mask, torch.exp(scores), torch.zeros_like(scores))
    weights = e / e.sum(dim=1, keepdim=True)"""),
      ("""        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=64, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)""",
       """        self.encoder = nn.Sequential(nn.ReLU(), nn.Linear(d_model, d_model), nn.Tanh())"""),
      ("self.encoder(self.prenet(x), src_key_padding_mask=~mask)", "self.encoder(self.prenet(x))")),
]

# Solutions that hand the job to what the task forbids (graded for real: the sandbox refuses the import).
SHORTCUTS = [
    Mutant(task="task5_3", name="shortcut: course_lib.nn.attention", source='''
from course_lib.nn.attention import scaled_dot_product_attention_forward as _sdpa


def attention_forward(q, k, v, mask=None):
    out, c = _sdpa(q, k, v, mask)
    return out, AttentionCache(q=q, k=k, v=v, weights=c.weights, scale=c.scale)
'''),
    Mutant(task="task5_1", name="shortcut: torch.softmax", source='''
import torch


def masked_softmax(scores, mask=None):
    s = torch.from_numpy(np.asarray(scores, dtype=np.float64))
    if mask is not None:
        s = s.masked_fill(~torch.from_numpy(np.broadcast_to(mask, s.shape).copy()), float("-inf"))
    return torch.nan_to_num(torch.softmax(s, dim=-1), nan=0.0).numpy()
'''),
]
