"""course_lib.train: the NumPy Solver and the PyTorch fit loop."""
from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from course_lib import optim
from course_lib.data import load_digits, make_blobs
from course_lib.train import Solver, evaluate, fit, load_checkpoint, predict


class Softmax2Layer:
    """A self-contained two-layer net (affine - relu - affine - softmax) for testing the Solver."""

    def __init__(self, D, H, C, seed=0, reg=0.0):
        rng = np.random.default_rng(seed)
        self.params = {"W1": rng.standard_normal((D, H)) * np.sqrt(2 / D), "b1": np.zeros(H),
                       "W2": rng.standard_normal((H, C)) * np.sqrt(1 / H), "b2": np.zeros(C)}
        self.reg = reg

    def loss(self, X, y=None):
        p = self.params
        h = np.maximum(X @ p["W1"] + p["b1"], 0)
        scores = h @ p["W2"] + p["b2"]
        if y is None:
            return scores
        s = scores - scores.max(1, keepdims=True)
        probs = np.exp(s) / np.exp(s).sum(1, keepdims=True)
        n = len(X)
        loss = -np.log(probs[np.arange(n), y]).mean() + 0.5 * self.reg * (p["W1"] ** 2).sum()
        d = probs
        d[np.arange(n), y] -= 1
        d /= n
        dh = (d @ p["W2"].T) * (h > 0)
        return loss, {"W2": h.T @ d, "b2": d.sum(0), "W1": X.T @ dh + self.reg * p["W1"], "b1": dh.sum(0)}


@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.mark.parametrize("name,config", [
    ("sgd", dict(lr=0.5)), ("momentum", dict(lr=0.1)), ("nesterov", dict(lr=0.1)),
    ("adagrad", dict(lr=0.1)), ("rmsprop", dict(lr=1e-3)), ("adam", dict(lr=3e-3)),
])
def test_solver_trains_digits_with_each_optimizer(digits, name, config):
    model = Softmax2Layer(64, 64, 10)
    solver = Solver(model, digits, optimizer=name, optim_config=config, batch_size=50, epochs=6,
                    progress=False, seed=1)
    hist = solver.train()
    per_epoch = len(digits.X_train) // 50
    assert len(hist["loss"]) == 6 * per_epoch and len(hist["val_acc"]) == 6
    assert np.mean(hist["loss"][-10:]) < 0.5 * np.mean(hist["loss"][:5])
    assert solver.best_val_acc >= 0.9, f"{name}: best val acc {solver.best_val_acc}"
    assert solver.check_accuracy(digits.X_val, digits.y_val) == pytest.approx(solver.best_val_acc)
    assert solver.loss_history is hist["loss"] and solver.val_acc_history is hist["val_acc"]


def test_solver_accepts_dict_class_and_instance():
    X, y = make_blobs(60, 3, seed=2)
    data = {"X_train": X[::2], "y_train": y[::2], "X_val": X[1::2], "y_val": y[1::2]}
    m1 = Softmax2Layer(2, 16, 3)
    Solver(m1, data, optimizer=optim.Adam, optim_config={"lr": 1e-2}, batch_size=30, epochs=2,
           progress=False).train()
    m2 = Softmax2Layer(2, 16, 3)
    opt = optim.SGD(m2.params, lr=0.1, momentum=0.9)
    s = Solver(m2, data, optimizer=opt, batch_size=30, epochs=3, progress=False)
    s.train()
    assert s.optimizer is opt and s.best_val_acc > 0.8


def test_solver_early_stopping_and_best_params(digits):
    model = Softmax2Layer(64, 32, 10)
    # a learning rate of zero never improves after the first epoch: stop after 1 + patience epochs
    s = Solver(model, digits, optimizer="sgd", optim_config={"lr": 0.0}, batch_size=100, epochs=20,
               patience=3, progress=False)
    s.train()
    assert s.epoch == 4 and len(s.history["val_acc"]) == 4

    # an absurd learning rate late in training: the best (early) parameters are restored
    model = Softmax2Layer(64, 32, 10)
    sched = lambda t: 0.5 if t < 40 else 0.0
    s = Solver(model, digits, optimizer="sgd", lr_schedule=sched, batch_size=50, epochs=5,
               progress=False)
    s.train()
    assert s.history["lr"][:40] == [0.5] * 40 and s.history["lr"][-1] == 0.0
    for k in model.params:
        np.testing.assert_array_equal(model.params[k], s.best_params[k])


def test_solver_schedule_and_lr_decay(digits):
    sched = functools.partial(optim.warmup_cosine, base_lr=0.2, warmup_steps=5, total_steps=40)
    s = Solver(Softmax2Layer(64, 16, 10), digits, optimizer="momentum", optim_config={"lr": 1.0},
               lr_schedule=sched, batch_size=100, epochs=2, progress=False)
    s.train()
    assert s.history["lr"] == pytest.approx([sched(t) for t in range(len(s.history["lr"]))])
    s2 = Solver(Softmax2Layer(64, 16, 10), digits, optim_config={"lr": 0.1}, lr_decay=0.5, batch_size=100,
                epochs=3, progress=False)
    s2.train()
    assert s2.optimizer.lr == pytest.approx(0.1 * 0.5 ** 3)


def test_solver_checkpoint_roundtrip(tmp_path, digits):
    path = tmp_path / "ckpt.npz"
    model = Softmax2Layer(64, 16, 10)
    s = Solver(model, digits, optim_config={"lr": 0.3}, batch_size=100, epochs=2, checkpoint_path=path,
               progress=False)
    s.train()
    assert path.exists()
    model2 = Softmax2Layer(64, 16, 10, seed=5)
    s2 = Solver(model2, digits, optim_config={"lr": 0.3}, batch_size=100, epochs=4, progress=False)
    s2.load_checkpoint(path)
    assert s2.epoch == 2 and s2.history["val_acc"] == pytest.approx(s.history["val_acc"])
    assert s2.best_val_acc == pytest.approx(s.best_val_acc)
    for k in model.params:
        np.testing.assert_array_equal(s2.best_params[k], s.best_params[k])
    s2.train()                               # resumes for the remaining 2 epochs
    assert len(s2.history["val_acc"]) == 4


@pytest.mark.parametrize("name,config", [("adam", dict(lr=3e-3)), ("momentum", dict(lr=0.1))])
def test_solver_resume_equals_straight_run(tmp_path, digits, name, config):
    kw = dict(optimizer=name, optim_config=config, batch_size=50, num_train_samples=200, progress=False,
              seed=3)
    straight = Solver(Softmax2Layer(64, 16, 10), digits, epochs=4, **kw)
    straight.train()

    path = tmp_path / "half.npz"
    first = Solver(Softmax2Layer(64, 16, 10), digits, epochs=2, checkpoint_path=path, **kw)
    first.train()
    # a fresh model, optimiser and generator: everything must come from the file
    resumed = Solver(Softmax2Layer(64, 16, 10, seed=9), digits, epochs=4, **kw)
    resumed.load_checkpoint(path)
    assert resumed.optimizer.t == first.optimizer.t > 0
    for k in first.optimizer.state:
        for field, value in first.optimizer.state[k].items():
            np.testing.assert_array_equal(resumed.optimizer.state[k][field], value)
    resumed.train()

    assert resumed.history["loss"] == straight.history["loss"]
    assert resumed.history["val_acc"] == straight.history["val_acc"]
    for k in straight.model.params:
        np.testing.assert_array_equal(resumed.model.params[k], straight.model.params[k])


def test_solver_load_checkpoint_of_other_model_is_a_clear_error(tmp_path, digits):
    path = tmp_path / "c.npz"
    s = Solver(Softmax2Layer(64, 16, 10), digits, epochs=1, progress=False)
    s.save_checkpoint(path)
    other = Softmax2Layer(64, 16, 10)
    other.params["W3"] = np.zeros(3)
    with pytest.raises(KeyError, match="W3"):
        Solver(other, digits, progress=False).load_checkpoint(path)


def test_solver_raises_on_divergence(digits):
    s = Solver(Softmax2Layer(64, 16, 10), digits, optim_config={"lr": 1e6}, batch_size=100, epochs=3,
               progress=False)
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError, match="learning rate"):
        s.train()


# ---- PyTorch fit ------------------------------------------------------------------------

def _blob_loaders(dict_batches=False):
    X, y = make_blobs(80, 3, seed=0)
    Xt, yt = torch.tensor(X, dtype=torch.float32), torch.tensor(y)
    g = torch.Generator().manual_seed(0)
    if dict_batches:
        pairs = list(zip(Xt.split(32), yt.split(32)))
        return [{"x": a, "y": b} for a, b in pairs], [{"x": Xt, "y": yt}]
    return (DataLoader(TensorDataset(Xt[::2], yt[::2]), batch_size=32, shuffle=True, generator=g),
            DataLoader(TensorDataset(Xt[1::2], yt[1::2]), batch_size=64))


def test_fit_history_checkpoint_and_restore(tmp_path):
    torch.manual_seed(0)
    train, val = _blob_loaders()
    model = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, 2, gamma=0.5)
    path = tmp_path / "model.pt"
    hist = fit(model, train, val, epochs=6, optimizer=opt, loss_fn=torch.nn.functional.cross_entropy,
               scheduler=sched, checkpoint_path=path, grad_clip=1.0, progress=False)
    for key in ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "time"):
        assert len(hist[key]) == 6, key
    assert hist["lr"] == pytest.approx([0.2, 0.2, 0.1, 0.1, 0.05, 0.05])
    assert max(hist["val_acc"]) > 0.9
    # the model ends with the best epoch's weights
    _, acc = evaluate(model, val, torch.nn.functional.cross_entropy)
    assert acc == pytest.approx(hist["val_acc"][hist["best_epoch"]])
    model2 = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    ckpt = load_checkpoint(path, model2, torch.optim.SGD(model2.parameters(), lr=0.1))
    assert ckpt["epoch"] == 5 and len(ckpt["history"]["val_acc"]) == 6
    assert predict(model2, torch.zeros(3, 2)).shape == (3, 3)


def test_fit_early_stopping_and_dict_batches():
    torch.manual_seed(0)
    train, val = _blob_loaders(dict_batches=True)
    model = torch.nn.Linear(2, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)   # never improves after epoch 0
    hist = fit(model, train, val, epochs=20, optimizer=opt, loss_fn=torch.nn.functional.cross_entropy,
               device=torch.device("cpu"), patience=2, progress=False)
    assert len(hist["val_acc"]) == 3 and hist["best_epoch"] == 0


def test_fit_without_accuracy_uses_val_loss_and_bf16_autocast():
    torch.manual_seed(0)
    X = torch.randn(64, 3)
    Y = X @ torch.tensor([[1.0], [-2.0], [0.5]])
    train = DataLoader(TensorDataset(X, Y), batch_size=16)
    model = torch.nn.Linear(3, 1)
    hist = fit(model, train, train, epochs=5, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
               loss_fn=torch.nn.functional.mse_loss, progress=False, amp=True, amp_dtype=torch.bfloat16,
               device="cpu")
    assert all(np.isnan(hist["val_acc"]))
    assert hist["val_loss"][-1] < hist["val_loss"][0]
    assert hist["best_epoch"] == int(np.argmin(hist["val_loss"]))


def _fit_resume_setup(seed=0):
    """A shuffling loader with its own generator, a model, Adam and a scheduler, all from ``seed``."""
    torch.manual_seed(seed)
    X, y = make_blobs(120, 3, seed=1)
    Xt, yt = torch.tensor(X, dtype=torch.float32), torch.tensor(y)
    train = DataLoader(TensorDataset(Xt[::2], yt[::2]), batch_size=16, shuffle=True,
                       generator=torch.Generator().manual_seed(seed))
    val = DataLoader(TensorDataset(Xt[1::2], yt[1::2]), batch_size=64)
    model = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    sched = torch.optim.lr_scheduler.StepLR(opt, 1, gamma=0.7)
    return model, train, val, opt, sched


def test_fit_resume_equals_straight_run(tmp_path):
    kw = dict(loss_fn=torch.nn.functional.cross_entropy, device="cpu", progress=False)
    model, train, val, opt, sched = _fit_resume_setup()
    straight = fit(model, train, val, epochs=4, optimizer=opt, scheduler=sched, **kw)

    path = tmp_path / "half.pt"
    m1, train1, val1, opt1, sched1 = _fit_resume_setup()
    fit(m1, train1, val1, epochs=2, optimizer=opt1, scheduler=sched1, checkpoint_path=path, **kw)
    # fresh objects with different weights and an unused loader generator: all state comes from the file
    m2, train2, val2, opt2, sched2 = _fit_resume_setup(seed=7)
    resumed = fit(m2, train2, val2, epochs=4, optimizer=opt2, scheduler=sched2, resume_from=path, **kw)

    for key in ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "best_epoch"):
        assert resumed[key] == straight[key], key
    assert len(resumed["time"]) == 4
    for (k, a), b in zip(model.state_dict().items(), m2.state_dict().values()):
        assert torch.equal(a, b), k
    assert opt2.state_dict()["state"][0]["step"] == opt.state_dict()["state"][0]["step"]


def test_fit_resume_from_old_checkpoint_is_a_clear_error(tmp_path):
    model = torch.nn.Linear(2, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    path = tmp_path / "old.pt"
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 0,
                "history": {}}, path)
    train, val = _blob_loaders()
    with pytest.raises(ValueError, match="cannot resume.*best_state"):
        fit(model, train, val, epochs=2, optimizer=opt, loss_fn=torch.nn.functional.cross_entropy,
            device="cpu", resume_from=path, progress=False)


def test_progress_bar_runs(capsys):
    train, val = _blob_loaders()
    model = torch.nn.Linear(2, 3)
    before = [p.detach().clone() for p in model.parameters()]
    fit(model, train, val, epochs=1, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        loss_fn=torch.nn.functional.cross_entropy, device="cpu", progress=True)
    err = capsys.readouterr().err
    assert "epochs" in err and "100%" in err
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))

    X, y = make_blobs(20, 3, seed=0)
    net = Softmax2Layer(2, 4, 3)
    w_before = {k: v.copy() for k, v in net.params.items()}
    Solver(net, {"X_train": X, "y_train": y, "X_val": X, "y_val": y}, batch_size=10,
           epochs=1, progress=True).train()
    err = capsys.readouterr().err
    assert "train" in err and "100%" in err
    assert any(not np.array_equal(w_before[k], net.params[k]) for k in w_before)


# ---- run only where a GPU exists (checked on a GPU machine) ----------------------------

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@cuda
def test_fit_float16_amp_uses_grad_scaler(monkeypatch):
    steps = []

    class CountingScaler(torch.amp.GradScaler):
        def step(self, optimizer, *args, **kwargs):
            steps.append(self.get_scale())
            return super().step(optimizer, *args, **kwargs)

    monkeypatch.setattr(torch.amp, "GradScaler", CountingScaler)
    torch.manual_seed(0)
    train, val = _blob_loaders()
    model = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    before = [p.detach().clone() for p in model.parameters()]
    hist = fit(model, train, val, epochs=5, optimizer=torch.optim.SGD(model.parameters(), lr=0.2),
               loss_fn=torch.nn.functional.cross_entropy, device="cuda", amp=True,
               amp_dtype=torch.float16, restore_best=False, progress=False)
    assert len(steps) == 5 * len(train)          # every optimiser step went through the scaler
    # the scaler may skip the first steps (overflow at its initial scale) but not all of them
    assert any(not torch.equal(a, b.cpu()) for a, b in zip(before, model.parameters()))
    assert all(np.isfinite(hist["train_loss"]))
    assert next(model.parameters()).dtype == torch.float32   # master weights stay float32
