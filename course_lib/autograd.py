"""A small reverse-mode automatic differentiation engine (the backprop unit).

Two layers, both in the spirit of micrograd:

- :class:`Value`: a scalar that remembers how it was computed. ``backward()``
  orders the graph topologically (:func:`topological_order`) and applies the
  chain rule from the output back to the leaves.
- :class:`Tensor`: the same idea for NumPy arrays, with just enough operations
  (matmul, broadcasting arithmetic, sum, mean, relu, tanh, exp, log,
  softmax cross-entropy) to train a tiny MLP. Broadcasting in the forward pass
  is undone in the backward pass by :func:`unbroadcast` (sum over the axes that
  were expanded).

Gradients *accumulate* (``+=``) as in PyTorch: a node used twice receives the
sum of both contributions. Call ``zero_grad()`` (or rebuild the graph) between steps.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

__all__ = ["Value", "Tensor", "topological_order", "unbroadcast", "parameters_zero_grad"]


def topological_order(root: Any) -> list:
    """Nodes of the graph that produced ``root``, every node after all of its inputs.

    Works for :class:`Value` and :class:`Tensor` (anything with ``_prev``).
    Iterative depth-first search, so deep graphs do not hit Python's recursion limit.

    Returns:
        list of nodes; ``root`` is last.

    Introduced in lecture 02_backprop.
    """
    order, seen = [], set()
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for child in node._prev:
            if id(child) not in seen:
                stack.append((child, False))
    return order


class Value:
    """A scalar node of a computation graph.

    Attributes:
        data: the value (float).
        grad: d(output)/d(this node), filled in by ``backward()`` of the output.
        label: an optional name (for drawing graphs in the lecture).

    Introduced in lecture 02_backprop.
    """

    __slots__ = ("data", "grad", "_backward", "_prev", "_op", "label")

    def __init__(self, data: float, _children: tuple = (), _op: str = "", label: str = ""):
        self.data = float(data)
        self.grad = 0.0
        self._backward: Callable[[], None] = lambda: None
        self._prev = tuple(_children)
        self._op = _op
        self.label = label

    def __repr__(self) -> str:
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"

    @staticmethod
    def _lift(other) -> Value:
        return other if isinstance(other, Value) else Value(other)

    # --- arithmetic -----------------------------------------------------------
    def __add__(self, other) -> Value:
        other = self._lift(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other) -> Value:
        other = self._lift(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __pow__(self, k) -> Value:
        """``self ** k`` for a constant exponent ``k`` (int or float)."""
        if isinstance(k, Value):
            raise TypeError("Value ** Value is not supported; use exp(k * log(x))")
        out = Value(self.data ** k, (self,), f"**{k}")

        def _backward():
            self.grad += k * self.data ** (k - 1) * out.grad
        out._backward = _backward
        return out

    def __neg__(self) -> Value:
        return self * -1.0

    def __sub__(self, other) -> Value:
        return self + (-self._lift(other))

    def __truediv__(self, other) -> Value:
        return self * self._lift(other) ** -1

    def __radd__(self, other) -> Value:
        return self + other

    def __rmul__(self, other) -> Value:
        return self * other

    def __rsub__(self, other) -> Value:
        return self._lift(other) - self

    def __rtruediv__(self, other) -> Value:
        return self._lift(other) / self

    # --- elementary functions -------------------------------------------------
    def _unary(self, value: float, local_grad: float, op: str) -> Value:
        out = Value(value, (self,), op)

        def _backward():
            self.grad += local_grad * out.grad
        out._backward = _backward
        return out

    def exp(self) -> Value:
        e = math.exp(self.data)
        return self._unary(e, e, "exp")

    def log(self) -> Value:
        """Natural logarithm; the input must be positive."""
        return self._unary(math.log(self.data), 1.0 / self.data, "log")

    def tanh(self) -> Value:
        t = math.tanh(self.data)
        return self._unary(t, 1.0 - t * t, "tanh")

    def relu(self) -> Value:
        """max(0, x); the derivative at 0 is taken to be 0 (as PyTorch)."""
        return self._unary(max(0.0, self.data), float(self.data > 0), "relu")

    def sigmoid(self) -> Value:
        x = self.data
        s = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
        return self._unary(s, s * (1.0 - s), "sigmoid")

    # --- backpropagation ------------------------------------------------------
    def backward(self) -> None:
        """Set ``self.grad = 1`` and propagate to every node it depends on (reverse topological order)."""
        order = topological_order(self)
        self.grad = 1.0
        for node in reversed(order):
            node._backward()

    def zero_grad(self) -> None:
        """Reset ``grad`` to 0 for this node and everything it depends on."""
        for node in topological_order(self):
            node.grad = 0.0


# =============================================================================
# Tensors
# =============================================================================

def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``grad`` down to ``shape``: the adjoint of NumPy broadcasting.

    Args:
        grad: gradient with the broadcast (output) shape.
        shape: shape of the operand before broadcasting.

    Returns:
        array of ``shape``.

    Introduced in lecture 02_backprop.
    """
    while grad.ndim > len(shape):           # leading axes that broadcasting added
        grad = grad.sum(axis=0)
    for axis, n in enumerate(shape):        # axes of size 1 that were stretched
        if n == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad.reshape(shape)


class Tensor:
    """An n-dimensional array (float64) that records operations for backprop.

    Attributes:
        data: np.ndarray of float64.
        grad: np.ndarray of the same shape (zeros until ``backward()`` runs).
        requires_grad: informational; gradients are computed for every node.

    Introduced in lecture 02_backprop.
    """

    def __init__(self, data: Any, _children: tuple = (), _op: str = "", requires_grad: bool = True):
        self.data = np.asarray(data, dtype=np.float64)
        self.grad = np.zeros_like(self.data)
        self._backward: Callable[[], None] = lambda: None
        self._prev = tuple(_children)
        self._op = _op
        self.requires_grad = requires_grad

    @property
    def shape(self) -> tuple:
        return self.data.shape

    def __repr__(self) -> str:
        return f"Tensor(shape={self.shape}, op={self._op!r})"

    @staticmethod
    def _lift(other) -> Tensor:
        return other if isinstance(other, Tensor) else Tensor(other, requires_grad=False)

    # --- broadcasting arithmetic ----------------------------------------------
    def __add__(self, other) -> Tensor:
        other = self._lift(other)
        out = Tensor(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += unbroadcast(out.grad, self.shape)
            other.grad += unbroadcast(out.grad, other.shape)
        out._backward = _backward
        return out

    def __mul__(self, other) -> Tensor:
        other = self._lift(other)
        out = Tensor(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += unbroadcast(other.data * out.grad, self.shape)
            other.grad += unbroadcast(self.data * out.grad, other.shape)
        out._backward = _backward
        return out

    def __pow__(self, k: float) -> Tensor:
        out = Tensor(self.data ** k, (self,), f"**{k}")

        def _backward():
            self.grad += k * self.data ** (k - 1) * out.grad
        out._backward = _backward
        return out

    def __neg__(self) -> Tensor:
        return self * -1.0

    def __sub__(self, other) -> Tensor:
        return self + (-self._lift(other))

    def __truediv__(self, other) -> Tensor:
        return self * self._lift(other) ** -1.0

    __radd__ = __add__
    __rmul__ = __mul__

    def __rsub__(self, other) -> Tensor:
        return self._lift(other) - self

    def __rtruediv__(self, other) -> Tensor:
        return self._lift(other) / self

    def __matmul__(self, other) -> Tensor:
        """Matrix product of 2-D tensors: (N, D) @ (D, M) -> (N, M)."""
        other = self._lift(other)
        out = Tensor(self.data @ other.data, (self, other), "@")

        def _backward():
            self.grad += out.grad @ other.data.T
            other.grad += self.data.T @ out.grad
        out._backward = _backward
        return out

    # --- reductions -------------------------------------------------------------
    def sum(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        out = Tensor(self.data.sum(axis=axis, keepdims=keepdims), (self,), "sum")

        def _backward():
            g = out.grad
            if axis is not None and not keepdims:
                g = np.expand_dims(g, axis)
            self.grad += np.broadcast_to(g, self.shape)
        out._backward = _backward
        return out

    def mean(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        n = self.data.size if axis is None else self.data.shape[axis]
        return self.sum(axis=axis, keepdims=keepdims) * (1.0 / n)

    # --- elementwise functions ----------------------------------------------------
    def _unary(self, value: np.ndarray, local_grad: np.ndarray, op: str) -> Tensor:
        out = Tensor(value, (self,), op)

        def _backward():
            self.grad += local_grad * out.grad
        out._backward = _backward
        return out

    def relu(self) -> Tensor:
        return self._unary(np.maximum(self.data, 0.0), (self.data > 0).astype(np.float64), "relu")

    def tanh(self) -> Tensor:
        t = np.tanh(self.data)
        return self._unary(t, 1.0 - t * t, "tanh")

    def exp(self) -> Tensor:
        e = np.exp(self.data)
        return self._unary(e, e, "exp")

    def log(self) -> Tensor:
        return self._unary(np.log(self.data), 1.0 / self.data, "log")

    def sigmoid(self) -> Tensor:
        s = 0.5 * (1.0 + np.tanh(0.5 * self.data))  # stable for large |x|
        return self._unary(s, s * (1.0 - s), "sigmoid")

    def softmax_cross_entropy(self, y: np.ndarray) -> Tensor:
        """Mean cross-entropy of the rows of ``self`` (scores) against integer labels.

        Args:
            y: (N,) integer class labels; ``self`` holds scores of shape (N, C).

        Returns:
            scalar Tensor: mean over N of -log softmax(scores)[i, y_i].
            Gradient wrt scores: (softmax - one_hot(y)) / N.
        """
        y = np.asarray(y)
        shifted = self.data - self.data.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        n = self.data.shape[0]
        out = Tensor(-log_probs[np.arange(n), y].mean(), (self,), "softmax_ce")

        def _backward():
            d = np.exp(log_probs)
            d[np.arange(n), y] -= 1.0
            self.grad += d / n * out.grad
        out._backward = _backward
        return out

    # --- backpropagation ------------------------------------------------------------
    def backward(self, grad: np.ndarray | None = None) -> None:
        """Backpropagate from this tensor; ``grad`` defaults to ones (so a scalar gets d/d self = 1)."""
        order = topological_order(self)
        self.grad = np.ones_like(self.data) if grad is None else np.asarray(grad, dtype=np.float64).copy()
        for node in reversed(order):
            node._backward()

    def zero_grad(self) -> None:
        for node in topological_order(self):
            node.grad = np.zeros_like(node.data)


def parameters_zero_grad(params: Iterable[Tensor]) -> None:
    """Set the gradient of every tensor in ``params`` to zeros.

    Introduced in lecture 02_backprop.
    """
    for p in params:
        p.grad = np.zeros_like(p.data)
