"""2-D convolution and pooling, each in a naive (explicit loops) and a fast (pure NumPy) version.

Shapes follow PyTorch: inputs are (N, C, H, W), filters (F, C, HH, WW).  The
"convolution" is a cross-correlation (no kernel flip), like ``F.conv2d``.
Output sizes are ``H' = (H + 2 * pad - HH) // stride + 1`` (and the same for W);
rows/columns that do not fit a whole window are dropped, as in PyTorch.

The fast convolution is im2col and one matrix product.  Its input is padded and laid out
channels first, each channel's images as one flat row (see ``_Layout``), so that at stride 1
the columns for each kernel offset are one contiguous shifted slice of those rows: HH * WW
copies of long rows (copies in runs of W, or of single elements with
``sliding_window_view``, were 1.5-4x slower in our measurements).  The kernel is evaluated
at every position of the padded grid and the positions that are not outputs are dropped.
A row of ones in the columns adds the bias in the same product.  The backward pass is two
products (``dw`` and ``db`` together, then the columns' gradient) and col2im, one add per
kernel offset into the slice the forward pass copied.

Fast pooling uses one view per window offset too (no window copy); when the windows tile
the input (stride == window size, the usual 2x2/2) the views come from a reshape and the
max-pool backward writes each input once.  The naive versions are for reading, not for
speed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .core import ReluCache, relu_backward, relu_forward

__all__ = [
    "conv_output_size", "ConvCache", "ConvGrads",
    "conv_forward_naive", "conv_backward_naive", "conv_forward_fast", "conv_backward_fast",
    "PoolCache", "max_pool_forward_naive", "max_pool_backward_naive",
    "max_pool_forward_fast", "max_pool_backward_fast",
    "avg_pool_forward_naive", "avg_pool_backward_naive",
    "avg_pool_forward_fast", "avg_pool_backward_fast",
    "ConvReluPoolCache", "conv_relu_pool_forward", "conv_relu_pool_backward",
    "ConvReluCache", "conv_relu_forward", "conv_relu_backward",
]


def conv_output_size(W: int, F: int, P: int = 0, S: int = 1) -> int:
    """Output length along one axis, PyTorch's rule: ``(W - F + 2P) // S + 1`` (rounding down when
    the stride does not divide the span). The arguments are in the order of lecture 03 and Task 3.1:
    input size ``W``, filter size ``F``, padding ``P`` on each side, stride ``S``.

    Raises ValueError when the filter does not fit (``W - F + 2P < 0``), ``S < 1`` or ``P < 0``.

    Introduced in lecture 03_cnn.
    """
    if S < 1:
        raise ValueError(f"stride must be >= 1, got {S}")
    if P < 0:
        raise ValueError(f"pad must be >= 0, got {P}")
    if W - F + 2 * P < 0:
        raise ValueError(f"a filter of size {F} does not fit an input of size {W} padded by {P}")
    return (W - F + 2 * P) // S + 1


@dataclass
class ConvCache:
    """What the convolution backward passes need.

    ``cols`` is the im2col matrix of the fast version (see ``_im2col``), or ``None`` for the
    naive version and after a fast backward pass, which reuses its memory.

    Introduced in lecture 03_cnn.
    """
    x: np.ndarray
    w: np.ndarray
    stride: int
    pad: int
    cols: np.ndarray | None = None


class ConvGrads(NamedTuple):
    """Gradients of a convolution, in the order ``(dx, dw, db)``.

    Introduced in lecture 03_cnn.
    """
    dx: np.ndarray
    dw: np.ndarray
    db: np.ndarray


def _pad(x: np.ndarray, pad: int) -> np.ndarray:
    if pad == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))


# --------------------------------------------------------------------------- naive conv
def conv_forward_naive(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1,
                       pad: int = 0) -> tuple[np.ndarray, ConvCache]:
    """Convolution (cross-correlation) with explicit loops over outputs.

    Args:
        x: (N, C, H, W) input.
        w: (F, C, HH, WW) filters.
        b: (F,) biases.
        stride: step between windows, both directions.
        pad: zeros added on every side of H and W.

    Returns:
        out: (N, F, H', W') and a :class:`ConvCache`.

    Introduced in lecture 03_cnn.
    """
    n, c, h, wd = x.shape
    f, c2, hh, ww = w.shape
    if c != c2:
        raise ValueError(f"x has {c} channels but the filters expect {c2}")
    ho, wo = conv_output_size(h, hh, pad, stride), conv_output_size(wd, ww, pad, stride)
    xp = _pad(x, pad)
    out = np.zeros((n, f, ho, wo), dtype=np.result_type(x, w, b))
    for i in range(n):
        for k in range(f):
            for r in range(ho):
                for s in range(wo):
                    window = xp[i, :, r * stride:r * stride + hh, s * stride:s * stride + ww]
                    out[i, k, r, s] = np.sum(window * w[k]) + b[k]
    return out, ConvCache(x=x, w=w, stride=stride, pad=pad)


def conv_backward_naive(dout: np.ndarray, cache: ConvCache) -> ConvGrads:
    """Backward pass of :func:`conv_forward_naive` with explicit loops.

    Args:
        dout: (N, F, H', W') upstream gradient.

    Returns:
        ``ConvGrads(dx, dw, db)``: (N, C, H, W), (F, C, HH, WW), (F,).

    Introduced in lecture 03_cnn.
    """
    x, w, stride, pad = cache.x, cache.w, cache.stride, cache.pad
    n, f, ho, wo = dout.shape
    hh, ww = w.shape[2:]
    xp = _pad(x, pad)
    dxp = np.zeros_like(xp, dtype=np.result_type(xp, dout))
    dw = np.zeros_like(w, dtype=np.result_type(w, dout))
    db = dout.sum(axis=(0, 2, 3))
    for i in range(n):
        for k in range(f):
            for r in range(ho):
                for s in range(wo):
                    rs, cs = r * stride, s * stride
                    g = dout[i, k, r, s]
                    dw[k] += g * xp[i, :, rs:rs + hh, cs:cs + ww]
                    dxp[i, :, rs:rs + hh, cs:cs + ww] += g * w[k]
    dx = dxp[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]]
    return ConvGrads(dx, dw, db)


# --------------------------------------------------------------------------- fast conv
class _Layout(NamedTuple):
    """Where the fast convolution keeps a padded input: one flat row per channel, (C, length).

    Image ``n``'s value at (row a, column b) sits at ``head + n * hq * wq + a * wq + b``; every
    other value of the row is zero.  The images' rows are ``wq = W + z`` long, and ``hq = H + zv``
    rows apart: the z zeros that end one row are also the left padding of the next, and the zv zero
    rows that end one image are the top padding of the next (z = pad, more only when pad > WW - 1).
    A window whose top-left corner is at flat index ``p`` reads ``p + i * wq + j`` for its kernel
    offset (i, j): every window is one set of shifts of the flat row, and so is every position.
    """
    hq: int
    wq: int
    head: int
    length: int


def _layout(n: int, h: int, wd: int, hh: int, ww: int, pad: int) -> _Layout:
    z, zv = max(pad, 2 * pad - ww + 1), max(pad, 2 * pad - hh + 1)   # room for the output positions too
    hq, wq = h + zv, wd + z
    head = pad * wq + pad
    return _Layout(hq, wq, head, n * hq * wq + max(head, (hh - 1) * wq + ww - 1))


def _grid(buf: np.ndarray, start: int, n: int, lay: _Layout) -> np.ndarray:
    """The (C, N, hq, wq) view of ``buf``'s N * hq * wq values from flat index ``start``."""
    return buf[:, start:start + n * lay.hq * lay.wq].reshape(buf.shape[0], n, lay.hq, lay.wq)


def _positions(lay: _Layout, stride: int, ho: int, wo: int) -> tuple[int, int]:
    """(R, S): where the fast convolution evaluates the kernel, per image (see :func:`_offset_views`)."""
    return (lay.hq, lay.wq) if stride == 1 else (ho, wo)


def _offset_views(buf: np.ndarray, n: int, lay: _Layout, hh: int, ww: int, stride: int,
                  ho: int, wo: int) -> list[np.ndarray]:
    """For each kernel offset (i, j), row-major: the (C, N, R, S) view of ``buf`` that this
    offset of the kernel reads at every position (R, S from :func:`_positions`).

    Stride 1: the positions are every top-left corner of the (N, hq, wq) grid, so the view of
    offset (i, j) is ONE contiguous slice of each channel's row, shifted by ``i * wq + j``.  The
    positions past the last whole window (the last HH - 1 rows and WW - 1 columns of each image)
    read into the next row or image; their results are computed and thrown away.  That is 13% more
    arithmetic at 16x16 with pad 1, but NumPy then copies and adds rows of N * hq * wq values
    instead of runs of W, which made the convolution about 1.5x faster in our measurements.
    Stride > 1: the positions are the output positions, a strided subset of the same slices.
    """
    views = []
    for i in range(hh):
        for j in range(ww):
            grid = _grid(buf, i * lay.wq + j, n, lay)
            views.append(grid if stride == 1 else
                         grid[:, :, :(ho - 1) * stride + 1:stride, :(wo - 1) * stride + 1:stride])
    return views


def _im2col(x: np.ndarray, lay: _Layout, hh: int, ww: int, stride: int, ho: int, wo: int) -> np.ndarray:
    """The im2col matrix, transposed, with a row of ones: (HH * WW * C + 1, N * R * S), rows
    ordered (kernel row, kernel col, channel), one column per position of :func:`_positions`.

    One copy per kernel offset.  The last row is all ones (the "bias trick"): with the biases as
    the weight matrix's last column, one matrix product adds them, and the backward pass's
    product for ``dw`` gives ``db`` as its last column.
    """
    n, c, h, wd = x.shape
    buf = np.zeros((c, lay.length), dtype=x.dtype)
    _grid(buf, lay.head, n, lay)[:, :, :h, :wd] = x.transpose(1, 0, 2, 3)
    views = _offset_views(buf, n, lay, hh, ww, stride, ho, wo)
    cols = np.empty((len(views) * c + 1, views[0].size // c), dtype=x.dtype)
    for o, view in enumerate(views):
        cols[o * c:(o + 1) * c].reshape(view.shape)[...] = view
    cols[-1] = 1
    return cols


def _weight_matrix(w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """(F, HH * WW * C [+ 1]): the filters in the order of :func:`_im2col`'s rows, then the biases."""
    w_mat = w.transpose(0, 2, 3, 1).reshape(w.shape[0], -1)
    return w_mat if b is None else np.concatenate([w_mat, b[:, None].astype(w_mat.dtype)], axis=1)


def conv_forward_fast(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1,
                      pad: int = 0) -> tuple[np.ndarray, ConvCache]:
    """Convolution via im2col and one matrix product; same results as :func:`conv_forward_naive`.

    Args:
        x: (N, C, H, W) input.
        w: (F, C, HH, WW) filters.
        b: (F,) biases.
        stride, pad: as :func:`conv_forward_naive`.

    Returns:
        out: (N, F, H', W') and a :class:`ConvCache` holding the im2col matrix
        (HH * WW * C + 1, positions), so the memory cost is about HH * WW times the padded input's.

    Introduced in lecture 03_cnn.
    """
    n, c, h, wd = x.shape
    f, c2, hh, ww = w.shape
    if c != c2:
        raise ValueError(f"x has {c} channels but the filters expect {c2}")
    ho, wo = conv_output_size(h, hh, pad, stride), conv_output_size(wd, ww, pad, stride)
    lay = _layout(n, h, wd, hh, ww, pad)
    dtype = np.result_type(x, w, b)
    cols = _im2col(x.astype(dtype, copy=False), lay, hh, ww, stride, ho, wo)
    out_all = _weight_matrix(w, b).astype(dtype, copy=False) @ cols   # (F, positions), bias added
    out_all = out_all.reshape(f, n, *_positions(lay, stride, ho, wo))
    out = np.ascontiguousarray(out_all[:, :, :ho, :wo].transpose(1, 0, 2, 3))   # the output positions
    return out, ConvCache(x=x, w=w, stride=stride, pad=pad, cols=cols)


def conv_backward_fast(dout: np.ndarray, cache: ConvCache) -> ConvGrads:
    """Backward pass of :func:`conv_forward_fast`: ``dw`` and ``db`` are one matrix product,
    ``dx`` is another (the columns' gradient) then col2im, one add per kernel offset into the
    view the forward pass copied from.

    The columns' gradient overwrites the cached columns, which are then dropped from the cache:
    a second backward pass on the same cache rebuilds them, as does a cache from
    :func:`conv_forward_naive`.

    Args:
        dout: (N, F, H', W') upstream gradient.

    Returns:
        ``ConvGrads(dx, dw, db)``: (N, C, H, W), (F, C, HH, WW), (F,).

    Introduced in lecture 03_cnn.
    """
    x, w, stride, pad, cols = cache.x, cache.w, cache.stride, cache.pad, cache.cols
    n, c, h, wd = x.shape
    f, _, hh, ww = w.shape
    _, _, ho, wo = dout.shape
    lay = _layout(n, h, wd, hh, ww, pad)
    dtype = np.result_type(x, w, dout)
    if cols is None or cols.dtype != dtype:  # naive forward, used once already, or a wider dout
        cols = _im2col(x.astype(dtype, copy=False), lay, hh, ww, stride, ho, wo)
    d_all = np.zeros((f, n, *_positions(lay, stride, ho, wo)), dtype=dtype)   # 0 where thrown away
    d_all[:, :, :ho, :wo] = dout.transpose(1, 0, 2, 3)
    d_mat = d_all.reshape(f, -1)
    dwb = (cols @ d_mat.T).T                                     # (F, HH*WW*C + 1): dw, then db
    dw, db = dwb[:, :-1].reshape(f, hh, ww, c).transpose(0, 3, 1, 2), dwb[:, -1]
    # dx: the columns' gradient, written over the columns (fresh memory that size cost more
    # than the product), then col2im: each offset's rows added into the view it was copied from
    cache.cols = None
    dcols = np.matmul(_weight_matrix(w).astype(dtype, copy=False).T, d_mat, out=cols[:-1])
    dbuf = np.zeros((c, lay.length), dtype=dtype)
    for o, view in enumerate(_offset_views(dbuf, n, lay, hh, ww, stride, ho, wo)):
        view += dcols[o * c:(o + 1) * c].reshape(view.shape)
    dx = np.ascontiguousarray(_grid(dbuf, lay.head, n, lay)[:, :, :h, :wd].transpose(1, 0, 2, 3))
    return ConvGrads(dx, np.ascontiguousarray(dw), db)


# --------------------------------------------------------------------------- pooling
@dataclass
class PoolCache:
    """What the pooling backward passes need.

    ``argmax`` (max pooling, fast version only) holds, for each output, the flat
    index within its window (row-major over (pool_height, pool_width)) of the FIRST maximum.

    Introduced in lecture 03_cnn.
    """
    x_shape: tuple
    pool_height: int
    pool_width: int
    stride: int
    x: np.ndarray | None = None
    argmax: np.ndarray | None = None


def _pool_sizes(x: np.ndarray, ph: int, pw: int, stride: int) -> tuple[int, int]:
    return conv_output_size(x.shape[2], ph, 0, stride), conv_output_size(x.shape[3], pw, 0, stride)


def max_pool_forward_naive(x: np.ndarray, pool_height: int = 2, pool_width: int = 2,
                           stride: int = 2) -> tuple[np.ndarray, PoolCache]:
    """Max pooling with loops (no padding; incomplete windows at the edge are dropped).

    Args:
        x: (N, C, H, W).
        pool_height, pool_width: window size.
        stride: step between windows.

    Returns:
        out: (N, C, H', W') with ``H' = (H - pool_height) // stride + 1``, and a :class:`PoolCache`.

    Introduced in lecture 03_cnn.
    """
    n, c = x.shape[:2]
    ho, wo = _pool_sizes(x, pool_height, pool_width, stride)
    out = np.empty((n, c, ho, wo), dtype=x.dtype)
    for r in range(ho):
        for s in range(wo):
            win = x[:, :, r * stride:r * stride + pool_height, s * stride:s * stride + pool_width]
            out[:, :, r, s] = win.max(axis=(2, 3))
    return out, PoolCache(x_shape=x.shape, pool_height=pool_height, pool_width=pool_width,
                          stride=stride, x=x)


def max_pool_backward_naive(dout: np.ndarray, cache: PoolCache) -> np.ndarray:
    """Backward pass of max pooling with loops.

    Each output's gradient goes to ONE input: the first maximum of its window in
    row-major order (ties do not split the gradient), as PyTorch's CPU kernel does.
    Overlapping windows (stride < pool size) accumulate.

    Returns:
        dx: (N, C, H, W).

    Introduced in lecture 03_cnn.
    """
    x, ph, pw, st = cache.x, cache.pool_height, cache.pool_width, cache.stride
    assert x is not None, "this cache carries no input (it came from max_pool_forward_fast)"
    n, c, ho, wo = dout.shape
    dx = np.zeros(x.shape, dtype=np.result_type(x, dout))
    for i in range(n):
        for k in range(c):
            for r in range(ho):
                for s in range(wo):
                    win = x[i, k, r * st:r * st + ph, s * st:s * st + pw]
                    a, b = np.unravel_index(int(np.argmax(win)), win.shape)
                    dx[i, k, r * st + a, s * st + b] += dout[i, k, r, s]
    return dx


def _tiles(ph: int, pw: int, stride: int) -> bool:
    """Whether the windows are non-overlapping and gap-free (stride equals both window sides)."""
    return ph == pw == stride


def _window_slices(x: np.ndarray, ph: int, pw: int, stride: int, ho: int, wo: int) -> list[np.ndarray]:
    """The ph * pw views ``x[:, :, r * stride + a, s * stride + b]`` over (r, s), offsets row-major.

    When the windows tile the input they come from one reshape of the covered part
    (``(N, C, H', ph, W', pw)``; a view, no copy); otherwise from strided slices.
    """
    if _tiles(ph, pw, stride):
        n, c = x.shape[:2]
        xr = x[:, :, :ho * ph, :wo * pw].reshape(n, c, ho, ph, wo, pw)
        return [xr[:, :, :, a, :, b] for a in range(ph) for b in range(pw)]
    he, we = (ho - 1) * stride + 1, (wo - 1) * stride + 1
    return [x[:, :, a:a + he:stride, b:b + we:stride] for a in range(ph) for b in range(pw)]


def max_pool_forward_fast(x: np.ndarray, pool_height: int = 2, pool_width: int = 2,
                          stride: int = 2) -> tuple[np.ndarray, PoolCache]:
    """Max pooling by one view per window offset (no window copy); same results and
    conventions as :func:`max_pool_forward_naive`.

    Two paths, same results: when ``stride == pool_height == pool_width`` (the usual
    2x2/2) the views come from reshaping the input to ``(N, C, H', ph, W', pw)``, and the
    backward pass writes each input once instead of accumulating; otherwise they are
    strided slices.  The maximum is the running ``np.maximum`` of the views; the argmax
    is the first offset (row-major) whose view equals the maximum, found with boolean
    masks (``first = equal & ~taken``), which is several times faster than indexed writes.

    Introduced in lecture 03_cnn.
    """
    ho, wo = _pool_sizes(x, pool_height, pool_width, stride)
    slices = _window_slices(x, pool_height, pool_width, stride, ho, wo)
    out = slices[0].copy()
    for sl in slices[1:]:
        np.maximum(out, sl, out=out)
    k = len(slices)
    idx_dtype = np.int8 if k < 2**7 else np.int16 if k < 2**15 else np.int64
    argmax = np.zeros(out.shape, dtype=idx_dtype)
    # NaN: np.maximum propagates it and NaN equals nothing; route to the first NaN (as np.argmax does)
    has_nan = np.issubdtype(out.dtype, np.floating) and np.isnan(out).any()
    taken = np.zeros(out.shape, dtype=bool)
    first = np.empty(out.shape, dtype=bool)
    for o, sl in enumerate(slices):
        np.equal(sl, out, out=first)
        if has_nan:  # where the maximum is NaN only a NaN matches; elsewhere no view holds a NaN
            first |= np.isnan(sl)
        first &= ~taken
        taken |= first
        if o:
            argmax += np.multiply(first, o, dtype=idx_dtype)
    return out, PoolCache(x_shape=x.shape, pool_height=pool_height, pool_width=pool_width,
                          stride=stride, x=x, argmax=argmax)


def max_pool_backward_fast(dout: np.ndarray, cache: PoolCache) -> np.ndarray:
    """Backward pass of :func:`max_pool_forward_fast` (a loop over the window offsets).

    Returns:
        dx: (N, C, H, W); each output's gradient goes to the first maximum of its window.

    Introduced in lecture 03_cnn.
    """
    ph, pw, st = cache.pool_height, cache.pool_width, cache.stride
    argmax = cache.argmax
    if argmax is None:  # cache from the naive forward
        assert cache.x is not None, "a pooling cache needs its input or its argmax"
        argmax = max_pool_forward_fast(cache.x, ph, pw, st)[1].argmax
    n, c, ho, wo = dout.shape
    zero = np.zeros((), dtype=dout.dtype)
    tiles = _tiles(ph, pw, st)
    # tiling windows write every covered input exactly once, so only an uncovered border needs zeros
    exact = tiles and cache.x_shape[2] == ho * ph and cache.x_shape[3] == wo * pw
    dx = np.empty(cache.x_shape, dtype=dout.dtype) if exact else np.zeros(cache.x_shape, dtype=dout.dtype)
    views = _window_slices(dx, ph, pw, st, ho, wo)
    for o, view in enumerate(views):
        # np.where, not dout * mask: an infinite dout times a False mask would give NaN
        sel = np.where(argmax == o, dout, zero)
        if tiles:
            view[...] = sel
        else:
            view += sel
    return dx


def avg_pool_forward_naive(x: np.ndarray, pool_height: int = 2, pool_width: int = 2,
                           stride: int = 2) -> tuple[np.ndarray, PoolCache]:
    """Average pooling with loops (no padding), like ``F.avg_pool2d``.

    Args:
        x: (N, C, H, W); pool_height, pool_width, stride as max pooling.

    Returns:
        out: (N, C, H', W') and a :class:`PoolCache`.

    Introduced in lecture 03_cnn.
    """
    n, c = x.shape[:2]
    ho, wo = _pool_sizes(x, pool_height, pool_width, stride)
    out = np.empty((n, c, ho, wo), dtype=np.result_type(x, np.float32))
    for r in range(ho):
        for s in range(wo):
            win = x[:, :, r * stride:r * stride + pool_height, s * stride:s * stride + pool_width]
            out[:, :, r, s] = win.mean(axis=(2, 3))
    return out, PoolCache(x_shape=x.shape, pool_height=pool_height, pool_width=pool_width, stride=stride)


def avg_pool_backward_naive(dout: np.ndarray, cache: PoolCache) -> np.ndarray:
    """Backward pass of average pooling with loops: each output spreads ``dout / (ph * pw)`` over its window.

    Introduced in lecture 03_cnn.
    """
    ph, pw, st = cache.pool_height, cache.pool_width, cache.stride
    n, c, ho, wo = dout.shape
    dx = np.zeros(cache.x_shape, dtype=dout.dtype)
    for r in range(ho):
        for s in range(wo):
            dx[:, :, r * st:r * st + ph, s * st:s * st + pw] += dout[:, :, r, s, None, None] / (ph * pw)
    return dx


def avg_pool_forward_fast(x: np.ndarray, pool_height: int = 2, pool_width: int = 2,
                          stride: int = 2) -> tuple[np.ndarray, PoolCache]:
    """Average pooling by summing the ph * pw strided slices (no window copy); same results as naive.

    Introduced in lecture 03_cnn.
    """
    ho, wo = _pool_sizes(x, pool_height, pool_width, stride)
    he, we = (ho - 1) * stride + 1, (wo - 1) * stride + 1
    out = np.zeros(x.shape[:2] + (ho, wo), dtype=np.result_type(x, np.float32))
    for a in range(pool_height):
        for b in range(pool_width):
            out += x[:, :, a:a + he:stride, b:b + we:stride]
    out /= pool_height * pool_width
    return out, PoolCache(x_shape=x.shape, pool_height=pool_height, pool_width=pool_width, stride=stride)


def avg_pool_backward_fast(dout: np.ndarray, cache: PoolCache) -> np.ndarray:
    """Backward pass of :func:`avg_pool_forward_fast` (a loop over the window offsets).

    Introduced in lecture 03_cnn.
    """
    ph, pw, st = cache.pool_height, cache.pool_width, cache.stride
    n, c, ho, wo = dout.shape
    he, we = (ho - 1) * st + 1, (wo - 1) * st + 1
    dx = np.zeros(cache.x_shape, dtype=dout.dtype)
    g = dout / (ph * pw)
    for a in range(ph):
        for b in range(pw):
            dx[:, :, a:a + he:st, b:b + we:st] += g
    return dx


# --------------------------------------------------------------------------- composites
@dataclass
class ConvReluCache:
    """Caches of :func:`conv_relu_forward`.

    Introduced in lecture 03_cnn.
    """
    conv: ConvCache
    relu: ReluCache


def conv_relu_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1,
                      pad: int = 0) -> tuple[np.ndarray, ConvReluCache]:
    """Fast convolution followed by ReLU. Shapes as :func:`conv_forward_fast`.

    Introduced in lecture 03_cnn.
    """
    a, cc = conv_forward_fast(x, w, b, stride, pad)
    out, rc = relu_forward(a)
    return out, ConvReluCache(conv=cc, relu=rc)


def conv_relu_backward(dout: np.ndarray, cache: ConvReluCache) -> ConvGrads:
    """Backward pass of :func:`conv_relu_forward`: ``ConvGrads(dx, dw, db)``.

    Introduced in lecture 03_cnn.
    """
    return conv_backward_fast(relu_backward(dout, cache.relu), cache.conv)


@dataclass
class ConvReluPoolCache:
    """Caches of :func:`conv_relu_pool_forward`.

    Introduced in lecture 03_cnn.
    """
    conv: ConvCache
    relu: ReluCache
    pool: PoolCache


def conv_relu_pool_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0,
                           pool: int = 2) -> tuple[np.ndarray, ConvReluPoolCache]:
    """Fast convolution, ReLU, then ``pool x pool`` max pooling with stride ``pool``.

    Introduced in lecture 03_cnn.
    """
    a, cc = conv_forward_fast(x, w, b, stride, pad)
    r, rc = relu_forward(a)
    out, pc = max_pool_forward_fast(r, pool, pool, pool)
    return out, ConvReluPoolCache(conv=cc, relu=rc, pool=pc)


def conv_relu_pool_backward(dout: np.ndarray, cache: ConvReluPoolCache) -> ConvGrads:
    """Backward pass of :func:`conv_relu_pool_forward`: ``ConvGrads(dx, dw, db)``.

    Introduced in lecture 03_cnn.
    """
    dr = max_pool_backward_fast(dout, cache.pool)
    return conv_backward_fast(relu_backward(dr, cache.relu), cache.conv)
