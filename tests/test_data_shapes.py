"""course_lib.data.shapes: the generated shapes-and-glyphs image set of unit 03.

What the data set promises (its docstring and lecture 03 state these): ten exactly balanced
classes, fixed by a seed without touching NumPy's global RNG, generated in well under 5 s, small
in memory, every class visible against its background, and a small CNN that clearly beats a
larger MLP trained the same way.
"""
from __future__ import annotations

import time

import numpy as np
import pytest

from course_lib import data
from course_lib.data import shapes


def test_shapes_are_balanced_in_range_and_nchw():
    X, y = data.make_shapes(20, seed=0)
    assert X.shape == (200, 3, 32, 32) and X.dtype == np.float32
    assert y.shape == (200,) and y.dtype == np.int64
    assert 0.0 <= X.min() and X.max() <= 1.0
    np.testing.assert_array_equal(np.bincount(y, minlength=10), np.full(10, 20))
    assert len(data.SHAPE_CLASSES) >= 10 and len(set(data.SHAPE_CLASSES)) == len(data.SHAPE_CLASSES)
    assert not np.array_equal(y, np.sort(y)), "labels come shuffled"


def test_split_is_deterministic_balanced_and_disjoint():
    a, b = data.load_shapes(30, 10, 10, seed=3), data.load_shapes(30, 10, 10, seed=3)
    for name in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.num_classes == 10 and a.classes == data.SHAPE_CLASSES
    for part, m in ((a.y_train, 30), (a.y_val, 10), (a.y_test, 10)):
        np.testing.assert_array_equal(np.bincount(part, minlength=10), np.full(10, m))
    # no image of one part is repeated in another (independent streams of one SeedSequence)
    flat = {bytes(x.tobytes()) for x in a.X_train}
    assert not any(bytes(x.tobytes()) in flat for x in np.concatenate([a.X_val, a.X_test]))
    assert not np.array_equal(data.load_shapes(30, 10, 10, seed=4).X_train, a.X_train)


def test_generator_argument_and_global_rng_untouched():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    X1, y1 = data.make_shapes(5, seed=np.random.default_rng(7))
    X2, y2 = data.make_shapes(5, seed=7)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(np.random.get_state()[1], before)


def test_generation_is_fast_and_small():
    shapes._template.cache_clear()                      # time the cold path, templates included
    t0 = time.process_time()
    split = data.load_shapes()
    elapsed = time.process_time() - t0
    assert elapsed < 5.0, f"load_shapes() took {elapsed:.2f} s of CPU; the budget is 5 s"
    nbytes = sum(getattr(split, k).nbytes for k in ("X_train", "X_val", "X_test"))
    assert split.X_train.shape == (3000, 3, 32, 32) and nbytes < 60e6


def test_every_class_is_visible_and_distinct():
    """Without noise or distractor, the object's pixels differ from the background's (the colour
    contrast the docstring promises), and the classes' average silhouettes differ."""
    X, y = data.make_shapes(40, noise=0.0, distractor=False, seed=1)
    clean, _ = data.make_shapes(40, noise=0.0, distractor=False, scale=(1e-3, 1e-3), seed=1)
    # same seed, same stream: the tiny-shape version is (almost) pure background
    diff = np.linalg.norm(X - clean, axis=1)              # (N, H, W) colour distance per pixel
    assert (diff.max(axis=(1, 2)) > 0.39).all(), "some shape is invisible against its background"
    covered = (diff > 0.2).mean(axis=(1, 2))
    assert covered.min() > 0.05 and covered.max() < 0.8
    t = np.stack([shapes._template(n) for n in data.SHAPE_CLASSES]).reshape(10, -1)
    d = np.linalg.norm(t[:, None] - t[None], axis=2) + np.eye(10) * 1e9
    assert d.min() > 5.0, "two class templates are (almost) the same"


def test_masks_mark_the_object():
    X, y = data.make_shapes(10, seed=5)
    X2, y2, masks = data.make_shapes(10, seed=5, return_masks=True)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert masks.shape == (100, 32, 32) and 0 <= masks.min() and masks.max() <= 1
    assert (masks.max(axis=(1, 2)) == 1).all() and ((masks > 0.5).mean(axis=(1, 2)) > 0.05).all()
    clean, _, m = data.make_shapes(10, seed=5, noise=0.0, distractor=False, return_masks=True)
    background = np.median(clean[:, :, m[0] == 0][0], axis=1)        # image 0's background, away from the object
    inside = clean[0][:, m[0] == 1].mean(axis=1)
    assert np.linalg.norm(inside - background) > 0.3


def test_bad_arguments_say_what_is_wrong():
    with pytest.raises(ValueError, match="n_per_class"):
        data.make_shapes(0)
    with pytest.raises(ValueError, match="size"):
        data.make_shapes(1, size=4)
    with pytest.raises(ValueError, match="noise"):
        data.make_shapes(1, noise=-0.1)
    with pytest.raises(ValueError, match="scale"):
        data.make_shapes(1, scale=(0.8, 0.5))
    with pytest.raises(ValueError, match="spread"):
        data.make_shapes(1, spread=1.5)
    for bad, message in (([], "classes"), (["ab"], "single characters"), (["B", "B"], "distinct"),
                         ([" "], "no outline")):
        with pytest.raises(ValueError, match=message):
            data.make_shapes(1, classes=bad)


def test_new_glyph_classes_and_centred_objects():
    X, y = data.make_shapes(3, classes=("B", "D", "K", "X"), seed=2)
    assert X.shape == (12, 3, 32, 32) and sorted(np.bincount(y)) == [3, 3, 3, 3]
    _, _, m = data.make_shapes(20, spread=0.0, distractor=False, seed=3, return_masks=True)
    rows, cols = np.indices((32, 32))
    centre = [((rows * mk).sum() / mk.sum(), (cols * mk).sum() / mk.sum()) for mk in m]
    assert np.abs(np.array(centre) - 15.5).max() < 4, "spread=0 keeps every object near the centre"


def _train(model, X, y, epochs: int, lr: float) -> None:
    import torch

    g = torch.Generator().manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(X), generator=g)
        for i in range(0, len(X), 64):
            b = perm[i:i + 64]
            loss = torch.nn.functional.cross_entropy(model(X[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()


@pytest.mark.slow
def test_small_cnn_clearly_beats_mlp():
    """The numbers the module docstring states: same data, same optimiser and epochs; the CNN
    has 16 times fewer parameters and wins by a wide margin on held-out images."""
    import torch

    from course_lib.models import MLP, SmallCNN, count_parameters

    split = data.load_shapes()
    norm = lambda a: (torch.from_numpy(a) - 0.5) / 0.25
    Xtr, ytr = norm(split.X_train), torch.from_numpy(split.y_train)
    Xte, yte = norm(split.X_test), torch.from_numpy(split.y_test)
    acc = {}
    with torch.random.fork_rng():
        for name, make, lr in (("cnn", lambda: SmallCNN(3, 10, 32, channels=(16, 32)), 3e-3),
                               ("mlp", lambda: MLP(3 * 32 * 32, (128,), 10), 1e-3)):
            torch.manual_seed(0)
            model = make()
            _train(model, Xtr, ytr, epochs=6, lr=lr)
            model.eval()
            with torch.no_grad():
                acc[name] = (model(Xte).argmax(1) == yte).double().mean().item()
            acc[name + "_params"] = count_parameters(model)
    assert acc["mlp_params"] > 10 * acc["cnn_params"]
    assert acc["cnn"] >= 0.6 and acc["mlp"] <= 0.5 and acc["cnn"] - acc["mlp"] >= 0.2, acc
