"""Optimisers and learning-rate schedules in NumPy.

Every optimiser exists in two forms:

- a pure function ``<name>_step(w, dw, state, *, lr, ...) -> (w_new, state_new)``
  that does not modify its inputs (``state=None`` on the first call), and
- a class (``SGD``, ``Adagrad``, ``RMSProp``, ``Adam``) that holds a dict (or
  list) of parameter arrays and updates them **in place** with
  ``opt.step(grads)``, which is what :class:`course_lib.train.Solver` uses.
  ``opt.lr`` may be changed between steps (that is how schedules are applied).

Conventions (they follow ``torch.optim``; the literature differs on each):

- **Momentum** (PyTorch form): ``v = mu * v + g; w -= lr * v``. The form in
  Sutskever et al. / cs231n is ``v = mu * v - lr * g; w += v``; the two agree
  while ``lr`` is constant.
- **Nesterov** (PyTorch form): ``v = mu * v + g; w -= lr * (g + mu * v)``.
- **Weight decay** adds ``weight_decay * w`` to the gradient (L2 penalty), except
  in ``adam_step(..., decoupled=True)`` (AdamW), which shrinks the weights
  directly: ``w *= 1 - lr * weight_decay``.
- **Adagrad / RMSProp / Adam** add ``eps`` AFTER the square root:
  ``w -= lr * m / (sqrt(v) + eps)``. (Some texts put eps inside the root.)
- **Adam** is bias-corrected: ``m_hat = m / (1 - beta1**t)``,
  ``v_hat = v / (1 - beta2**t)``, ``t`` counting from 1.

Schedules are plain functions of the step count ``t`` (0, 1, 2, ...) that
return a learning rate.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

#: a model's parameters (or their gradients): a dict name -> array, or a list of arrays
Params = Mapping[str, np.ndarray] | list[np.ndarray]

__all__ = [
    "sgd_step", "adagrad_step", "rmsprop_step", "adam_step",
    "Optimizer", "SGD", "Adagrad", "RMSProp", "Adam", "OPTIMIZERS", "make_optimizer",
    "step_lr", "cosine_lr", "linear_warmup", "warmup_cosine",
]

State = dict


# =============================================================================
# Functional updates
# =============================================================================

def _decay(w: np.ndarray, dw: np.ndarray, weight_decay: float) -> np.ndarray:
    return dw + weight_decay * w if weight_decay else dw


def sgd_step(w: np.ndarray, dw: np.ndarray, state: State | None = None, *, lr: float = 1e-2,
             momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0
             ) -> tuple[np.ndarray, State]:
    """One step of SGD, optionally with (Nesterov) momentum, PyTorch convention.

    Args:
        w: parameters, any shape.
        dw: gradient of the loss wrt ``w``, same shape.
        state: ``{"velocity": array}`` from the previous call, or None.
        lr: learning rate.
        momentum: mu in ``v = mu * v + g``; 0 gives plain SGD.
        nesterov: use the Nesterov look-ahead ``g + mu * v``.
        weight_decay: L2 coefficient added to the gradient.

    Returns:
        (w_new, state_new).

    Introduced in lecture 02_backprop.
    """
    if nesterov and momentum <= 0:
        raise ValueError("Nesterov momentum requires momentum > 0")
    g = _decay(w, dw, weight_decay)
    state = dict(state or {})
    if momentum:
        v = state.get("velocity")
        v = g.copy() if v is None else momentum * v + g   # PyTorch: the first buffer is g itself
        state["velocity"] = v
        g = g + momentum * v if nesterov else v
    return w - lr * g, state


def adagrad_step(w: np.ndarray, dw: np.ndarray, state: State | None = None, *, lr: float = 1e-2,
                 eps: float = 1e-10, weight_decay: float = 0.0) -> tuple[np.ndarray, State]:
    """One Adagrad step: ``G += g**2; w -= lr * g / (sqrt(G) + eps)``.

    Args:
        w, dw: parameters and gradient, same shape.
        state: ``{"sum_sq": array}`` or None.
        eps: added after the square root (PyTorch's default 1e-10).

    Returns:
        (w_new, state_new).

    Introduced in lecture 02_backprop.
    """
    g = _decay(w, dw, weight_decay)
    state = dict(state or {})
    G = state.get("sum_sq", np.zeros_like(w)) + g * g
    state["sum_sq"] = G
    return w - lr * g / (np.sqrt(G) + eps), state


def rmsprop_step(w: np.ndarray, dw: np.ndarray, state: State | None = None, *, lr: float = 1e-2,
                 alpha: float = 0.99, eps: float = 1e-8, momentum: float = 0.0,
                 weight_decay: float = 0.0) -> tuple[np.ndarray, State]:
    """One RMSProp step (PyTorch form, not centred).

    ``s = alpha * s + (1 - alpha) * g**2``; ``w -= lr * g / (sqrt(s) + eps)``.
    With ``momentum``: ``b = momentum * b + g / (sqrt(s) + eps); w -= lr * b``.

    Args:
        w, dw: parameters and gradient, same shape.
        state: ``{"square_avg": array[, "buffer": array]}`` or None.
        alpha: decay rate of the running mean of squares (often called rho or beta).
        eps: added after the square root.

    Returns:
        (w_new, state_new).

    Introduced in lecture 02_backprop.
    """
    g = _decay(w, dw, weight_decay)
    state = dict(state or {})
    s = alpha * state.get("square_avg", np.zeros_like(w)) + (1 - alpha) * g * g
    state["square_avg"] = s
    step = g / (np.sqrt(s) + eps)
    if momentum:
        step = momentum * state.get("buffer", np.zeros_like(w)) + step
        state["buffer"] = step
    return w - lr * step, state


def adam_step(w: np.ndarray, dw: np.ndarray, state: State | None = None, *, lr: float = 1e-3,
              beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
              weight_decay: float = 0.0, decoupled: bool = False) -> tuple[np.ndarray, State]:
    """One bias-corrected Adam step (AdamW with ``decoupled=True``).

    ``m = b1 m + (1 - b1) g``; ``v = b2 v + (1 - b2) g**2``;
    ``w -= lr * m_hat / (sqrt(v_hat) + eps)`` with ``m_hat = m / (1 - b1**t)``,
    ``v_hat = v / (1 - b2**t)``. Note: eps is added AFTER the square root.

    Args:
        w, dw: parameters and gradient, same shape.
        state: ``{"t": int, "m": array, "v": array}`` or None.
        weight_decay: L2 added to the gradient (Adam), or, with ``decoupled=True``,
            a direct shrink ``w *= 1 - lr * weight_decay`` (AdamW, Loshchilov & Hutter).

    Returns:
        (w_new, state_new).

    Introduced in lecture 02_backprop.
    """
    state = dict(state or {})
    if decoupled:
        w = w * (1 - lr * weight_decay)
        g = dw
    else:
        g = _decay(w, dw, weight_decay)
    t = state.get("t", 0) + 1
    m = beta1 * state.get("m", np.zeros_like(w)) + (1 - beta1) * g
    v = beta2 * state.get("v", np.zeros_like(w)) + (1 - beta2) * g * g
    state.update(t=t, m=m, v=v)
    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), state


# =============================================================================
# Objects for the NumPy trainer
# =============================================================================

class Optimizer:
    """Holds parameters and per-parameter state; ``step(grads)`` updates the parameters in place.

    Args:
        params: dict name -> array (a model's ``params``) or a list of arrays.
        lr: learning rate (change ``opt.lr`` between steps to apply a schedule).
        **hyper: the keyword arguments of the functional step.

    Introduced in lecture 02_backprop.
    """

    step_fn: Callable = staticmethod(sgd_step)

    def __init__(self, params: Params, lr: float, **hyper: Any):
        self.params = params
        self.lr = lr
        self.hyper = hyper
        self.state: dict = {}
        self.t = 0

    def _keys(self):
        return list(self.params.keys()) if isinstance(self.params, Mapping) else range(len(self.params))

    def step(self, grads: Params) -> None:
        """Update every parameter with its gradient (same keys / order as ``params``)."""
        for k in self._keys():
            if isinstance(grads, Mapping) and k not in grads:
                continue
            w = self.params[k]
            new_w, self.state[k] = type(self).step_fn(w, grads[k], self.state.get(k), lr=self.lr,
                                                      **self.hyper)
            w[...] = new_w
        self.t += 1

    def __repr__(self) -> str:
        extra = ", ".join(f"{k}={v}" for k, v in self.hyper.items())
        return f"{type(self).__name__}(lr={self.lr}{', ' + extra if extra else ''})"


class SGD(Optimizer):
    """SGD with optional momentum / Nesterov (see :func:`sgd_step`).

    Introduced in lecture 01_linear_classifiers.
    """

    step_fn = staticmethod(sgd_step)

    def __init__(self, params: Params, lr: float = 1e-2, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0):
        super().__init__(params, lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)


class Adagrad(Optimizer):
    """Adagrad (see :func:`adagrad_step`).

    Introduced in lecture 02_backprop.
    """

    step_fn = staticmethod(adagrad_step)

    def __init__(self, params: Params, lr: float = 1e-2, eps: float = 1e-10, weight_decay: float = 0.0):
        super().__init__(params, lr, eps=eps, weight_decay=weight_decay)


class RMSProp(Optimizer):
    """RMSProp (see :func:`rmsprop_step`).

    Introduced in lecture 02_backprop.
    """

    step_fn = staticmethod(rmsprop_step)

    def __init__(self, params: Params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(params, lr, alpha=alpha, eps=eps, momentum=momentum, weight_decay=weight_decay)


class Adam(Optimizer):
    """Adam / AdamW (see :func:`adam_step`).

    Introduced in lecture 02_backprop.
    """

    step_fn = staticmethod(adam_step)

    def __init__(self, params: Params, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, weight_decay: float = 0.0, decoupled: bool = False):
        super().__init__(params, lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                         decoupled=decoupled)


OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "adagrad": Adagrad, "rmsprop": RMSProp, "adam": Adam}


def make_optimizer(name: str, params: Params, **kwargs: Any) -> Optimizer:
    """Build an optimiser by name: ``"sgd"``, ``"momentum"``, ``"nesterov"``, ``"adagrad"``, ``"rmsprop"``,
    ``"adam"``, ``"adamw"``.

    Introduced in lecture 02_backprop.
    """
    name = name.lower()
    if name == "momentum":
        kwargs.setdefault("momentum", 0.9)
        return SGD(params, **kwargs)
    if name == "nesterov":
        kwargs.setdefault("momentum", 0.9)
        return SGD(params, nesterov=True, **kwargs)
    if name == "adamw":
        return Adam(params, decoupled=True, **kwargs)
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimiser {name!r}; choose from sgd, momentum, nesterov, adagrad, "
                         f"rmsprop, adam, adamw")
    return OPTIMIZERS[name](params, **kwargs)


# =============================================================================
# Schedules: learning rate as a function of the step count t = 0, 1, 2, ...
# =============================================================================

def step_lr(t: int, *, base_lr: float, step_size: int, gamma: float = 0.1) -> float:
    """``base_lr * gamma ** (t // step_size)`` (as ``torch.optim.lr_scheduler.StepLR``).

    Introduced in lecture 02_backprop.
    """
    return base_lr * gamma ** (t // step_size)


def cosine_lr(t: int, *, base_lr: float, total_steps: int, min_lr: float = 0.0) -> float:
    """Cosine decay from ``base_lr`` at t=0 to ``min_lr`` at ``t = total_steps`` (then constant).

    ``min_lr + (base_lr - min_lr) * (1 + cos(pi * t / total_steps)) / 2``
    (the closed form of ``torch.optim.lr_scheduler.CosineAnnealingLR`` with ``T_max=total_steps``).

    Introduced in lecture 02_backprop.
    """
    t = min(t, total_steps)
    return min_lr + (base_lr - min_lr) * 0.5 * (1 + math.cos(math.pi * t / total_steps))


def linear_warmup(t: int, *, base_lr: float, warmup_steps: int) -> float:
    """Linear ramp ``base_lr * (t + 1) / warmup_steps`` for the first ``warmup_steps`` steps, then ``base_lr``.

    (Counting ``t + 1`` means the first step already uses a small positive rate.)

    Introduced in lecture 02_backprop.
    """
    if warmup_steps <= 0:
        return base_lr
    return base_lr * min(1.0, (t + 1) / warmup_steps)


def warmup_cosine(t: int, *, base_lr: float, warmup_steps: int, total_steps: int,
                  min_lr: float = 0.0) -> float:
    """Linear warm-up for ``warmup_steps`` steps, then cosine decay to ``min_lr`` at ``total_steps``.

    Introduced in lecture 02_backprop.
    """
    if t < warmup_steps:
        return linear_warmup(t, base_lr=base_lr, warmup_steps=warmup_steps)
    return cosine_lr(t - warmup_steps, base_lr=base_lr, total_steps=max(1, total_steps - warmup_steps),
                     min_lr=min_lr)
