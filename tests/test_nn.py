"""course_lib.nn against PyTorch (float64) as the oracle, forward AND backward, on odd shapes and
odd non-zero values; numeric gradient checks; hypothesis property tests for invariants."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib import nn
from course_lib.grading import assert_close, numeric_gradient, numeric_gradient_array, rel_error
from tests.strategies import attention_configs, conv_configs, float_arrays, matrices, pool_configs, probabilities, seeds

PROPS = settings(max_examples=25, deadline=None)
RTOL, ATOL = 1e-7, 1e-9


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20260421)


def odd(rng: np.random.Generator, *shape: int, scale: float = 1.0, shift: float = 0.3) -> np.ndarray:
    """Odd non-zero values: normal noise plus a shift, so no parameter hides behind 0 or symmetry."""
    return rng.standard_normal(shape) * scale + shift


def tt(a) -> torch.Tensor:
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=True)


def torch_run(fn, arrays, dout=None):
    """Run ``fn`` on float64 leaf tensors made from ``arrays``; backprop ``dout`` (or a scalar loss).

    Returns the output as NumPy and the list of input gradients."""
    ts = [tt(a) for a in arrays]
    out = fn(*ts)
    if dout is None:
        out.backward()
    else:
        out.backward(torch.as_tensor(dout, dtype=torch.float64))
    grads = [t.grad.numpy() if t.grad is not None else np.zeros_like(a) for t, a in zip(ts, arrays)]
    return out.detach().numpy(), grads


def close(actual, expected, name, rtol=RTOL, atol=ATOL):
    assert_close(actual, expected, rtol=rtol, atol=atol, name=name)


# =========================================================================== affine and activations
def test_affine_matches_torch(rng):
    x, w, b = odd(rng, 3, 2, 4), odd(rng, 8, 5), odd(rng, 5)
    dout = odd(rng, 3, 5)
    out, cache = nn.affine_forward(x, w, b)
    dx, dw, db = nn.affine_backward(dout, cache)
    t_out, (tdx, tdw, tdb) = torch_run(lambda x, w, b: x.reshape(3, -1) @ w + b, [x, w, b], dout)
    close(out, t_out, "affine out")
    close(dx, tdx, "dx")
    close(dw, tdw, "dw")
    close(db, tdb, "db")
    assert dx.shape == x.shape


def test_affine_backward_returns_named_grads(rng):
    x, w, b = odd(rng, 3, 7), odd(rng, 7, 5), odd(rng, 5)
    _, cache = nn.affine_forward(x, w, b)
    g = nn.affine_backward(np.ones((3, 5)), cache)
    assert g._fields == ("dx", "dw", "db")
    close(g.db, np.full(5, 3.0), "db of ones")


@pytest.mark.parametrize("name,tfn", [
    ("relu", torch.relu),
    ("leaky_relu", lambda t: F.leaky_relu(t, 0.13)),
    ("sigmoid", torch.sigmoid),
    ("tanh", torch.tanh),
])
def test_activations_match_torch(rng, name, tfn):
    x = odd(rng, 3, 7, scale=3.0)
    x[0, :3] = [0.0, 40.0, -40.0]
    dout = odd(rng, 3, 7)
    if name == "leaky_relu":
        out, cache = nn.leaky_relu_forward(x, 0.13)
        dx = nn.leaky_relu_backward(dout, cache)
    else:
        out, cache = getattr(nn, f"{name}_forward")(x)
        dx = getattr(nn, f"{name}_backward")(dout, cache)
    t_out, (tdx,) = torch_run(tfn, [x], dout)
    close(out, t_out, f"{name} out")
    close(dx, tdx, f"{name} dx")


def test_sigmoid_is_stable_for_huge_inputs():
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = nn.sigmoid(x)
    close(s, torch.sigmoid(torch.tensor(x)).numpy(), "sigmoid", rtol=1e-12, atol=0)
    assert s[0] > 0 or s[0] == 0.0
    assert s.dtype == np.float64
    assert nn.sigmoid(np.float32([1.0])).dtype == np.float32


# =========================================================================== softmax and losses
def test_softmax_and_log_softmax_match_torch(rng):
    x = odd(rng, 3, 4, 5, scale=5.0)
    for axis in (0, 1, -1):
        close(nn.softmax(x, axis=axis), torch.softmax(torch.tensor(x), dim=axis).numpy(), f"softmax axis={axis}")
        close(nn.log_softmax(x, axis=axis), torch.log_softmax(torch.tensor(x), dim=axis).numpy(),
              f"log_softmax axis={axis}")


@PROPS
@given(x=matrices(bound=50.0), shift=st.floats(-1e3, 1e3))
def test_softmax_rows_sum_to_one_and_are_shift_invariant(x, shift):
    p = nn.softmax(x)
    assert np.all(p >= 0) and np.all(np.isfinite(p))
    close(p.sum(axis=1), np.ones(x.shape[0]), "row sums", rtol=1e-12)
    close(nn.softmax(x + shift), p, "softmax(x + c)", rtol=1e-9, atol=1e-12)


def test_softmax_does_not_overflow():
    x = np.array([[1e4, 0.0, -1e4], [710.0, 710.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = nn.softmax(x)
    close(p, [[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]], "softmax of huge scores")


def test_softmax_loss_matches_torch_cross_entropy(rng):
    scores, y = odd(rng, 3, 5, scale=2.0), np.array([4, 0, 2])
    loss, ds = nn.softmax_loss(scores, y)
    t_loss, (tds,) = torch_run(lambda s: F.cross_entropy(s, torch.tensor(y)), [scores])
    close(loss, t_loss, "softmax loss")
    close(ds, tds, "dscores")


def test_softmax_loss_is_stable_for_extreme_scores():
    scores = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 3.0]])
    y = np.array([1, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, ds = nn.softmax_loss(scores, y)
    t_loss = F.cross_entropy(torch.tensor(scores), torch.tensor(y)).item()
    assert np.isfinite(loss) and np.all(np.isfinite(ds))
    close(loss, t_loss, "loss with extreme scores", rtol=1e-12)


def test_softmax_loss_rejects_bad_labels(rng):
    with pytest.raises(ValueError):
        nn.softmax_loss(odd(rng, 3, 5), np.array([0, 5, 1]))
    with pytest.raises(TypeError):
        nn.softmax_loss(odd(rng, 3, 5), np.array([0.0, 1.0, 1.0]))


def test_svm_loss_matches_torch_multi_margin(rng):
    scores, y = odd(rng, 3, 5), np.array([1, 4, 1])
    loss, ds = nn.svm_loss(scores, y)
    # PyTorch divides by the number of classes C as well as by N.
    t_loss, (tds,) = torch_run(lambda s: F.multi_margin_loss(s, torch.tensor(y), margin=1.0) * 5, [scores])
    close(loss, t_loss, "svm loss")
    close(ds, tds, "svm dscores")


def test_svm_loss_known_value():
    scores = np.array([[3.0, 1.0, 2.5]])   # margins: 1-3+1 = -1 -> 0, 2.5-3+1 = 0.5
    loss, ds = nn.svm_loss(scores, np.array([0]))
    assert loss == pytest.approx(0.5)
    close(ds, [[-1.0, 0.0, 1.0]], "svm dscores")


def test_mse_loss_matches_torch(rng):
    pred, target = odd(rng, 3, 7), odd(rng, 3, 7, shift=-0.2)
    loss, dp = nn.mse_loss(pred, target)
    t_loss, (tdp, _) = torch_run(F.mse_loss, [pred, target])
    close(loss, t_loss, "mse")
    close(dp, tdp, "dpred")


def test_bce_with_logits_matches_torch_and_is_stable(rng):
    z = odd(rng, 3, 7, scale=4.0)
    z[0, :4] = [800.0, -800.0, 40.0, -40.0]
    t = rng.random((3, 7))          # soft targets
    t[0, :2] = [0.0, 1.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, dz = nn.bce_with_logits_loss(z, t)
    t_loss, (tdz, _) = torch_run(F.binary_cross_entropy_with_logits, [z, t])
    close(loss, t_loss, "bce loss")
    close(dz, tdz, "dlogits")


def test_loss_gradients_numerically(rng):
    scores, y = odd(rng, 4, 5), np.array([1, 0, 4, 4])
    _, ds = nn.softmax_loss(scores, y)
    assert rel_error(ds, numeric_gradient(lambda s: nn.softmax_loss(s, y)[0], scores)) < 1e-7
    scores2 = odd(rng, 4, 5)
    _, ds2 = nn.svm_loss(scores2, y)
    assert rel_error(ds2, numeric_gradient(lambda s: nn.svm_loss(s, y)[0], scores2)) < 1e-7
    z, t = odd(rng, 4, 3), rng.random((4, 3))
    _, dz = nn.bce_with_logits_loss(z, t)
    assert rel_error(dz, numeric_gradient(lambda v: nn.bce_with_logits_loss(v, t)[0], z)) < 1e-7


def test_affine_relu_matches_torch(rng):
    x, w, b = odd(rng, 3, 7), odd(rng, 7, 5), odd(rng, 5)
    dout = odd(rng, 3, 5)
    out, cache = nn.affine_relu_forward(x, w, b)
    dx, dw, db = nn.affine_relu_backward(dout, cache)
    t_out, (tdx, tdw, tdb) = torch_run(lambda x, w, b: torch.relu(x @ w + b), [x, w, b], dout)
    assert (out == 0).any() and (out > 0).any()
    for a, e, n_ in ((out, t_out, "out"), (dx, tdx, "dx"), (dw, tdw, "dw"), (db, tdb, "db")):
        close(a, e, f"affine_relu {n_}")


# =========================================================================== batch norm, layer norm
def _bn_torch(x, gamma, beta, rm, rv, training, momentum=0.1, eps=1e-5):
    return F.batch_norm(x, rm, rv, gamma, beta, training=training, momentum=momentum, eps=eps)


def test_batchnorm_train_matches_torch_including_running_stats(rng):
    x, gamma, beta = odd(rng, 3, 7, scale=2.0, shift=1.5), odd(rng, 7), odd(rng, 7)
    dout = odd(rng, 3, 7)
    state = nn.BatchNormState(7, momentum=0.3)
    state.running_mean[:] = odd(rng, 7)
    state.running_var[:] = rng.random(7) + 0.5
    trm, trv = torch.tensor(state.running_mean.copy()), torch.tensor(state.running_var.copy())
    out, cache = nn.batchnorm_forward(x, gamma, beta, state)
    t_out, tg = torch_run(lambda x, g, b: _bn_torch(x, g, b, trm, trv, True, momentum=0.3), [x, gamma, beta], dout)
    close(out, t_out, "batchnorm train out")
    close(state.running_mean, trm.numpy(), "running_mean")
    close(state.running_var, trv.numpy(), "running_var (unbiased, PyTorch)")
    for backward in (nn.batchnorm_backward, nn.batchnorm_backward_alt):
        g = backward(dout, cache)
        for a, e, n_ in zip(g, tg, g._fields):
            close(a, e, f"{backward.__name__} {n_}")


def test_batchnorm_momentum_weights_the_new_statistic(rng):
    x = odd(rng, 4, 3, shift=2.0)
    state = nn.BatchNormState(3, momentum=0.25, unbiased_running_var=False)
    nn.batchnorm_forward(x, np.ones(3), np.zeros(3), state)
    close(state.running_mean, 0.25 * x.mean(axis=0), "running_mean after one step")
    close(state.running_var, 0.75 + 0.25 * x.var(axis=0), "running_var (biased) after one step")


def test_batchnorm_eval_matches_torch_and_leaves_state(rng):
    x, gamma, beta = odd(rng, 3, 7), odd(rng, 7), odd(rng, 7)
    dout = odd(rng, 3, 7)
    rm, rv = odd(rng, 7), rng.random(7) + 0.5
    state = nn.BatchNormState(7, mode="eval", running_mean=rm.copy(), running_var=rv.copy())
    out, cache = nn.batchnorm_forward(x, gamma, beta, state)
    t_out, tg = torch_run(lambda x, g, b: _bn_torch(x, g, b, torch.tensor(rm), torch.tensor(rv), False),
                          [x, gamma, beta], dout)
    close(out, t_out, "batchnorm eval out")
    close(state.running_mean, rm, "running_mean unchanged in eval")
    for backward in (nn.batchnorm_backward, nn.batchnorm_backward_alt):
        for a, e, n_ in zip(backward(dout, cache), tg, ("dx", "dgamma", "dbeta")):
            close(a, e, f"eval {backward.__name__} {n_}")


@PROPS
@given(x=float_arrays(st.tuples(st.integers(2, 6), st.integers(1, 5)), bound=5.0), seed=seeds)
def test_batchnorm_eval_uses_running_stats(x, seed):
    r = np.random.default_rng(seed)
    d = x.shape[1]
    gamma, beta = r.standard_normal(d), r.standard_normal(d)
    rm, rv = r.standard_normal(d), r.random(d) + 0.1
    state = nn.BatchNormState(d, mode="eval", running_mean=rm.copy(), running_var=rv.copy())
    out, _ = nn.batchnorm_forward(x, gamma, beta, state)
    close(out, gamma * (x - rm) / np.sqrt(rv + state.eps) + beta, "eval out", rtol=1e-10)
    # each example is normalised on its own: the batch does not matter in eval mode
    out0, _ = nn.batchnorm_forward(x[:1], gamma, beta, state)
    close(out0, out[:1], "eval out of a batch of one", rtol=1e-10)
    assert np.array_equal(state.running_mean, rm) and np.array_equal(state.running_var, rv)


def test_batchnorm_backward_numerically(rng):
    x, gamma, beta = odd(rng, 4, 3, scale=2.0), odd(rng, 3), odd(rng, 3)
    dout = odd(rng, 4, 3)

    def f(xx):
        return nn.batchnorm_forward(xx, gamma, beta, nn.BatchNormState(3))[0]

    _, cache = nn.batchnorm_forward(x, gamma, beta, nn.BatchNormState(3))
    dx = nn.batchnorm_backward_alt(dout, cache).dx
    assert rel_error(dx, numeric_gradient_array(f, x, dout)) < 1e-6


def test_spatial_batchnorm_matches_torch(rng):
    x, gamma, beta = odd(rng, 3, 4, 5, 7, shift=0.7), odd(rng, 4), odd(rng, 4)
    dout = odd(rng, 3, 4, 5, 7)
    state = nn.BatchNormState(4)
    trm, trv = torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)
    out, cache = nn.spatial_batchnorm_forward(x, gamma, beta, state)
    t_out, tg = torch_run(lambda x, g, b: _bn_torch(x, g, b, trm, trv, True), [x, gamma, beta], dout)
    close(out, t_out, "spatial bn out")
    close(state.running_var, trv.numpy(), "spatial running_var")
    for a, e, n_ in zip(nn.spatial_batchnorm_backward(dout, cache), tg, ("dx", "dgamma", "dbeta")):
        close(a, e, f"spatial bn {n_}")


def test_layernorm_matches_torch(rng):
    x, gamma, beta = odd(rng, 3, 4, 7, scale=3.0, shift=2.0), odd(rng, 7), odd(rng, 7)
    dout = odd(rng, 3, 4, 7)
    out, cache = nn.layernorm_forward(x, gamma, beta)
    t_out, tg = torch_run(lambda x, g, b: F.layer_norm(x, (7,), g, b, eps=1e-5), [x, gamma, beta], dout)
    close(out, t_out, "layernorm out")
    for a, e, n_ in zip(nn.layernorm_backward(dout, cache), tg, ("dx", "dgamma", "dbeta")):
        close(a, e, f"layernorm {n_}")


# =========================================================================== dropout
@PROPS
@given(x=matrices(bound=5.0), p=probabilities)
def test_dropout_eval_is_identity(x, p):
    out, cache = nn.dropout_forward(x, p, train=False, rng=0)
    assert np.array_equal(out, x)
    dout = np.ones_like(x)
    assert np.array_equal(nn.dropout_backward(dout, cache), dout)


@PROPS
@given(p=st.floats(0.05, 0.8), seed=seeds)
def test_dropout_train_preserves_the_mean_and_drops_about_p(p, seed):
    x = np.full((200, 100), 3.0)
    out, _ = nn.dropout_forward(x, p, train=True, rng=seed)
    frac_dropped = np.mean(out == 0)
    assert abs(frac_dropped - p) < 0.03, f"dropped {frac_dropped:.3f} of units, expected p={p:.3f}"
    kept = out[out != 0]
    close(kept, np.full(kept.shape, 3.0 / (1 - p)), "kept units scaled by 1/(1-p)")
    assert abs(out.mean() - 3.0) < 0.25


def test_dropout_backward_uses_the_same_mask_and_rng_is_local(rng):
    x, dout = odd(rng, 3, 7), odd(rng, 3, 7)
    state = np.random.get_state()
    out, cache = nn.dropout_forward(x, 0.4, train=True, rng=123)
    assert np.array_equal(nn.dropout_forward(x, 0.4, train=True, rng=123)[0], out), "same seed, same mask"
    after = np.random.get_state()
    assert all(np.array_equal(a, b) for a, b in zip(state[1:2], after[1:2])) and state[2] == after[2], \
        "dropout touched NumPy's global RNG"
    dx = nn.dropout_backward(dout, cache)
    close(dx, np.where(out == 0, 0.0, dout / 0.6), "dropout dx")
    assert_close(dx, numeric_gradient_array(lambda z: z * cache.scaled_mask, x.copy(), dout), rtol=1e-6,
                 name="dropout dx numeric")
    with pytest.raises(ValueError):
        nn.dropout_forward(x, 1.0, rng=0)


# =========================================================================== convolution
CONV_CASES = [  # (N, C, H, W, F, HH, WW, stride, pad)
    (3, 2, 7, 7, 5, 3, 3, 2, 1),
    (2, 3, 6, 5, 4, 3, 2, 1, 0),
    (1, 1, 8, 8, 2, 5, 5, 3, 2),
    (3, 4, 6, 7, 5, 3, 3, 1, 1),   # the benchmark's form: stride 1, "same" padding
    (2, 3, 5, 6, 2, 1, 2, 1, 2),   # pad larger than the kernel
]


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("impl", ["naive", "fast"])
def test_conv_matches_torch(rng, case, impl):
    n, c, h, w_, f, hh, ww, stride, pad = case
    x, w, b = odd(rng, n, c, h, w_), odd(rng, f, c, hh, ww), odd(rng, f)
    t_out = F.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), stride=stride, padding=pad)
    dout = odd(rng, *t_out.shape)
    out, cache = getattr(nn, f"conv_forward_{impl}")(x, w, b, stride=stride, pad=pad)
    dx, dw, db = getattr(nn, f"conv_backward_{impl}")(dout, cache)
    t_out, (tdx, tdw, tdb) = torch_run(lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=pad),
                                       [x, w, b], dout)
    close(out, t_out, f"conv {impl} out")
    close(dx, tdx, f"conv {impl} dx")
    close(dw, tdw, f"conv {impl} dw")
    close(db, tdb, f"conv {impl} db")


@PROPS
@given(cfg=conv_configs())
def test_conv_fast_equals_naive(cfg):
    out_n, cache_n = nn.conv_forward_naive(**cfg)
    out_f, cache_f = nn.conv_forward_fast(**cfg)
    close(out_f, out_n, "fast vs naive out", rtol=1e-10)
    dout = np.random.default_rng(0).standard_normal(out_n.shape)
    for a, e, n_ in zip(nn.conv_backward_fast(dout, cache_f), nn.conv_backward_naive(dout, cache_n),
                        ("dx", "dw", "db")):
        close(a, e, f"fast vs naive {n_}", rtol=1e-10)


def test_conv_fast_backward_numerically(rng):
    x, w, b = odd(rng, 2, 2, 5, 5), odd(rng, 3, 2, 3, 3), odd(rng, 3)
    dout = odd(rng, 2, 3, 3, 3)
    _, cache = nn.conv_forward_fast(x, w, b, stride=2, pad=1)
    dx, dw, db = nn.conv_backward_fast(dout, cache)
    assert rel_error(dx, numeric_gradient_array(lambda z: nn.conv_forward_fast(z, w, b, 2, 1)[0], x, dout)) < 1e-7
    assert rel_error(dw, numeric_gradient_array(lambda z: nn.conv_forward_fast(x, z, b, 2, 1)[0], w, dout)) < 1e-7
    assert rel_error(db, numeric_gradient_array(lambda z: nn.conv_forward_fast(x, w, z, 2, 1)[0], b, dout)) < 1e-7


def test_conv_fast_backward_twice_on_one_cache(rng):
    """The backward pass reuses the cached columns' memory; a second call must rebuild them."""
    x, w, b = odd(rng, 2, 3, 6, 5), odd(rng, 4, 3, 3, 3), odd(rng, 4)
    out, cache = nn.conv_forward_fast(x, w, b, 1, 1)
    dout = odd(rng, *out.shape)
    first = nn.conv_backward_fast(dout, cache)
    second = nn.conv_backward_fast(dout, cache)
    for a, e, name in zip(second, first, ("dx", "dw", "db")):
        close(a, e, f"second backward {name}", rtol=1e-12)


def test_conv_fast_float32_forward_float64_dout(rng):
    x, w, b = (a.astype(np.float32) for a in (odd(rng, 2, 3, 6, 6), odd(rng, 4, 3, 3, 3), odd(rng, 4)))
    out, cache = nn.conv_forward_fast(x, w, b, 1, 1)
    dout = odd(rng, *out.shape)
    grads = nn.conv_backward_fast(dout, cache)
    want = nn.conv_backward_naive(dout, nn.conv_forward_naive(x.astype(np.float64), w.astype(np.float64),
                                                              b.astype(np.float64), 1, 1)[1])
    for a, e, name in zip(grads, want, ("dx", "dw", "db")):
        assert a.dtype == np.float64, f"{name} should be float64 with a float64 dout"
        close(a, e, f"mixed-precision {name}", rtol=1e-10)


def test_conv_rejects_mismatched_shapes(rng):
    with pytest.raises(ValueError):
        nn.conv_forward_fast(odd(rng, 1, 2, 5, 5), odd(rng, 3, 3, 3, 3), odd(rng, 3))
    with pytest.raises(ValueError):
        nn.conv_forward_fast(odd(rng, 1, 2, 2, 2), odd(rng, 3, 2, 5, 5), odd(rng, 3))


def test_conv_fast_keeps_float32(rng):
    x, w, b = (a.astype(np.float32) for a in (odd(rng, 2, 3, 6, 6), odd(rng, 4, 3, 3, 3), odd(rng, 4)))
    out, cache = nn.conv_forward_fast(x, w, b, 1, 1)
    grads = nn.conv_backward_fast(np.ones_like(out), cache)
    assert out.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)


def test_conv_relu_pool_matches_torch(rng):
    x, w, b = odd(rng, 3, 2, 7, 7), odd(rng, 5, 2, 3, 3), odd(rng, 5)
    dout = odd(rng, 3, 5, 3, 3)
    out, cache = nn.conv_relu_pool_forward(x, w, b, stride=1, pad=1, pool=2)
    dx, dw, db = nn.conv_relu_pool_backward(dout, cache)
    t_out, (tdx, tdw, tdb) = torch_run(
        lambda x, w, b: F.max_pool2d(torch.relu(F.conv2d(x, w, b, padding=1)), 2), [x, w, b], dout)
    for a, e, n_ in ((out, t_out, "out"), (dx, tdx, "dx"), (dw, tdw, "dw"), (db, tdb, "db")):
        close(a, e, f"conv_relu_pool {n_}")


# =========================================================================== pooling
POOL_CASES = [(2, 2, 2), (3, 3, 2), (3, 2, 1), (2, 3, 3)]   # (pool_height, pool_width, stride)


@pytest.mark.parametrize("ph,pw,stride", POOL_CASES)
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("impl", ["naive", "fast"])
def test_pool_matches_torch(rng, ph, pw, stride, kind, impl):
    x = odd(rng, 3, 2, 7, 7)
    tfn = (lambda t: F.max_pool2d(t, (ph, pw), stride)) if kind == "max" else \
        (lambda t: F.avg_pool2d(t, (ph, pw), stride))
    dout = odd(rng, *tfn(torch.tensor(x)).shape)
    out, cache = getattr(nn, f"{kind}_pool_forward_{impl}")(x, ph, pw, stride)
    dx = getattr(nn, f"{kind}_pool_backward_{impl}")(dout, cache)
    t_out, (tdx,) = torch_run(tfn, [x], dout)
    close(out, t_out, f"{kind} pool {impl} out")
    close(dx, tdx, f"{kind} pool {impl} dx")


@pytest.mark.parametrize("impl", ["naive", "fast"])
def test_max_pool_ties_route_gradient_to_the_first_max(impl):
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 2:, 2:] = [[5.0, 5.0], [5.0, 1.0]]
    out, cache = getattr(nn, f"max_pool_forward_{impl}")(x, 2, 2, 2)
    dx = getattr(nn, f"max_pool_backward_{impl}")(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), cache)
    expected = np.zeros((4, 4))
    expected[0, 0], expected[0, 2], expected[2, 0], expected[2, 2] = 1.0, 2.0, 3.0, 4.0
    close(dx[0, 0], expected, f"{impl} max-pool dx with ties")


@PROPS
@given(cfg=pool_configs(integer_values=True))
def test_pool_fast_equals_naive_even_with_ties(cfg):
    x = cfg.pop("x")
    for kind in ("max", "avg"):
        out_n, cache_n = getattr(nn, f"{kind}_pool_forward_naive")(x, **cfg)
        out_f, cache_f = getattr(nn, f"{kind}_pool_forward_fast")(x, **cfg)
        close(out_f, out_n, f"{kind} pool fast vs naive out", rtol=1e-12)
        dout = np.arange(1.0, out_n.size + 1).reshape(out_n.shape)
        dx_n = getattr(nn, f"{kind}_pool_backward_naive")(dout, cache_n)
        dx_f = getattr(nn, f"{kind}_pool_backward_fast")(dout, cache_f)
        close(dx_f, dx_n, f"{kind} pool fast vs naive dx", rtol=1e-12)
        # the gradient is conserved: every output hands all of its gradient to the input
        close(dx_f.sum(), dout.sum(), f"{kind} pool gradient total", rtol=1e-12)


# the two paths of the fast max pool: windows that tile the input (a reshape, exact or with a
# dropped border) and overlapping or gapped windows (strided slices)
TILE_CASES = [(2, 2), (3, 3), (1, 1)]          # (pool size, stride) with stride == pool size
SLICE_CASES = [(3, 2), (2, 1), (2, 3)]         # overlapping, overlapping, gaps


@pytest.mark.parametrize("size,stride", TILE_CASES + SLICE_CASES)
@pytest.mark.parametrize("hw", [(12, 12), (9, 13), (7, 6)])
def test_max_pool_fast_paths_match_torch_and_naive(rng, size, stride, hw):
    x = odd(rng, 2, 3, *hw)
    x[0, 0, :3, :3] = 1.5    # a block of ties: the gradient still goes to the first maximum only
    out, cache = nn.max_pool_forward_fast(x, size, size, stride)
    dout = odd(rng, *out.shape)
    dx = nn.max_pool_backward_fast(dout, cache)
    t_out, (tdx,) = torch_run(lambda t: F.max_pool2d(t, size, stride), [x], dout)
    close(out, t_out, f"max pool fast {size}/{stride} {hw} out")
    close(dx, tdx, f"max pool fast {size}/{stride} {hw} dx")
    out_n, cache_n = nn.max_pool_forward_naive(x, size, size, stride)
    np.testing.assert_array_equal(out, out_n)
    # overlapping windows sum into an input in another order: equal up to rounding
    close(dx, nn.max_pool_backward_naive(dout, cache_n), f"max pool fast vs naive {size}/{stride} dx")
    # the fast backward also accepts the naive forward's cache (no argmax stored)
    np.testing.assert_array_equal(nn.max_pool_backward_fast(dout, cache_n), dx)
    assert out.dtype == dx.dtype == np.float64


@pytest.mark.parametrize("size,stride", [(2, 2), (3, 2)])
def test_max_pool_fast_nan_and_float32_match_naive(rng, size, stride):
    x = odd(rng, 2, 2, 8, 7).astype(np.float32)
    x[0, 1, 1, 1] = x[1, 0, 4, 5] = x[1, 0, 5, 4] = np.nan
    x[1, 1, 2, 2] = np.inf
    out, cache = nn.max_pool_forward_fast(x, size, size, stride)
    out_n, cache_n = nn.max_pool_forward_naive(x, size, size, stride)
    np.testing.assert_array_equal(out, out_n)   # NaN in the same places (array_equal equates NaNs)
    dout = np.arange(1, out.size + 1, dtype=np.float32).reshape(out.shape)
    dx = nn.max_pool_backward_fast(dout, cache)
    np.testing.assert_array_equal(dx, nn.max_pool_backward_naive(dout, cache_n))
    assert out.dtype == dx.dtype == np.float32 and np.isnan(out).any()


# =========================================================================== RNN
def test_rnn_step_matches_torch(rng):
    x, h, Wx, Wh, b = odd(rng, 3, 7), odd(rng, 3, 5), odd(rng, 7, 5, scale=0.4), odd(rng, 5, 5, scale=0.4), odd(rng, 5)
    dout = odd(rng, 3, 5)
    out, cache = nn.rnn_step_forward(x, h, Wx, Wh, b)
    g = nn.rnn_step_backward(dout, cache)
    t_out, tg = torch_run(lambda x, h, Wx, Wh, b: torch.tanh(x @ Wx + h @ Wh + b), [x, h, Wx, Wh, b], dout)
    close(out, t_out, "rnn step out")
    for a, e, n_ in zip(g, tg, g._fields):
        close(a, e, f"rnn step {n_}")


def test_rnn_sequence_matches_torch_nn_rnn(rng):
    n, t, d, hdim = 3, 4, 7, 5
    x, h0 = odd(rng, n, t, d), odd(rng, n, hdim)
    Wx, Wh, b = odd(rng, d, hdim, scale=0.4), odd(rng, hdim, hdim, scale=0.4), odd(rng, hdim)
    dh = odd(rng, n, t, hdim)
    h, cache = nn.rnn_forward(x, h0, Wx, Wh, b)
    dx, dh0, dWx, dWh, db = nn.rnn_backward(dh, cache)

    rnn = torch.nn.RNN(d, hdim, batch_first=True).double()
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.tensor(Wx.T))
        rnn.weight_hh_l0.copy_(torch.tensor(Wh.T))
        rnn.bias_ih_l0.copy_(torch.tensor(b))
        rnn.bias_hh_l0.zero_()
    tx, th0 = tt(x), tt(h0[None])
    th, _ = rnn(tx, th0)
    th.backward(torch.tensor(dh))
    close(h, th.detach().numpy(), "rnn h")
    close(dx, tx.grad.numpy(), "rnn dx")
    close(dh0, th0.grad.numpy()[0], "rnn dh0")
    close(dWx, rnn.weight_ih_l0.grad.numpy().T, "rnn dWx")
    close(dWh, rnn.weight_hh_l0.grad.numpy().T, "rnn dWh")
    close(db, rnn.bias_ih_l0.grad.numpy(), "rnn db")


def _torch_lstm(d, hdim, Wx, Wh, b, cell=False):
    m = (torch.nn.LSTMCell(d, hdim) if cell else torch.nn.LSTM(d, hdim, batch_first=True)).double()
    suffix = "" if cell else "_l0"
    with torch.no_grad():
        getattr(m, "weight_ih" + suffix).copy_(torch.tensor(Wx.T))
        getattr(m, "weight_hh" + suffix).copy_(torch.tensor(Wh.T))
        getattr(m, "bias_ih" + suffix).copy_(torch.tensor(b))
        getattr(m, "bias_hh" + suffix).zero_()
    return m, suffix


def test_lstm_step_matches_torch_lstm_cell(rng):
    n, d, hdim = 3, 7, 5
    x, h, c = odd(rng, n, d), odd(rng, n, hdim), odd(rng, n, hdim)
    Wx, Wh, b = odd(rng, d, 4 * hdim, scale=0.4), odd(rng, hdim, 4 * hdim, scale=0.4), odd(rng, 4 * hdim)
    dnh, dnc = odd(rng, n, hdim), odd(rng, n, hdim)
    nh, nc, cache = nn.lstm_step_forward(x, h, c, Wx, Wh, b)
    g = nn.lstm_step_backward(dnh, dnc, cache)
    cell, _ = _torch_lstm(d, hdim, Wx, Wh, b, cell=True)
    tx, th, tc = tt(x), tt(h), tt(c)
    tnh, tnc = cell(tx, (th, tc))
    (tnh * torch.tensor(dnh) + tnc * torch.tensor(dnc)).sum().backward()
    close(nh, tnh.detach().numpy(), "lstm next_h")
    close(nc, tnc.detach().numpy(), "lstm next_c")
    close(g.dx, tx.grad.numpy(), "lstm step dx")
    close(g.dprev_h, th.grad.numpy(), "lstm step dprev_h")
    close(g.dprev_c, tc.grad.numpy(), "lstm step dprev_c")
    close(g.dWx, cell.weight_ih.grad.numpy().T, "lstm step dWx")
    close(g.dWh, cell.weight_hh.grad.numpy().T, "lstm step dWh")
    close(g.db, cell.bias_ih.grad.numpy(), "lstm step db")


def test_lstm_sequence_matches_torch_nn_lstm(rng):
    n, t, d, hdim = 3, 4, 7, 5
    x, h0 = odd(rng, n, t, d), odd(rng, n, hdim)
    Wx, Wh, b = odd(rng, d, 4 * hdim, scale=0.4), odd(rng, hdim, 4 * hdim, scale=0.4), odd(rng, 4 * hdim)
    dh = odd(rng, n, t, hdim)
    h, cache = nn.lstm_forward(x, h0, Wx, Wh, b)
    dx, dh0, dWx, dWh, db = nn.lstm_backward(dh, cache)
    lstm, _ = _torch_lstm(d, hdim, Wx, Wh, b)
    tx, th0 = tt(x), tt(h0[None])
    th, _ = lstm(tx, (th0, torch.zeros(1, n, hdim, dtype=torch.float64)))
    th.backward(torch.tensor(dh))
    close(h, th.detach().numpy(), "lstm h")
    close(dx, tx.grad.numpy(), "lstm dx")
    close(dh0, th0.grad.numpy()[0], "lstm dh0")
    close(dWx, lstm.weight_ih_l0.grad.numpy().T, "lstm dWx")
    close(dWh, lstm.weight_hh_l0.grad.numpy().T, "lstm dWh")
    close(db, lstm.bias_ih_l0.grad.numpy(), "lstm db")


def test_lstm_backward_numerically(rng):
    n, t, d, hdim = 2, 3, 3, 2
    x, h0 = odd(rng, n, t, d), odd(rng, n, hdim)
    Wx, Wh, b = odd(rng, d, 4 * hdim), odd(rng, hdim, 4 * hdim), odd(rng, 4 * hdim)
    dh = odd(rng, n, t, hdim)
    _, cache = nn.lstm_forward(x, h0, Wx, Wh, b)
    g = nn.lstm_backward(dh, cache)
    assert rel_error(g.dx, numeric_gradient_array(lambda z: nn.lstm_forward(z, h0, Wx, Wh, b)[0], x, dh)) < 1e-6
    assert rel_error(g.dWh, numeric_gradient_array(lambda z: nn.lstm_forward(x, h0, Wx, z, b)[0], Wh, dh)) < 1e-6


def test_word_embedding_matches_torch_with_repeated_words(rng):
    W = odd(rng, 6, 5)
    x = np.array([[0, 3, 3, 5], [5, 5, 1, 0], [2, 3, 0, 0]])
    dout = odd(rng, 3, 4, 5)
    out, cache = nn.word_embedding_forward(x, W)
    dW = nn.word_embedding_backward(dout, cache)
    t_out, (tdW,) = torch_run(lambda W: F.embedding(torch.tensor(x), W), [W], dout)
    close(out, t_out, "embedding out")
    close(dW, tdW, "embedding dW")
    assert np.all(dW[4] == 0), "an unused word gets no gradient"


def test_temporal_affine_matches_torch(rng):
    x, w, b, dout = odd(rng, 3, 4, 7), odd(rng, 7, 5), odd(rng, 5), odd(rng, 3, 4, 5)
    out, cache = nn.temporal_affine_forward(x, w, b)
    g = nn.temporal_affine_backward(dout, cache)
    t_out, tg = torch_run(lambda x, w, b: x @ w + b, [x, w, b], dout)
    close(out, t_out, "temporal affine out")
    for a, e, n_ in zip(g, tg, g._fields):
        close(a, e, f"temporal affine {n_}")


def test_temporal_softmax_loss_matches_torch(rng):
    n, t, v = 3, 4, 5
    x, y = odd(rng, n, t, v, scale=2.0), rng.integers(0, v, (n, t))
    mask = np.array([[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1]], dtype=bool)
    loss, dx = nn.temporal_softmax_loss(x, y, mask)

    def tfn(xt):
        per = F.cross_entropy(xt.reshape(-1, v), torch.tensor(y.ravel()), reduction="none")
        return (per * torch.tensor(mask.ravel(), dtype=torch.float64)).sum() / n

    t_loss, (tdx,) = torch_run(tfn, [x])
    close(loss, t_loss, "temporal softmax loss (sum over time, mean over N)")
    close(dx, tdx, "temporal softmax dx")
    assert np.all(dx[~mask] == 0)
    assert rel_error(dx, numeric_gradient(lambda z: nn.temporal_softmax_loss(z, y, mask)[0], x)) < 1e-6


# =========================================================================== attention
def _row_visible_mask(rng, *shape):
    mask = rng.random(shape) < 0.5
    mask[..., 0] = True   # every query sees at least one key
    return mask


@pytest.mark.parametrize("masked", [False, True])
def test_attention_matches_torch_sdpa(rng, masked):
    b, h, lq, lk, d, dv = 2, 3, 4, 5, 7, 6
    q, k, v = odd(rng, b, h, lq, d), odd(rng, b, h, lk, d), odd(rng, b, h, lk, dv)
    mask = _row_visible_mask(rng, lq, lk) if masked else None   # (Lq, Lk) broadcast over batch, heads
    dout = odd(rng, b, h, lq, dv)
    out, cache = nn.scaled_dot_product_attention_forward(q, k, v, mask)
    g = nn.scaled_dot_product_attention_backward(dout, cache)
    tmask = None if mask is None else torch.tensor(mask)
    t_out, tg = torch_run(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=tmask), [q, k, v], dout)
    close(out, t_out, "attention out")
    for a, e, n_ in zip(g, tg, g._fields):
        close(a, e, f"attention {n_}")


def test_attention_causal_mask_and_custom_scale(rng):
    q, k, v = odd(rng, 2, 5, 3), odd(rng, 2, 5, 3), odd(rng, 2, 5, 4)
    mask = np.tril(np.ones((5, 5), dtype=bool))
    dout = odd(rng, 2, 5, 4)
    out, cache = nn.scaled_dot_product_attention_forward(q, k, v, mask, scale=0.37)
    g = nn.scaled_dot_product_attention_backward(dout, cache)
    t_out, tg = torch_run(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.37),
                          [q, k, v], dout)
    close(out, t_out, "causal attention out")
    close(out[:, 0], v[:, 0], "the first query sees only the first value")
    for a, e, n_ in zip(g, tg, g._fields):
        close(a, e, f"causal attention {n_}")


def test_attention_fully_masked_rows_give_zeros_not_nan(rng):
    q, k, v = odd(rng, 2, 4, 3), odd(rng, 2, 5, 3), odd(rng, 2, 5, 6)
    mask = _row_visible_mask(rng, 2, 4, 5)
    mask[0, 1] = False
    mask[1, 3] = False
    dout = odd(rng, 2, 4, 6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, cache = nn.scaled_dot_product_attention_forward(q, k, v, mask)
        dq, dk, dv = nn.scaled_dot_product_attention_backward(dout, cache)
    assert np.all(np.isfinite(out)) and all(np.all(np.isfinite(a)) for a in (dq, dk, dv))
    close(out[0, 1], np.zeros(6), "output of a fully masked row")
    close(out[1, 3], np.zeros(6), "output of a fully masked row")
    close(dq[0, 1], np.zeros(3), "dq of a fully masked row")
    # the other rows are unaffected: compare with torch on them only
    ok = mask.any(axis=-1)
    t_out = F.scaled_dot_product_attention(torch.tensor(q), torch.tensor(k), torch.tensor(v),
                                           attn_mask=torch.tensor(mask | ~ok[..., None])).numpy()
    close(out[ok], t_out[ok], "rows with visible keys")
    for name, arr, grad in (("dq", q, dq), ("dk", k, dk), ("dv", v, dv)):
        def f(z, name=name):
            args = {"q": q, "k": k, "v": v}
            args[name[1]] = z
            return nn.scaled_dot_product_attention_forward(args["q"], args["k"], args["v"], mask)[0]
        assert rel_error(grad, numeric_gradient_array(f, arr.copy(), dout)) < 1e-7, name


@PROPS
@given(cfg=attention_configs())
def test_attention_all_visible_mask_equals_unmasked(cfg):
    q, k, v = cfg["q"], cfg["k"], cfg["v"]
    full = np.ones(cfg["mask"].shape, dtype=bool)
    out_m, cache_m = nn.scaled_dot_product_attention_forward(q, k, v, full)
    out_u, cache_u = nn.scaled_dot_product_attention_forward(q, k, v, None)
    close(out_m, out_u, "all-visible mask vs no mask", rtol=1e-12)
    close(cache_m.weights.sum(axis=-1), np.ones(out_u.shape[:-1]), "weights rows sum", rtol=1e-12)
    dout = np.ones_like(out_u)
    for a, e in zip(nn.scaled_dot_product_attention_backward(dout, cache_m),
                    nn.scaled_dot_product_attention_backward(dout, cache_u)):
        close(a, e, "grads all-visible vs unmasked", rtol=1e-10)


@PROPS
@given(cfg=attention_configs())
def test_attention_random_masks_match_torch(cfg):
    q, k, v, mask = cfg["q"], cfg["k"], cfg["v"], cfg["mask"].copy()
    mask[..., 0] = True
    out, cache = nn.scaled_dot_product_attention_forward(q, k, v, mask)
    dout = np.linspace(-1, 1, out.size).reshape(out.shape)
    t_out, tg = torch_run(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=torch.tensor(mask)),
                          [q, k, v], dout)
    close(out, t_out, "attention out")
    for a, e in zip(nn.scaled_dot_product_attention_backward(dout, cache), tg):
        close(a, e, "attention grads")
    assert np.all(cache.weights[~np.broadcast_to(mask, cache.weights.shape)] == 0)


def test_multi_head_attention_matches_torch(rng):
    n, lq, lk, e, heads = 3, 4, 5, 6, 2
    query, key, value = odd(rng, n, lq, e), odd(rng, n, lk, e), odd(rng, n, lk, e)
    Ws = [odd(rng, e, e, scale=0.5) for _ in range(4)]
    bs = [odd(rng, e) for _ in range(4)]
    mask = _row_visible_mask(rng, lq, lk)
    dout = odd(rng, n, lq, e)
    out, cache = nn.multi_head_attention_forward(query, key, value, Ws[0], bs[0], Ws[1], bs[1], Ws[2], bs[2],
                                                 Ws[3], bs[3], num_heads=heads, mask=mask)
    g = nn.multi_head_attention_backward(dout, cache)

    mha = torch.nn.MultiheadAttention(e, heads, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.tensor(np.concatenate([Ws[0].T, Ws[1].T, Ws[2].T])))
        mha.in_proj_bias.copy_(torch.tensor(np.concatenate(bs[:3])))
        mha.out_proj.weight.copy_(torch.tensor(Ws[3].T))
        mha.out_proj.bias.copy_(torch.tensor(bs[3]))
    tq, tk, tv = tt(query), tt(key), tt(value)
    # nn.MultiheadAttention's boolean mask means "NOT allowed": the opposite of ours
    t_out, _ = mha(tq, tk, tv, attn_mask=torch.tensor(~mask), need_weights=False)
    t_out.backward(torch.tensor(dout))
    close(out, t_out.detach().numpy(), "mha out")
    close(g.dquery, tq.grad.numpy(), "mha dquery")
    close(g.dkey, tk.grad.numpy(), "mha dkey")
    close(g.dvalue, tv.grad.numpy(), "mha dvalue")
    w_grad = mha.in_proj_weight.grad.numpy()
    b_grad = mha.in_proj_bias.grad.numpy()
    for i, (dW, db) in enumerate(((g.dWq, g.dbq), (g.dWk, g.dbk), (g.dWv, g.dbv))):
        close(dW, w_grad[i * e:(i + 1) * e].T, f"mha dW{'qkv'[i]}")
        close(db, b_grad[i * e:(i + 1) * e], f"mha db{'qkv'[i]}")
    close(g.dWo, mha.out_proj.weight.grad.numpy().T, "mha dWo")
    close(g.dbo, mha.out_proj.bias.grad.numpy(), "mha dbo")


def test_multi_head_attention_self_attention_numerically(rng):
    n, L, e, heads = 2, 3, 4, 2
    x = odd(rng, n, L, e)
    Ws = [odd(rng, e, e, scale=0.5) for _ in range(4)]
    bs = [odd(rng, e) for _ in range(4)]
    mask = np.tril(np.ones((n, L, L), dtype=bool))
    dout = odd(rng, n, L, e)

    def f(z):
        return nn.multi_head_attention_forward(z, z, z, Ws[0], bs[0], Ws[1], bs[1], Ws[2], bs[2], Ws[3], bs[3],
                                               num_heads=heads, mask=mask)[0]

    _, cache = nn.multi_head_attention_forward(x, x, x, Ws[0], bs[0], Ws[1], bs[1], Ws[2], bs[2], Ws[3], bs[3],
                                               num_heads=heads, mask=mask)
    g = nn.multi_head_attention_backward(dout, cache)
    assert rel_error(g.dquery + g.dkey + g.dvalue, numeric_gradient_array(f, x, dout)) < 1e-7
    with pytest.raises(ValueError):
        nn.multi_head_attention_forward(x, x, x, *[a for pair in zip(Ws, bs) for a in pair], num_heads=3)


@pytest.mark.parametrize("length,dim", [(7, 6), (5, 7), (1, 1)])
def test_sinusoidal_positional_encoding(length, dim):
    pe = nn.sinusoidal_positional_encoding(length, dim)
    assert pe.shape == (length, dim)
    expected = np.empty((length, dim))
    for p in range(length):
        for j in range(dim):
            angle = p / 10000.0 ** ((j - j % 2) / dim)
            expected[p, j] = np.sin(angle) if j % 2 == 0 else np.cos(angle)
    close(pe, expected, "positional encoding", rtol=1e-12)
    close(pe[0], [0.0 if j % 2 == 0 else 1.0 for j in range(dim)], "row 0")
    assert np.all(np.abs(pe) <= 1.0)


# =========================================================================== dtypes
def test_float32_in_float32_out(rng):
    """Layers keep float32 (a NumPy float64 scalar, e.g. np.sqrt(d), would silently upcast)."""
    def f(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    results = {}
    out, c = nn.affine_relu_forward(f(3, 4), f(4, 5), f(5))
    results["affine_relu"] = (out, *nn.affine_relu_backward(f(3, 5), c))
    for name in ("relu", "leaky_relu", "sigmoid", "tanh"):
        out, c = getattr(nn, f"{name}_forward")(f(3, 4))
        results[name] = (out, getattr(nn, f"{name}_backward")(f(3, 4), c))
    for name in ("softmax_loss", "svm_loss"):
        results[name] = (getattr(nn, name)(f(3, 5), np.array([1, 2, 3]))[1],)
    results["mse"] = (nn.mse_loss(f(3, 5), f(3, 5))[1],)
    results["bce"] = (nn.bce_with_logits_loss(f(3, 5), f(3, 5))[1],)
    state = nn.BatchNormState(4, dtype=np.float32)
    out, c = nn.batchnorm_forward(f(3, 4), f(4), f(4), state)
    results["batchnorm"] = (out, state.running_mean, state.running_var, *nn.batchnorm_backward(f(3, 4), c),
                            *nn.batchnorm_backward_alt(f(3, 4), c))
    out, c = nn.layernorm_forward(f(3, 4), f(4), f(4))
    results["layernorm"] = (out, *nn.layernorm_backward(f(3, 4), c))
    out, c = nn.dropout_forward(f(3, 4), 0.3, rng=0)
    results["dropout"] = (out, nn.dropout_backward(f(3, 4), c))
    for kind in ("max", "avg"):
        for impl in ("naive", "fast"):
            out, c = getattr(nn, f"{kind}_pool_forward_{impl}")(f(2, 3, 6, 6), 2, 2, 2)
            results[f"{kind}_pool_{impl}"] = (out, getattr(nn, f"{kind}_pool_backward_{impl}")(f(2, 3, 3, 3), c))
    out, c = nn.conv_forward_naive(f(2, 3, 5, 5), f(2, 3, 3, 3), f(2), 1, 1)
    results["conv_naive"] = (out, *nn.conv_backward_naive(f(2, 2, 5, 5), c))
    out, c = nn.rnn_forward(f(3, 2, 4), f(3, 5), f(4, 5), f(5, 5), f(5))
    results["rnn"] = (out, *nn.rnn_backward(f(3, 2, 5), c))
    out, c = nn.lstm_forward(f(3, 2, 4), f(3, 5), f(4, 20), f(5, 20), f(20))
    results["lstm"] = (out, *nn.lstm_backward(f(3, 2, 5), c))
    out, c = nn.word_embedding_forward(np.array([[1, 2]]), f(4, 3))
    results["embedding"] = (out, nn.word_embedding_backward(f(1, 2, 3), c))
    out, c = nn.temporal_affine_forward(f(3, 2, 4), f(4, 5), f(5))
    results["temporal_affine"] = (out, *nn.temporal_affine_backward(f(3, 2, 5), c))
    results["temporal_softmax"] = (nn.temporal_softmax_loss(f(3, 2, 5), np.zeros((3, 2), int))[1],)
    for mask in (None, np.tril(np.ones((4, 4), bool))):
        out, c = nn.scaled_dot_product_attention_forward(f(2, 4, 3), f(2, 4, 3), f(2, 4, 3), mask)
        results[f"attention mask={mask is not None}"] = (out, *nn.scaled_dot_product_attention_backward(f(2, 4, 3), c))
    params = [f(4, 4) if i % 2 == 0 else f(4) for i in range(8)]
    out, c = nn.multi_head_attention_forward(f(2, 3, 4), f(2, 3, 4), f(2, 3, 4), *params, num_heads=2)
    results["mha"] = (out, *nn.multi_head_attention_backward(f(2, 3, 4), c))
    bad = {k: [str(a.dtype) for a in v] for k, v in results.items() if any(a.dtype != np.float32 for a in v)}
    assert not bad, f"float32 inputs gave other dtypes: {bad}"


def test_batchnorm_rejects_wrong_feature_count(rng):
    with pytest.raises(ValueError, match="shape"):
        nn.batchnorm_forward(odd(rng, 3, 5), np.ones(5), np.zeros(5), nn.BatchNormState(4))
