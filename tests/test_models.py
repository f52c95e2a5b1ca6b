"""course_lib.models: forward shapes, and small training runs that must reach stated numbers."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from torch.utils.data import DataLoader, TensorDataset

from course_lib import models as M
from course_lib.data import load_digits
from course_lib.train import evaluate, fit
from tests.strategies import attention_configs


@pytest.fixture(autouse=True)
def _seed_and_threads():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)          # the CI box is shared; small models gain nothing from more
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def digits():
    return load_digits(images=True)


def _loaders(split, batch_size=64):
    def ds(X, y):
        return TensorDataset(torch.tensor(X, dtype=torch.float32), torch.tensor(y))
    g = torch.Generator().manual_seed(0)
    return (DataLoader(ds(split.X_train, split.y_train), batch_size=batch_size, shuffle=True, generator=g),
            DataLoader(ds(split.X_val, split.y_val), batch_size=512),
            DataLoader(ds(split.X_test, split.y_test), batch_size=512))


# ---- shapes --------------------------------------------------------------------------

def test_mlp_and_cnn_shapes():
    x = torch.randn(5, 1, 8, 8)
    assert M.MLP(64, (32, 16), 10, activation="tanh", dropout=0.1)(x).shape == (5, 10)
    assert M.SmallCNN()(x).shape == (5, 10)
    assert M.SmallCNN(3, 4, image_size=16)(torch.randn(2, 3, 16, 16)).shape == (2, 4)
    with pytest.raises(ValueError):
        M.SmallCNN(image_size=10)
    with pytest.raises(ValueError):
        M.MLP(activation="swish")
    assert M.count_parameters(M.MLP(64, (32,), 10)) == 64 * 32 + 32 + 32 * 10 + 10


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_char_rnn_shapes_and_generate(cell):
    model = M.CharRNN(vocab_size=7, embed_dim=5, hidden_size=11, num_layers=2, cell=cell)
    x = torch.randint(0, 7, (3, 9))
    logits, state = model(x, return_state=True)
    assert logits.shape == (3, 9, 7)
    h = state[0] if cell == "lstm" else state
    assert h.shape == (2, 3, 11)
    g = torch.Generator().manual_seed(1)
    out = model.generate(torch.tensor([1, 2]), 10, generator=g)
    assert out.shape == (12,) and out[:2].tolist() == [1, 2]
    assert out.max() < 7
    assert torch.equal(out, model.generate(torch.tensor([1, 2]), 10, generator=torch.Generator().manual_seed(1)))
    assert model.training  # generate restores the mode


def test_char_vocab_windows():
    v = M.CharVocab("hello world")
    assert v.decode(v.encode("low")) == "low"
    X, Y = v.windows("hello world", 4, step=2)
    assert X.shape == Y.shape and X.shape[1] == 4
    assert torch.equal(X[:, 1:], Y[:, :-1])
    assert v.decode(X[0]) == "hell" and v.decode(Y[0]) == "ello"


def test_attention_weights_and_mask():
    q, k, v = torch.randn(2, 5, 4), torch.randn(2, 5, 4), torch.randn(2, 5, 3)
    out, w = M.scaled_dot_product_attention(q, k, v, M.causal_mask(5))
    assert out.shape == (2, 5, 3) and w.shape == (2, 5, 5)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 5))
    assert torch.all(w.triu(1) == 0)
    ref = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(attention_configs())
def test_attention_property_against_torch(cfg):
    q, k, v = (torch.tensor(cfg[n]) for n in "qkv")
    mask = torch.tensor(cfg["mask"])
    mask[..., 0] = False                  # every query may see at least one key
    out, w = M.scaled_dot_product_attention(q, k, v, mask)
    ref = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=~mask)  # torch: True = attend
    torch.testing.assert_close(out, ref, rtol=1e-9, atol=1e-12)
    assert torch.all(w[mask] == 0)


def test_transformer_shapes_and_causality():
    clf = M.TransformerClassifier(vocab_size=20, num_classes=3, d_model=16, nhead=2, num_layers=1, dim_ff=32)
    x = torch.randint(0, 20, (4, 7))
    assert clf(x).shape == (4, 3)
    pad = torch.zeros(4, 7, dtype=torch.bool)
    pad[:, 5:] = True
    assert clf(x, pad).shape == (4, 3)

    lm = M.TransformerLM(vocab_size=20, d_model=16, nhead=2, num_layers=2, dim_ff=32).eval()
    y = lm(x)
    assert y.shape == (4, 7, 20)
    x2 = x.clone()
    x2[:, -1] = (x2[:, -1] + 1) % 20          # changing the last token must not change earlier outputs
    torch.testing.assert_close(lm(x2)[:, :-1], y[:, :-1])

    s2s = M.Seq2SeqTransformer(src_vocab=11, tgt_vocab=13, d_model=16, nhead=2, num_encoder_layers=1,
                               num_decoder_layers=1, dim_ff=32)
    assert s2s(torch.randint(0, 11, (2, 6)), torch.randint(0, 13, (2, 4))).shape == (2, 4, 13)


def test_positional_encoding_odd_dim():
    pe = M.PositionalEncoding(7, max_len=10)
    assert pe(torch.zeros(2, 10, 7)).shape == (2, 10, 7)


def test_gan_shapes_and_losses():
    G = M.Generator(latent_dim=4, out_shape=(1, 8, 8), hidden=(32,), output="tanh")
    D = M.Discriminator(in_dim=64, hidden=(32,))
    fake = G(torch.randn(6, 4))
    assert fake.shape == (6, 1, 8, 8) and fake.abs().max() <= 1
    assert D(fake).shape == (6,)
    assert G.sample(3, torch.Generator().manual_seed(0)).shape == (3, 1, 8, 8)
    G2, D2 = M.Generator(2, (2,)), M.Discriminator(2)
    assert G2(torch.randn(5, 2)).shape == (5, 2) and D2(G2(torch.randn(5, 2))).shape == (5,)
    # losses at D = 1/2 everywhere: log 4 for D, log 2 for G
    zero = torch.zeros(5)
    assert M.discriminator_loss(zero, zero).item() == pytest.approx(np.log(4))
    assert M.generator_loss(zero).item() == pytest.approx(np.log(2))


def test_vae_shapes_and_loss_formula():
    vae = M.VAE(in_dim=64, latent_dim=3, hidden=(32, 16))
    x = torch.rand(5, 1, 8, 8)
    rec, mu, logvar = vae(x, generator=torch.Generator().manual_seed(0))
    assert rec.shape == (5, 64) and mu.shape == (5, 3) and logvar.shape == (5, 3)
    # KL term is zero exactly when q = N(0, I)
    z = torch.zeros(5, 3)
    loss = M.vae_loss(torch.zeros(5, 64), torch.full((5, 64), 0.5), z, z)
    assert loss.item() == pytest.approx(64 * np.log(2), rel=1e-6)
    kl_only = M.vae_loss(torch.zeros(5, 64), torch.full((5, 64), 0.5), torch.ones(5, 3), z) - loss
    assert kl_only.item() == pytest.approx(0.5 * 3, rel=1e-6)
    vae.eval()
    torch.testing.assert_close(vae(x)[0], vae.decode(vae.encode(x)[0]))   # eval: z = mu


# ---- training to stated numbers -------------------------------------------------------

def test_mlp_reaches_093_on_digits(digits):
    train, val, test = _loaders(digits)
    model = M.MLP(64, (128,), 10)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    hist = fit(model, train, val, epochs=15, optimizer=opt, loss_fn=torch.nn.functional.cross_entropy,
               device="cpu", progress=False)
    _, acc = evaluate(model, test, torch.nn.functional.cross_entropy, "cpu")
    assert hist["train_loss"][-1] < hist["train_loss"][0]
    assert acc >= 0.93, f"MLP test accuracy {acc:.3f} < 0.93"


def test_cnn_reaches_095_on_digits(digits):
    train, val, test = _loaders(digits)
    model = M.SmallCNN()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    fit(model, train, val, epochs=10, optimizer=opt, loss_fn=torch.nn.functional.cross_entropy,
        device="cpu", progress=False)
    _, acc = evaluate(model, test, torch.nn.functional.cross_entropy, "cpu")
    assert acc >= 0.95, f"CNN test accuracy {acc:.3f} < 0.95"


TEXT = ("the quick brown fox jumps over the lazy dog. " * 8
        + "a stitch in time saves nine. " * 8)


@pytest.mark.parametrize("kind", ["lstm", "transformer"])
def test_language_model_loss_drops(kind):
    vocab = M.CharVocab(TEXT)
    X, Y = vocab.windows(TEXT, 24, step=6)
    loader = DataLoader(TensorDataset(X, Y), batch_size=16, shuffle=True,
                        generator=torch.Generator().manual_seed(0))
    if kind == "lstm":
        model = M.CharRNN(len(vocab), 16, 64)
    else:
        model = M.TransformerLM(len(vocab), d_model=32, nhead=2, num_layers=2, dim_ff=64, max_len=32)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    hist = fit(model, loader, None, epochs=8, optimizer=opt, loss_fn=M.CharRNN.loss, device="cpu",
               progress=False)
    assert hist["train_loss"][0] > np.log(len(vocab)) * 0.7       # starts near chance
    assert hist["train_loss"][-1] < 0.5 * hist["train_loss"][0]
    assert 0.0 <= hist["train_acc"][-1] <= 1.0                      # accuracy over (B, T) positions


def test_vae_loss_drops(digits):
    X = torch.tensor(digits.X_train.reshape(len(digits.X_train), -1), dtype=torch.float32)
    vae = M.VAE(64, 2, (64,))
    opt = torch.optim.Adam(vae.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    losses = []
    for epoch in range(15):
        perm = torch.randperm(len(X), generator=g)
        tot = 0.0
        for i in range(0, len(X), 128):
            xb = X[perm[i:i + 128]]
            rec, mu, logvar = vae(xb, generator=g)
            loss = M.vae_loss(rec, xb, mu, logvar)
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += loss.item() * len(xb)
        losses.append(tot / len(X))
    assert losses[-1] < 0.8 * losses[0], losses


def test_gan_step_runs_on_2d_data():
    G, D = M.Generator(2, (2,), (32,)), M.Discriminator(2, (32,))
    og, od = torch.optim.Adam(G.parameters(), 1e-3), torch.optim.Adam(D.parameters(), 1e-3)
    real = torch.randn(64, 2) * 0.3 + 2
    for _ in range(5):
        fake = G(torch.randn(64, 2))
        ld = M.discriminator_loss(D(real), D(fake.detach()))
        od.zero_grad(); ld.backward(); od.step()
        lg = M.generator_loss(D(fake))
        og.zero_grad(); lg.backward(); og.step()
    assert torch.isfinite(ld) and torch.isfinite(lg)
