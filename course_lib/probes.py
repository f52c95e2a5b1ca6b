"""Objects a test hands to a student's code to see what it does with them.

A grading test cannot look inside the student's process, so it watches from the objects it
passes in. They are plain classes of an importable module, so the grader can send them to the
student's kernel and read what they recorded back as data.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.device import get_device

__all__ = ["BatchRecorder", "standard_train"]


class BatchRecorder(nn.Module):
    """Wraps a model; in training mode (with gradients on) it keeps every input batch (``batches``)
    and a copy of the wrapped model's parameters before it (``weights``, flattened): enough to see
    whether a training loop reshuffles, how many steps it takes and how its optimiser moves.
    ``max_batches`` stops a loop that trains far longer than the test allows (an error in its
    forward pass)."""

    def __init__(self, net: nn.Module, max_batches: int | None = None):
        super().__init__()
        self.net = net
        self.batches: list[torch.Tensor] = []
        self.weights: list[torch.Tensor] = []
        self.max_batches = max_batches

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and torch.is_grad_enabled():
            if self.max_batches is not None and len(self.batches) >= self.max_batches:
                raise RuntimeError(f"the training loop went past {self.max_batches} minibatches, the budget "
                                   "the test gave it: train for fewer epochs")
            self.batches.append(x.detach().cpu().clone())
            self.weights.append(torch.cat([p.detach().cpu().double().ravel() for p in self.net.parameters()]))
        return self.net(x)


def standard_train(model: nn.Module, X: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor,
                   epochs: int = 10, lr: float = 1e-2, batch_size: int = 64,
                   seed: int = 0) -> nn.Module:
    """The tests' standard training loop (unit 03): Adam, cross-entropy, minibatches reshuffled every
    epoch by a generator seeded with ``seed``, on ``get_device()``; the model is left in eval mode.
    It lives here, beside the student's code, because a model is trained where it lives."""

    dev = get_device()
    model.to(dev).train()
    Xt = torch.as_tensor(np.asarray(X), dtype=torch.float32, device=dev)
    yt = torch.as_tensor(np.asarray(y), dtype=torch.long, device=dev)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        perm = torch.randperm(len(Xt), generator=gen).to(dev)
        for k in range(0, len(Xt), batch_size):
            idx = perm[k:k + batch_size]
            loss = F.cross_entropy(model(Xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    return model
