"""Layer benchmarks: ``course_lib.nn`` (pure NumPy) against PyTorch on the CPU, same process.

PyTorch is given as many threads as NumPy's BLAS uses (read with threadpoolctl when it is
installed), so the ratio compares implementations, not thread counts.  Each row times
forward + backward; ours and PyTorch's are timed in alternating blocks, each after the other's
threads have gone idle (see :func:`bench.time_pair`).  ``ratio`` is ours / torch on the best (minimum) time:
1.0 is parity, 2.0 twice as slow.

``BENCH_THREADS=1 python -m bench layers`` pins both libraries to that many threads
(NumPy's BLAS through threadpoolctl); on a loaded machine one thread each gives steadier numbers.
"""
from __future__ import annotations

import os

import numpy as np

from bench import time_pair

REPEATS = 15    # rounds of bench.time_pair; each times 3 calls of each library
GOAL_CONV_RATIO = 2.0   # issue 3: the fast convolution within 2x of PyTorch's


def blas_threads() -> int:
    """The number of threads NumPy's BLAS uses (threadpoolctl), else the CPU count."""
    try:
        from threadpoolctl import threadpool_info
        infos = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        if infos:
            return int(infos[0]["num_threads"])
    except Exception:  # threadpoolctl missing or unable to read the library
        pass
    return os.cpu_count() or 1


def _row(name: str, shape: str, dtype, t_ours: dict, t_ref: dict, threads: int, note: str = "",
         scale: float = 1.0, goal_ratio: float | None = None) -> dict:
    ours_best, ours_med = t_ours["best_ms"] * scale, t_ours["median_ms"] * scale
    goal = {} if goal_ratio is None else {"goal_ratio": goal_ratio,
                                          "goal_met": ours_best / t_ref["best_ms"] <= goal_ratio}
    return {
        "benchmark": name, "shape": shape, "dtype": np.dtype(dtype).name, "threads": threads,
        "ours_ms": round(ours_best, 3), "torch_ms": round(t_ref["best_ms"], 3),
        "ratio": round(ours_best / t_ref["best_ms"], 2),
        "ours_median_ms": round(ours_med, 3), "torch_median_ms": round(t_ref["median_ms"], 3),
        "repeats": t_ours["repeats"], **goal, "note": note,
    }


def bench_conv(threads: int, dtype=np.float32) -> list[dict]:
    import torch
    import torch.nn.functional as F

    from course_lib import nn

    rng = np.random.default_rng(0)
    n, c, f, h, k = 64, 16, 32, 16, 3
    x = rng.standard_normal((n, c, h, h)).astype(dtype)
    w = (0.1 * rng.standard_normal((f, c, k, k))).astype(dtype)
    b = rng.standard_normal(f).astype(dtype)
    dout = rng.standard_normal((n, f, h, h)).astype(dtype)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    tdout = torch.tensor(dout)

    def ours():
        out, cache = nn.conv_forward_fast(x, w, b, stride=1, pad=1)
        nn.conv_backward_fast(dout, cache)

    def ref():
        tx.grad = tw.grad = tb.grad = None
        F.conv2d(tx, tw, tb, stride=1, padding=1).backward(tdout)

    shape = f"N={n} C={c}->{f} {h}x{h} k{k} s1 p1"
    rows = [_row("conv2d fwd+bwd fast (im2col)", shape, dtype, *time_pair(ours, ref, REPEATS), threads,
                 goal_ratio=GOAL_CONV_RATIO)]

    # the naive loops: a batch of 2 timed once or twice and scaled to N=64 (loop cost is linear in N)
    nn_ = 2
    xs, ds = x[:nn_], dout[:nn_]

    def ours_naive():
        out, cache = nn.conv_forward_naive(xs, w, b, stride=1, pad=1)
        nn.conv_backward_naive(ds, cache)

    t_naive, t_ref = time_pair(ours_naive, ref, repeats=2, warmup=0, block=1)
    rows.append(_row("conv2d fwd+bwd naive (loops)", shape, dtype, t_naive, t_ref, threads,
                     note=f"estimate: naive timed at N={nn_} and scaled x{n // nn_} to N={n}", scale=n / nn_))
    return rows


def bench_pool(threads: int, dtype=np.float32) -> list[dict]:
    import torch
    import torch.nn.functional as F

    from course_lib import nn

    rng = np.random.default_rng(1)
    shape = (64, 32, 16, 16)
    x = rng.standard_normal(shape).astype(dtype)
    dout = rng.standard_normal((64, 32, 8, 8)).astype(dtype)
    tx, tdout = torch.tensor(x, requires_grad=True), torch.tensor(dout)
    rows = []
    for kind, tfn in (("max", F.max_pool2d), ("avg", F.avg_pool2d)):
        fwd, bwd = getattr(nn, f"{kind}_pool_forward_fast"), getattr(nn, f"{kind}_pool_backward_fast")

        def ours(fwd=fwd, bwd=bwd):
            out, cache = fwd(x, 2, 2, 2)
            bwd(dout, cache)

        def ref(tfn=tfn):
            tx.grad = None
            tfn(tx, 2, 2).backward(tdout)

        rows.append(_row(f"{kind}_pool2d fwd+bwd fast", "N=64 C=32 16x16 k2 s2", dtype,
                         *time_pair(ours, ref, REPEATS), threads))
    return rows


def bench_attention(threads: int, dtype=np.float32) -> list[dict]:
    import torch
    import torch.nn.functional as F

    from course_lib import nn

    rng = np.random.default_rng(2)
    b, h, L, d = 32, 4, 64, 32
    q, k, v = (rng.standard_normal((b, h, L, d)).astype(dtype) for _ in range(3))
    dout = rng.standard_normal((b, h, L, d)).astype(dtype)
    mask = np.tril(np.ones((L, L), dtype=bool))
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    tdout, tmask = torch.tensor(dout), torch.tensor(mask)
    rows = []
    for label, m, tm in (("no mask", None, None), ("causal bool mask", mask, tmask)):
        def ours(m=m):
            out, cache = nn.scaled_dot_product_attention_forward(q, k, v, m)
            nn.scaled_dot_product_attention_backward(dout, cache)

        def ref(tm=tm):
            tq.grad = tk.grad = tv.grad = None
            F.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm).backward(tdout)

        rows.append(_row(f"attention fwd+bwd, {label}", f"B={b} heads={h} L={L} d={d}", dtype,
                         *time_pair(ours, ref, REPEATS), threads,
                         note="torch: F.scaled_dot_product_attention"))
    return rows


def run() -> list[dict]:
    """All layer rows (conv float32 and float64, pooling, attention)."""
    import contextlib

    import torch

    limit = contextlib.nullcontext()
    if os.environ.get("BENCH_THREADS"):
        try:
            from threadpoolctl import threadpool_limits
            limit = threadpool_limits(limits=int(os.environ["BENCH_THREADS"]), user_api="blas")
        except ImportError:
            print("BENCH_THREADS needs threadpoolctl; using NumPy's default thread count")
    with limit:
        return _run_all(torch)


def _run_all(torch) -> list[dict]:
    threads = blas_threads()
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        rows = bench_conv(threads, np.float32)
        rows += bench_conv(threads, np.float64)[:1]
        rows += bench_pool(threads)
        rows += bench_attention(threads)
    finally:
        torch.set_num_threads(old)
    return rows


if __name__ == "__main__":
    from bench.__main__ import format_table
    print(format_table(run()))
