"""Training loops: :class:`Solver` for NumPy models and :func:`fit` for PyTorch models.

Both keep a history (loss per step, accuracy per epoch), show a ``tqdm.auto``
progress bar (a widget in notebooks; pass ``progress=False`` in tests and in
graded cells, since nbgrader zeroes a cell that writes to stderr), save and
load checkpoints, stop early when validation accuracy stops improving and
finish with the best parameters seen.

NumPy model contract (cs231n style)::

    model.params: dict[str, np.ndarray]
    model.loss(X) -> scores (N, C)
    model.loss(X, y) -> (loss: float, grads: dict with the keys of params)
"""
from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from . import optim as _optim
from .device import autocast, get_device, to_device

if TYPE_CHECKING:
    # lazy: the NumPy Solver above works without PyTorch (units 01-02, kernels that forbid it)
    import torch

    from .device import DeviceLike

__all__ = ["Solver", "fit", "evaluate", "predict", "load_checkpoint"]


def _tqdm():
    # lazy: tqdm.auto picks the notebook bar, which loads ipywidgets; only a run that trains needs it
    from tqdm.auto import tqdm
    return tqdm


def _get_split(data, name: str):
    return data[name] if isinstance(data, Mapping) else getattr(data, name)


# =============================================================================
# NumPy: Solver
# =============================================================================

class Solver:
    """Minibatch training of a NumPy model with any optimiser from :mod:`course_lib.optim`.

    Args:
        model: object with ``params`` and ``loss`` (see the module docstring).
        data: a :class:`course_lib.data.Split` or a dict with ``X_train, y_train, X_val, y_val``.
        optimizer: a name (``"sgd"``, ``"momentum"``, ``"nesterov"``, ``"adagrad"``,
            ``"rmsprop"``, ``"adam"``, ``"adamw"``), an ``Optimizer`` subclass, or an
            ``Optimizer`` instance built on ``model.params``.
        optim_config: keyword arguments of the optimiser (``lr``, ``momentum``, ...).
        lr_schedule: optional ``f(step) -> lr`` applied before every step (e.g.
            ``functools.partial(optim.cosine_lr, base_lr=0.1, total_steps=1000)``).
        lr_decay: multiply ``lr`` by this after every epoch (ignored with ``lr_schedule``).
        batch_size: minibatch size.
        epochs: maximum number of epochs.
        num_train_samples: training points used to estimate train accuracy per epoch (None: all).
        num_val_samples: validation points used (None: all).
        patience: stop after this many epochs without a better validation accuracy (None: never).
        checkpoint_path: if given, ``save_checkpoint`` is called here after every epoch.
        seed: seed (or Generator) for shuffling and subsampling; the global RNG is untouched.
        progress: show a tqdm bar.

    Attributes:
        history: dict with ``loss`` and ``lr`` (per step), ``train_acc`` and ``val_acc`` (per epoch).
        best_val_acc, best_params, epoch.

    Introduced in lecture 02_backprop.
    """

    def __init__(self, model: Any, data: Mapping[str, Any], *,
                 optimizer: str | _optim.Optimizer | Callable[..., _optim.Optimizer] = "sgd",
                 optim_config: dict | None = None,
                 lr_schedule: Callable[[int], float] | None = None, lr_decay: float = 1.0,
                 batch_size: int = 100, epochs: int = 10, num_train_samples: int | None = 1000,
                 num_val_samples: int | None = None, patience: int | None = None,
                 checkpoint_path: str | os.PathLike | None = None, seed: int = 0, progress: bool = True):
        self.model = model
        self.X_train, self.y_train = _get_split(data, "X_train"), _get_split(data, "y_train")
        self.X_val, self.y_val = _get_split(data, "X_val"), _get_split(data, "y_val")
        config = dict(optim_config or {})
        if isinstance(optimizer, _optim.Optimizer):
            self.optimizer = optimizer
        elif isinstance(optimizer, str):
            self.optimizer = _optim.make_optimizer(optimizer, model.params, **config)
        else:
            self.optimizer = optimizer(model.params, **config)
        self.lr_schedule = lr_schedule
        self.lr_decay = lr_decay
        self.batch_size = batch_size
        self.epochs = epochs
        self.num_train_samples = num_train_samples
        self.num_val_samples = num_val_samples
        self.patience = patience
        self.checkpoint_path = checkpoint_path
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.progress = progress
        self._reset()

    def _reset(self) -> None:
        self.epoch = 0
        self.step_count = 0
        self.best_val_acc = -math.inf
        self.best_params = {k: v.copy() for k, v in self.model.params.items()}
        self.epochs_without_improvement = 0
        self.history: dict[str, list] = {"loss": [], "lr": [], "train_acc": [], "val_acc": []}

    # cs231n names
    @property
    def loss_history(self) -> list:
        return self.history["loss"]

    @property
    def train_acc_history(self) -> list:
        return self.history["train_acc"]

    @property
    def val_acc_history(self) -> list:
        return self.history["val_acc"]

    def _step(self, idx: np.ndarray) -> float:
        if self.lr_schedule is not None:
            self.optimizer.lr = self.lr_schedule(self.step_count)
        loss, grads = self.model.loss(self.X_train[idx], self.y_train[idx])
        self.optimizer.step(grads)
        self.history["loss"].append(float(loss))
        self.history["lr"].append(float(self.optimizer.lr))
        self.step_count += 1
        return float(loss)

    def check_accuracy(self, X: np.ndarray, y: np.ndarray, num_samples: int | None = None,
                       batch_size: int = 256) -> float:
        """Fraction of ``X`` (optionally a random subsample of ``num_samples``) classified as ``y``."""
        if num_samples is not None and len(X) > num_samples:
            idx = self.rng.choice(len(X), num_samples, replace=False)
            X, y = X[idx], y[idx]
        preds = [np.argmax(self.model.loss(X[i:i + batch_size]), axis=1) for i in range(0, len(X), batch_size)]
        return float(np.mean(np.concatenate(preds) == y)) if len(X) else float("nan")

    def train(self) -> dict:
        """Run up to ``epochs`` epochs; restore the best parameters; return ``history``."""
        n = len(self.X_train)
        per_epoch = max(n // self.batch_size, 1)
        bar = _tqdm()(total=self.epochs * per_epoch, disable=not self.progress, desc="train")
        try:
            while self.epoch < self.epochs:
                order = self.rng.permutation(n)
                for i in range(per_epoch):
                    loss = self._step(order[i * self.batch_size:(i + 1) * self.batch_size])
                    bar.update(1)
                    if i % 10 == 0:
                        bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
                    if not np.isfinite(loss):
                        raise FloatingPointError(f"loss became {loss} at step {self.step_count}; "
                                                 f"try a smaller learning rate")
                self.epoch += 1
                if self.lr_schedule is None and self.lr_decay != 1.0:
                    self.optimizer.lr *= self.lr_decay
                stop = self._end_of_epoch()
                bar.set_postfix(loss=f"{loss:.4f}", val_acc=f"{self.history['val_acc'][-1]:.3f}")
                if stop:
                    break
        finally:
            bar.close()
        for k, v in self.best_params.items():
            self.model.params[k][...] = v
        return self.history

    def _end_of_epoch(self) -> bool:
        train_acc = self.check_accuracy(self.X_train, self.y_train, self.num_train_samples)
        val_acc = self.check_accuracy(self.X_val, self.y_val, self.num_val_samples)
        self.history["train_acc"].append(train_acc)
        self.history["val_acc"].append(val_acc)
        if val_acc > self.best_val_acc:
            self.best_val_acc = val_acc
            self.best_params = {k: v.copy() for k, v in self.model.params.items()}
            self.epochs_without_improvement = 0
        else:
            self.epochs_without_improvement += 1
        if self.checkpoint_path is not None:
            self.save_checkpoint(self.checkpoint_path)
        return self.patience is not None and self.epochs_without_improvement >= self.patience

    # --- checkpoints ---------------------------------------------------------------------
    def save_checkpoint(self, path: str | os.PathLike) -> None:
        """Save everything a resumed run needs to an ``.npz`` file.

        That is the current and best parameters, the history, the counters, the
        optimiser's state (step count and per-parameter buffers such as momentum or
        Adam's moments) and the shuffling generator's state, so that training N epochs,
        saving, loading into a new Solver and training on gives the same result as
        training straight through.
        """
        arrays: dict[str, Any] = {f"param/{k}": v for k, v in self.model.params.items()}
        arrays.update({f"best/{k}": v for k, v in self.best_params.items()})
        arrays.update({f"history/{k}": np.asarray(v, dtype=np.float64) for k, v in self.history.items()})
        arrays["meta"] = np.array([self.epoch, self.step_count, self.best_val_acc,
                                   self.epochs_without_improvement, self.optimizer.lr], dtype=np.float64)
        arrays["optim_t"] = np.array(self.optimizer.t)
        for k, state in self.optimizer.state.items():
            for name, value in (state or {}).items():
                # "/" separates the parameter name from the state name; rsplit keeps names with "/"
                arrays[f"optim/{k}/{name}"] = np.asarray(value)
        # a JSON string (not a pickled object), so np.load needs no allow_pickle
        arrays["rng"] = np.array(json.dumps(self.rng.bit_generator.state))
        tmp = os.fspath(path) + ".tmp.npz"
        np.savez(tmp, **arrays)
        os.replace(tmp, path)

    def load_checkpoint(self, path: str | os.PathLike) -> None:
        """Restore what :meth:`save_checkpoint` wrote (parameters are copied into ``model.params``).

        The optimiser's state and the shuffling generator are restored too when the
        file has them (checkpoints from older versions do not; then they are left as they are).
        """
        with np.load(path) as f:
            missing = [k for k in self.model.params if f"param/{k}" not in f.files]
            if missing:
                raise KeyError(f"checkpoint {os.fspath(path)!r} has no parameter(s) {missing}; "
                               f"it was saved from a different model")
            for k in self.model.params:
                self.model.params[k][...] = f[f"param/{k}"]
            self.best_params = {k: f[f"best/{k}"].copy() for k in self.model.params}
            self.history = {k: f[f"history/{k}"].tolist() for k in ("loss", "lr", "train_acc", "val_acc")}
            epoch, steps, best, waited, lr = f["meta"]
            if "optim_t" in f.files:
                self.optimizer.t = int(f["optim_t"])
                state: dict = {}
                for key in f.files:
                    if key.startswith("optim/"):
                        k, name = key[len("optim/"):].rsplit("/", 1)
                        value = f[key]
                        state.setdefault(k, {})[name] = value.item() if value.ndim == 0 else value.copy()
                # list-of-arrays optimisers are keyed by position
                if not isinstance(self.optimizer.params, Mapping):
                    state = {int(k): v for k, v in state.items()}
                self.optimizer.state = state
            if "rng" in f.files:
                self.rng.bit_generator.state = json.loads(str(f["rng"]))
        self.epoch, self.step_count = int(epoch), int(steps)
        self.best_val_acc, self.epochs_without_improvement = float(best), int(waited)
        self.optimizer.lr = float(lr)


# =============================================================================
# PyTorch: fit
# =============================================================================

def _accuracy_count(out, y) -> tuple[int, int]:
    """(correct, total) when ``out`` holds class scores on its last axis for integer targets ``y``."""
    # lazy: the NumPy Solver above works without PyTorch (units 01-02, kernels that forbid it)
    import torch
    if not isinstance(out, torch.Tensor) or not isinstance(y, torch.Tensor):
        return 0, 0
    if y.dtype not in (torch.int64, torch.int32) or out.shape[:-1] != y.shape:
        return 0, 0
    return int((out.argmax(-1) == y).sum()), y.numel()


def _split_batch(batch):
    if isinstance(batch, Mapping):
        return batch["x"], batch["y"]
    x, y = batch[0], batch[1]
    return x, y


def _resolve_device(device):
    return get_device(None if device is None else str(device))


def evaluate(model: torch.nn.Module, loader: Iterable, loss_fn: Callable, device: DeviceLike = None) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` over ``loader`` (accuracy NaN if not a classification).

    Batches are ``(x, y)`` tuples/lists or dicts with keys ``x`` and ``y``.

    Introduced in lecture 02_backprop.
    """
    # lazy: the NumPy Solver above works without PyTorch (units 01-02, kernels that forbid it)
    import torch

    dev = _resolve_device(device)
    model.eval()
    total_loss, n, correct, counted = 0.0, 0, 0, 0
    with torch.no_grad():
        for batch in loader:
            x, y = to_device(_split_batch(batch), dev)
            out = model(x)
            b = len(y)
            total_loss += float(loss_fn(out, y)) * b
            n += b
            c, t = _accuracy_count(out, y)
            correct, counted = correct + c, counted + t
    return total_loss / max(n, 1), (correct / counted if counted else float("nan"))


def predict(model: torch.nn.Module, X: torch.Tensor, device: DeviceLike = None,
            batch_size: int = 512) -> torch.Tensor:
    """Model outputs for a tensor ``X`` of inputs, computed in batches without gradients; returned on the CPU.

    Introduced in lecture 03_cnn.
    """
    # lazy: the NumPy Solver above works without PyTorch (units 01-02, kernels that forbid it)
    import torch
    dev = _resolve_device(device)
    model.eval()
    with torch.no_grad():
        return torch.cat([model(X[i:i + batch_size].to(dev)).cpu() for i in range(0, len(X), batch_size)])


def fit(model: torch.nn.Module, train_loader: Iterable, val_loader: Iterable | None = None, *, epochs: int,
        optimizer: torch.optim.Optimizer, loss_fn: Callable,
        device: DeviceLike = None, scheduler: Any = None, scheduler_per_step: bool = False, patience: int | None = None,
        checkpoint_path: str | os.PathLike | None = None, restore_best: bool = True,
        grad_clip: float | None = None, amp: bool = False, amp_dtype: torch.dtype | None = None,
        resume_from: str | os.PathLike | None = None, progress: bool = True) -> dict:
    """Train a PyTorch model; device-agnostic; returns the history.

    Args:
        model: a ``torch.nn.Module``; it is moved to ``device``.
        train_loader, val_loader: iterables of batches ``(x, y)`` (or dicts with ``x``, ``y``);
            every tensor in a batch is moved with :func:`course_lib.device.to_device`.
        epochs: maximum number of epochs.
        optimizer: a ``torch.optim.Optimizer`` over ``model.parameters()``.
        loss_fn: ``loss_fn(model(x), y) -> scalar tensor``.
        device: ``None`` (:func:`course_lib.device.get_device`), a string or a ``torch.device``.
        scheduler: a ``torch.optim.lr_scheduler`` stepped every epoch (or every step with
            ``scheduler_per_step=True``).
        patience: stop after this many epochs without improvement of validation accuracy
            (validation loss when the task has no accuracy). Needs ``val_loader``.
        checkpoint_path: ``torch.save`` everything :func:`fit` needs to resume here after each
            epoch: model, optimizer, epoch, history, best weights and patience counter, and the
            scheduler's, the gradient scaler's and the train loader's generator's state.
        resume_from: a checkpoint written by ``checkpoint_path``: restore all of the above and
            continue from the epoch after the saved one (``epochs`` counts the whole run, so
            ``epochs=4`` after a 2-epoch checkpoint trains 2 more). The result equals a run
            without the interruption when the shuffling comes from the train loader's own
            ``generator`` (``DataLoader(..., generator=g)``) and the model draws no other
            random numbers (dropout uses PyTorch's global generator, which is not restored).
        restore_best: load the best validation weights at the end.
        grad_clip: clip the global gradient norm to this value.
        amp: run forward passes under :func:`course_lib.device.autocast` (a no-op on CPU
            unless ``amp_dtype=torch.bfloat16``); float16 on CUDA uses a ``GradScaler``.
        progress: show a tqdm bar over epochs.

    Returns:
        dict of per-epoch lists: ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc``,
        ``lr``, ``time`` (seconds); plus ``best_epoch`` (int, -1 without validation).

    Introduced in lecture 03_cnn.
    """
    # lazy: the NumPy Solver above works without PyTorch (units 01-02, kernels that forbid it)
    import torch


    dev = _resolve_device(device)
    model.to(dev)

    def amp_ctx():
        return autocast(dev, amp_dtype) if amp else contextlib.nullcontext()

    use_scaler = amp and dev.type == "cuda" and getattr(amp_ctx(), "fast_dtype", None) == torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_scaler) if use_scaler else None

    history: dict[str, Any] = {"train_loss": [], "train_acc": [], "val_loss": [], "val_acc": [],
                               "lr": [], "time": [], "best_epoch": -1}
    best_score, best_state, waited = -math.inf, None, 0
    loader_gen = getattr(train_loader, "generator", None)
    if not isinstance(loader_gen, torch.Generator):
        loader_gen = None
    start = 0
    if resume_from is not None:
        ckpt = load_checkpoint(resume_from, model, optimizer, dev)
        missing = [k for k in ("epoch", "history", "best_state", "best_score", "waited") if k not in ckpt]
        if missing:
            raise ValueError(f"cannot resume from {os.fspath(resume_from)!r}: it lacks {missing} "
                             f"(written by an older version of fit?)")
        start = ckpt["epoch"] + 1
        history = copy.deepcopy(ckpt["history"])
        best_score, waited = ckpt["best_score"], ckpt["waited"]
        if ckpt["best_state"] is not None:   # kept on the CPU, as during training
            best_state = {k: v.to("cpu") for k, v in ckpt["best_state"].items()}
        if scheduler is not None and ckpt.get("scheduler") is not None:
            scheduler.load_state_dict(ckpt["scheduler"])
        if scaler is not None and ckpt.get("scaler") is not None:
            scaler.load_state_dict(ckpt["scaler"])
        if loader_gen is not None and ckpt.get("loader_generator") is not None:
            loader_gen.set_state(ckpt["loader_generator"].cpu())
    bar = _tqdm()(range(start, epochs), initial=start, total=epochs, disable=not progress, desc="epochs")
    for epoch in bar:
        t0 = time.perf_counter()
        model.train()
        total, n, correct, counted = 0.0, 0, 0, 0
        for batch in train_loader:
            x, y = to_device(_split_batch(batch), dev)
            optimizer.zero_grad(set_to_none=True)
            with amp_ctx():
                out = model(x)
                loss = loss_fn(out, y)
            if scaler is not None:
                scaler.scale(loss).backward()
                if grad_clip is not None:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                if grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
                optimizer.step()
            if scheduler is not None and scheduler_per_step:
                scheduler.step()
            b = len(y)
            total += float(loss.detach()) * b
            n += b
            c, t = _accuracy_count(out.detach(), y)
            correct, counted = correct + c, counted + t
        history["lr"].append(optimizer.param_groups[0]["lr"])
        if scheduler is not None and not scheduler_per_step:
            scheduler.step()
        history["train_loss"].append(total / max(n, 1))
        history["train_acc"].append(correct / counted if counted else float("nan"))
        if val_loader is not None:
            vl, va = evaluate(model, val_loader, loss_fn, dev)
            history["val_loss"].append(vl)
            history["val_acc"].append(va)
            score = -vl if math.isnan(va) else va
            if score > best_score:
                best_score, waited = score, 0
                best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
                history["best_epoch"] = epoch
            else:
                waited += 1
        history["time"].append(time.perf_counter() - t0)
        post = {"loss": f"{history['train_loss'][-1]:.4f}"}
        if val_loader is not None:
            post["val_acc" if not math.isnan(history["val_acc"][-1]) else "val_loss"] = (
                f"{history['val_acc'][-1]:.3f}" if not math.isnan(history["val_acc"][-1])
                else f"{history['val_loss'][-1]:.4f}")
        bar.set_postfix(post)
        if checkpoint_path is not None:
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "epoch": epoch, "history": copy.deepcopy(history),
                        "best_state": best_state, "best_score": best_score, "waited": waited,
                        "scheduler": scheduler.state_dict() if scheduler is not None else None,
                        "scaler": scaler.state_dict() if scaler is not None else None,
                        "loader_generator": loader_gen.get_state() if loader_gen is not None else None},
                       checkpoint_path)
        if patience is not None and val_loader is not None and waited >= patience:
            break
    bar.close()
    if restore_best and best_state is not None:
        model.load_state_dict(best_state)
    return history


def load_checkpoint(path: str | os.PathLike, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    device: DeviceLike = None) -> dict:
    """Load a checkpoint written by :func:`fit` into ``model`` (and ``optimizer``); return it.

    Introduced in lecture 02_backprop.
    """
    # lazy: the NumPy Solver above works without PyTorch (units 01-02, kernels that forbid it)
    import torch
    dev = _resolve_device(device)
    ckpt = torch.load(path, map_location=dev, weights_only=False)
    model.load_state_dict(ckpt["model"])
    if optimizer is not None:
        optimizer.load_state_dict(ckpt["optimizer"])
    return ckpt
