"""course_lib.autograd against PyTorch (float64) as the oracle, with odd initial values."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.autograd import Tensor, Value, topological_order, unbroadcast
from tests.strategies import float_arrays, seeds


def _t(x):
    return torch.tensor(x, dtype=torch.float64, requires_grad=True)


def test_value_micrograd_expression_matches_torch():
    a, b = Value(-4.1), Value(2.3)
    c = a + b
    d = a * b + b ** 3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + (b + a).relu()
    d = d + 3 * d + (b - a).relu()
    e = c - d
    f = e ** 2
    g = f / 2.0
    g = g + 10.0 / f
    g.backward()

    at, bt = _t(-4.1), _t(2.3)
    ct = at + bt
    dt = at * bt + bt ** 3
    ct = ct + ct + 1
    ct = ct + 1 + ct + (-at)
    dt = dt + dt * 2 + (bt + at).relu()
    dt = dt + 3 * dt + (bt - at).relu()
    et = ct - dt
    ft = et ** 2
    gt = ft / 2.0
    gt = gt + 10.0 / ft
    gt.backward()

    assert math.isclose(g.data, gt.item(), rel_tol=1e-12)
    assert math.isclose(a.grad, at.grad.item(), rel_tol=1e-10)
    assert math.isclose(b.grad, bt.grad.item(), rel_tol=1e-10)


def test_value_elementary_functions_match_torch():
    x, y = Value(0.37), Value(-1.29)
    out = (x.exp() * y.tanh() + (x * 3.1).log() - y.sigmoid() / x + (-y).relu() ** 1.5 - 2 / (y - 7)).tanh()
    out.backward()
    xt, yt = _t(0.37), _t(-1.29)
    ot = (xt.exp() * yt.tanh() + (xt * 3.1).log() - yt.sigmoid() / xt + (-yt).relu() ** 1.5 - 2 / (yt - 7)).tanh()
    ot.backward()
    assert math.isclose(out.data, ot.item(), rel_tol=1e-12)
    assert math.isclose(x.grad, xt.grad.item(), rel_tol=1e-10)
    assert math.isclose(y.grad, yt.grad.item(), rel_tol=1e-10)


def test_value_reused_node_accumulates_and_topological_order():
    a = Value(1.7, label="a")
    b = a * a
    c = b + a
    order = topological_order(c)
    assert order[-1] is c and order.count(a) == 1
    pos = {id(n): i for i, n in enumerate(order)}
    for n in order:
        assert all(pos[id(p)] < pos[id(n)] for p in n._prev)
    c.backward()
    assert math.isclose(a.grad, 2 * 1.7 + 1)
    c.zero_grad()
    assert a.grad == 0.0


def test_value_deep_graph_no_recursion_error():
    x = Value(0.5)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.backward()
    assert math.isclose(x.grad, 1.0001 ** 5000, rel_tol=1e-9)


def test_sigmoid_stable_for_large_inputs():
    assert Value(-800.0).sigmoid().data == pytest.approx(0.0)
    assert Value(800.0).sigmoid().data == pytest.approx(1.0)


@settings(max_examples=30, deadline=None)
@given(st.floats(-3, 3), st.floats(0.1, 3))
def test_value_property_random_inputs(u, v):
    x, y = Value(u), Value(v)
    z = (x * y + y.log() - x.sigmoid() * y.exp()) / (y + 1)
    z.backward()
    xt, yt = _t(u), _t(v)
    zt = (xt * yt + yt.log() - xt.sigmoid() * yt.exp()) / (yt + 1)
    zt.backward()
    assert math.isclose(z.data, zt.item(), rel_tol=1e-9, abs_tol=1e-12)
    assert math.isclose(x.grad, xt.grad.item(), rel_tol=1e-8, abs_tol=1e-10)
    assert math.isclose(y.grad, yt.grad.item(), rel_tol=1e-8, abs_tol=1e-10)


@pytest.mark.parametrize("grad_shape,shape", [((4, 3), (3,)), ((4, 3), (1, 3)), ((4, 3), (4, 1)),
                                              ((2, 4, 3), (4, 3)), ((4, 3), ())])
def test_unbroadcast_is_adjoint_of_broadcast(grad_shape, shape):
    rng = np.random.default_rng(1)
    g = rng.standard_normal(grad_shape)
    x = rng.standard_normal(shape)
    # <broadcast(x), g> == <x, unbroadcast(g)>
    lhs = np.sum(np.broadcast_to(x, grad_shape) * g)
    rhs = np.sum(x * unbroadcast(g, shape))
    assert unbroadcast(g, shape).shape == shape
    assert math.isclose(lhs, rhs, rel_tol=1e-10)


def test_tensor_mlp_matches_torch():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((5, 4))
    y = np.array([0, 2, 1, 2, 0])
    W1 = rng.standard_normal((4, 6)) * 0.7 + 0.13
    b1 = rng.standard_normal(6) * 0.3 - 0.21
    W2 = rng.standard_normal((6, 3)) * 0.9 + 0.05
    b2 = rng.standard_normal((1, 3)) * 0.4 + 0.37

    params = [Tensor(p) for p in (W1, b1, W2, b2)]
    w1, c1, w2, c2 = params
    x = Tensor(X, requires_grad=False)
    h = (x @ w1 + c1).relu()
    g = (x @ w1 - c1).tanh() * 0.5
    scores = (h + g) @ w2 + c2
    loss = scores.softmax_cross_entropy(y) + 0.01 * (w1 * w1).sum() + (w2 ** 2).mean() * 0.02
    loss.backward()

    tp = [_t(p) for p in (W1, b1, W2, b2)]
    tw1, tc1, tw2, tc2 = tp
    tx = torch.tensor(X)
    th = (tx @ tw1 + tc1).relu()
    tg = (tx @ tw1 - tc1).tanh() * 0.5
    ts = (th + tg) @ tw2 + tc2
    tl = (torch.nn.functional.cross_entropy(ts, torch.tensor(y)) + 0.01 * (tw1 * tw1).sum()
          + (tw2 ** 2).mean() * 0.02)
    tl.backward()

    assert math.isclose(float(loss.data), tl.item(), rel_tol=1e-12)
    for p, q in zip(params, tp):
        np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_tensor_elementwise_and_reductions_match_torch():
    rng = np.random.default_rng(3)
    A = rng.uniform(0.3, 2.0, (3, 4))
    B = rng.standard_normal((4,)) + 0.11
    a, b = Tensor(A), Tensor(B)
    out = ((a.log() * b).exp().sum(axis=0) / (a.sum(axis=1, keepdims=True).mean(axis=0) + 1)
           - (2.0 - b).sigmoid() + 1.0 / a.mean(axis=0)).sum()
    out.backward()
    at, bt = _t(A), _t(B)
    ot = ((at.log() * bt).exp().sum(dim=0) / (at.sum(dim=1, keepdim=True).mean(dim=0) + 1)
          - (2.0 - bt).sigmoid() + 1.0 / at.mean(dim=0)).sum()
    ot.backward()
    assert math.isclose(float(out.data), ot.item(), rel_tol=1e-12)
    np.testing.assert_allclose(a.grad, at.grad.numpy(), rtol=1e-9)
    np.testing.assert_allclose(b.grad, bt.grad.numpy(), rtol=1e-9)


def test_tensor_mlp_trains_on_blobs():
    from course_lib.data import make_blobs
    X, y = make_blobs(50, 3, seed=0)
    rng = np.random.default_rng(0)
    W1, b1 = Tensor(rng.standard_normal((2, 16)) * 0.5), Tensor(np.zeros(16))
    W2, b2 = Tensor(rng.standard_normal((16, 3)) * 0.5), Tensor(np.zeros(3))
    params = [W1, b1, W2, b2]
    losses = []
    for _ in range(60):
        loss = ((Tensor(X) @ W1 + b1).relu() @ W2 + b2).softmax_cross_entropy(y)
        for p in params:
            p.grad = np.zeros_like(p.data)
        loss.backward()
        for p in params:
            p.data -= 0.5 * p.grad
        losses.append(float(loss.data))
    assert losses[-1] < 0.3 * losses[0]


@st.composite
def broadcast_pairs(draw):
    """Two float64 arrays whose shapes broadcast: (n, m) with (m,), (1, m), (n, 1) or (n, m)."""
    n, m = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    other = draw(st.sampled_from([(m,), (1, m), (n, 1), (n, m), ()]))
    return draw(float_arrays((n, m), 3.0)), draw(float_arrays(other, 3.0))


@settings(max_examples=40, deadline=None)
@given(broadcast_pairs(), seeds)
def test_tensor_broadcasting_property(pair, seed):
    A, B = pair
    up = np.random.default_rng(seed).standard_normal(A.shape)   # an arbitrary upstream gradient
    a, b = Tensor(A), Tensor(B)
    out = (a * b + b - a / (b * b + 1.0)).tanh()
    out.backward(up)
    at, bt = _t(A), _t(B)
    ot = (at * bt + bt - at / (bt * bt + 1.0)).tanh()
    ot.backward(torch.tensor(up))
    np.testing.assert_allclose(out.data, ot.detach().numpy(), rtol=1e-12, atol=1e-14)
    assert b.grad.shape == B.shape
    np.testing.assert_allclose(a.grad, at.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(b.grad, bt.grad.numpy(), rtol=1e-9, atol=1e-12)
