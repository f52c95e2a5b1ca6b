"""Reference PyTorch models that later units train (small enough for a 2-core CPU).

- :class:`MLP`: fully connected classifier (flattens image inputs).
- :class:`SmallCNN`: two conv blocks for small images (8x8 digits by default).
- :class:`CharRNN` + :class:`CharVocab`: RNN/GRU/LSTM character language model.
- :func:`scaled_dot_product_attention`, :class:`PositionalEncoding`,
  :class:`TransformerClassifier` (encoder), :class:`TransformerLM` (decoder-only,
  causal), :class:`Seq2SeqTransformer` (encoder-decoder).
- :class:`Generator`, :class:`Discriminator` and the GAN losses.
- :class:`VAE` with the reparameterisation trick and :func:`vae_loss`.

Masks follow :mod:`course_lib.nn.attention`: a boolean mask is True where attending is
allowed (:func:`causal_mask` is lower triangular; ``token_mask`` is True at real tokens),
and a query with nothing to attend to gets zeros, not NaN. ``torch.nn.Transformer``'s
masks mean the opposite (True = blocked); the models convert at that boundary.

Constructors draw initial weights from PyTorch's global generator (as every
``torch.nn`` layer does) but never reseed it; seed in the notebook with
:func:`course_lib.device.seed_everything`. Nothing here calls ``.cuda()``:
move a model with ``model.to(device)``; tensors created inside ``forward``
follow the device of the input.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "MLP", "SmallCNN", "CharVocab", "CharRNN", "scaled_dot_product_attention", "PositionalEncoding",
    "causal_mask", "TransformerClassifier", "TransformerLM", "Seq2SeqTransformer", "Generator",
    "Discriminator", "discriminator_loss", "generator_loss", "VAE", "vae_loss", "count_parameters",
]

_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "sigmoid": nn.Sigmoid,
                "leaky_relu": lambda: nn.LeakyReLU(0.2)}


def _activation(name: str) -> nn.Module:
    if name not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose from {sorted(_ACTIVATIONS)}")
    return _ACTIVATIONS[name]()


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars in ``model``.

    Introduced in lecture 03_cnn.
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _mlp_layers(sizes: Sequence[int], activation: str, dropout: float = 0.0) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(_activation(activation))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return layers


# =============================================================================
# Classifiers
# =============================================================================

class MLP(nn.Module):
    """Fully connected network ``in_dim -> hidden... -> out_dim``.

    Args:
        in_dim: input features (images are flattened: (N, 1, 8, 8) -> (N, 64)).
        hidden: sizes of the hidden layers.
        out_dim: number of outputs (class scores).
        activation: ``"relu"``, ``"tanh"``, ``"gelu"``, ``"sigmoid"`` or ``"leaky_relu"``.
        dropout: drop probability after each hidden activation.

    Shapes: x (N, in_dim) or (N, *) with prod(*) == in_dim -> (N, out_dim).

    Introduced in lecture 02_backprop.
    """

    def __init__(self, in_dim: int = 64, hidden: Sequence[int] = (128,), out_dim: int = 10,
                 activation: str = "relu", dropout: float = 0.0):
        super().__init__()
        self.net = nn.Sequential(*_mlp_layers([in_dim, *hidden, out_dim], activation, dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1))


class SmallCNN(nn.Module):
    """Two blocks ``conv3x3 (padding 1) -> ReLU -> maxpool2`` then a linear classifier.

    Args:
        in_channels: channels of the input image.
        num_classes: number of outputs.
        image_size: height = width of the input (divisible by 4); 8 for the digits.
        channels: output channels of the two blocks.
        dropout: drop probability before the classifier.

    Shapes: x (N, in_channels, S, S) -> (N, c1, S/2, S/2) -> (N, c2, S/4, S/4) -> (N, num_classes).

    Introduced in lecture 03_cnn.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 8,
                 channels: tuple[int, int] = (32, 64), dropout: float = 0.0):
        super().__init__()
        if image_size % 4:
            raise ValueError(f"image_size must be divisible by 4, got {image_size}")
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(dropout),
                                        nn.Linear(c2 * (image_size // 4) ** 2, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


# =============================================================================
# Character language model
# =============================================================================

class CharVocab:
    """Characters <-> integer ids for a text.

    Attributes:
        chars: the sorted distinct characters; ``stoi``/``itos`` the two maps.

    Introduced in lecture 04_rnn.
    """

    def __init__(self, text: str):
        self.chars = sorted(set(text))
        self.stoi = {c: i for i, c in enumerate(self.chars)}
        self.itos = dict(enumerate(self.chars))

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, s: str) -> torch.Tensor:
        """(len(s),) int64 tensor of ids."""
        return torch.tensor([self.stoi[c] for c in s], dtype=torch.long)

    def decode(self, ids: Iterable[int] | torch.Tensor) -> str:
        return "".join(self.itos[int(i)] for i in ids)

    def windows(self, text: str, seq_len: int, step: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Input/target windows for next-character prediction.

        Returns:
            X, Y: (num_windows, seq_len) int64, with ``Y[:, t] = X[:, t + 1]`` (shifted by one).
        """
        ids = self.encode(text)
        step = step or seq_len
        starts = range(0, len(ids) - seq_len - 1 + 1, step)
        X = torch.stack([ids[s:s + seq_len] for s in starts])
        Y = torch.stack([ids[s + 1:s + seq_len + 1] for s in starts])
        return X, Y


class CharRNN(nn.Module):
    """Embedding -> RNN/GRU/LSTM -> linear: next-character logits.

    Args:
        vocab_size: number of characters V.
        embed_dim: embedding size E.
        hidden_size: hidden state size H.
        num_layers: stacked recurrent layers.
        cell: ``"rnn"`` (tanh), ``"gru"`` or ``"lstm"``.

    Shapes: x (B, T) int64 -> logits (B, T, V); the state is (layers, B, H) (a pair for LSTM).

    Introduced in lecture 04_rnn.
    """

    def __init__(self, vocab_size: int, embed_dim: int = 32, hidden_size: int = 128, num_layers: int = 1,
                 cell: str = "lstm", dropout: float = 0.0):
        super().__init__()
        rnn_cls = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[cell]
        self.cell = cell
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.rnn = rnn_cls(embed_dim, hidden_size, num_layers=num_layers, batch_first=True,
                           dropout=dropout if num_layers > 1 else 0.0)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None,
                return_state: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        out, state = self.rnn(self.embed(x), state)
        logits = self.head(out)
        return (logits, state) if return_state else logits

    @staticmethod
    def loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy over all B*T positions: logits (B, T, V), targets (B, T)."""
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

    @torch.no_grad()
    def generate(self, prompt: torch.Tensor, length: int, *, temperature: float = 1.0,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Sample ``length`` more ids after ``prompt`` ((T0,) int64, T0 >= 1); returns (T0 + length,).

        ``temperature`` 0 means greedy (argmax). ``generator`` makes sampling repeatable.
        """
        was_training = self.training
        self.eval()
        dev = next(self.parameters()).device
        ids = prompt.to(dev).view(1, -1)
        logits, state = self(ids, return_state=True)
        out = [ids[0]]
        for _ in range(length):
            last = logits[0, -1]
            if temperature == 0:
                nxt = last.argmax().view(1)
            else:
                probs = F.softmax(last / temperature, dim=-1)
                nxt = torch.multinomial(probs.cpu(), 1, generator=generator).to(dev)
            out.append(nxt)
            logits, state = self(nxt.view(1, 1), state, return_state=True)
        self.train(was_training)
        return torch.cat(out).cpu()


# =============================================================================
# Attention and Transformers
# =============================================================================

def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                                 mask: torch.Tensor | None = None, scale: float | None = None
                                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q k^T * scale) v, returning the weights too (for heat maps).

    Mask convention, the same as :mod:`course_lib.nn.attention` and as
    ``torch.nn.functional.scaled_dot_product_attention`` with a boolean ``attn_mask``:
    ``mask[..., i, j] = True`` means query ``i`` MAY attend to key ``j``.  (Careful:
    ``torch.nn.MultiheadAttention``, ``nn.Transformer`` and their ``*_key_padding_mask``
    arguments use the opposite meaning; the models below convert.)

    A query that may attend to no key (a fully masked row) gets weights of all zeros,
    hence an output of zeros and zero gradients, not NaN.

    Args:
        q: (..., Tq, d); k: (..., Tk, d); v: (..., Tk, dv).
        mask: boolean, broadcastable to (..., Tq, Tk); True = may attend. ``None``: all visible.
            For causal attention use :func:`causal_mask`.
        scale: multiplies the scores; default ``1 / sqrt(d)``.

    Returns:
        out (..., Tq, dv), weights (..., Tq, Tk) whose rows sum to 1 (0 for a fully masked row).

    Introduced in lecture 05_attention.
    """
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = q @ k.transpose(-2, -1) * scale
    if mask is None:
        weights = F.softmax(scores, dim=-1)
        return weights @ v, weights
    mask = torch.as_tensor(mask, device=scores.device)
    if mask.dtype != torch.bool:
        raise TypeError(f"mask must be boolean (True = may attend), got dtype {mask.dtype}")
    any_key = mask.any(dim=-1, keepdim=True)
    # A fully masked row would be softmax([-inf, ...]) = 0/0 = NaN (in the gradient too); give
    # it finite scores instead and zero its weights afterwards, as course_lib.nn does.
    scores = scores.masked_fill(~mask, float("-inf")).masked_fill(~any_key, 0.0)
    weights = F.softmax(scores, dim=-1).masked_fill(~any_key, 0.0)
    return weights @ v, weights


def causal_mask(T: int, device: torch.device | str | None = None) -> torch.Tensor:
    """(T, T) bool, True on and below the diagonal: position t may attend to t' <= t only.

    Introduced in lecture 05_attention.
    """
    return torch.tril(torch.ones(T, T, dtype=torch.bool, device=device))


def _blocked(mask: torch.Tensor | None) -> torch.Tensor | None:
    """Our masks (True = may attend) to ``torch.nn``'s attention-layer masks (True = blocked)."""
    return None if mask is None else ~mask


def _check_token_mask(mask: torch.Tensor | None, x: torch.Tensor, name: str) -> None:
    if mask is None:
        return
    if mask.dtype != torch.bool or mask.shape != x.shape:
        raise ValueError(f"{name} must be a bool tensor of shape {tuple(x.shape)} (True = real token), "
                         f"got {mask.dtype} {tuple(mask.shape)}")
    if not bool(mask.any(dim=1).all()):
        # nn.Transformer gives NaN for a sequence that nothing may attend to
        raise ValueError(f"{name}: every sequence needs at least one real token (True)")


class PositionalEncoding(nn.Module):
    """Sinusoidal positions (Vaswani et al.) added to the embeddings: (B, T, D) -> (B, T, D).

    Introduced in lecture 05_attention.
    """

    pe: torch.Tensor   # a buffer: (max_len, D)

    def __init__(self, d_model: int, max_len: int = 512, dropout: float = 0.0):
        super().__init__()
        pos = torch.arange(max_len).unsqueeze(1)
        div = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(pos * div)
        pe[:, 1::2] = torch.cos(pos * div)[:, : d_model // 2]
        self.register_buffer("pe", pe, persistent=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(x + self.pe[: x.shape[1]])


def _encoder(d_model, nhead, num_layers, dim_ff, dropout) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(d_model, nhead, dim_ff, dropout, batch_first=True, norm_first=True)
    return nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)


class TransformerClassifier(nn.Module):
    """Token embedding + positions -> Transformer encoder -> mean pool over real tokens -> linear.

    Shapes: x (B, T) int64 -> (B, num_classes). ``token_mask`` (B, T) bool, True at real
    tokens and False at padding (True = may be attended to, as in :func:`scaled_dot_product_attention`);
    padding is neither attended to nor pooled.

    Introduced in lecture 05_attention.
    """

    def __init__(self, vocab_size: int, num_classes: int, d_model: int = 64, nhead: int = 4,
                 num_layers: int = 2, dim_ff: int = 128, max_len: int = 512, dropout: float = 0.0):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model)
        self.pos = PositionalEncoding(d_model, max_len, dropout)
        self.encoder = _encoder(d_model, nhead, num_layers, dim_ff, dropout)
        self.head = nn.Linear(d_model, num_classes)

    def forward(self, x: torch.Tensor, token_mask: torch.Tensor | None = None) -> torch.Tensor:
        _check_token_mask(token_mask, x, "token_mask")
        h = self.encoder(self.pos(self.embed(x)), src_key_padding_mask=_blocked(token_mask))
        if token_mask is None:
            pooled = h.mean(1)
        else:
            keep = token_mask.unsqueeze(-1).to(h.dtype)
            pooled = (h * keep).sum(1) / keep.sum(1)
        return self.head(pooled)


class TransformerLM(nn.Module):
    """Decoder-only (GPT-style) language model: causal self-attention blocks.

    Shapes: x (B, T) int64, T <= max_len -> logits (B, T, V); ``logits[:, t]`` depends on
    ``x[:, :t + 1]`` only.

    Introduced in lecture 05_attention.
    """

    def __init__(self, vocab_size: int, d_model: int = 64, nhead: int = 4, num_layers: int = 2,
                 dim_ff: int = 128, max_len: int = 256, dropout: float = 0.0):
        super().__init__()
        self.max_len = max_len
        self.embed = nn.Embedding(vocab_size, d_model)
        self.pos = PositionalEncoding(d_model, max_len, dropout)
        self.blocks = _encoder(d_model, nhead, num_layers, dim_ff, dropout)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] > self.max_len:
            raise ValueError(f"sequence length {x.shape[1]} exceeds max_len={self.max_len}")
        blocked = _blocked(causal_mask(x.shape[1], x.device))
        h = self.blocks(self.pos(self.embed(x)), mask=blocked, is_causal=True)
        return self.head(self.norm(h))

    loss = staticmethod(CharRNN.loss)

    @torch.no_grad()
    def generate(self, prompt: torch.Tensor, length: int, *, temperature: float = 1.0,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Like :meth:`CharRNN.generate`: ``length`` more ids after ``prompt`` ((T0,), T0 >= 1) -> (T0 + length,).

        The model sees the last ``max_len`` ids (it has no state to carry further context).
        """
        was_training = self.training
        self.eval()
        dev = next(self.parameters()).device
        ids = prompt.to(dev).view(-1)
        for _ in range(length):
            last = self(ids[-self.max_len:].view(1, -1))[0, -1]
            if temperature == 0:
                nxt = last.argmax().view(1)
            else:
                probs = F.softmax(last / temperature, dim=-1)
                nxt = torch.multinomial(probs.cpu(), 1, generator=generator).to(dev)
            ids = torch.cat([ids, nxt])
        self.train(was_training)
        return ids.cpu()


class Seq2SeqTransformer(nn.Module):
    """Encoder-decoder Transformer (``torch.nn.Transformer``) with shared-size vocabularies.

    Shapes: src (B, S) int64, tgt (B, T) int64 (teacher forcing: the decoder input,
    i.e. the target shifted right behind a start token) -> logits (B, T, tgt_vocab).
    The decoder is causal: ``logits[:, t]`` depends on ``tgt[:, :t + 1]`` (and all of src).
    ``src_token_mask`` (B, S) and ``tgt_token_mask`` (B, T): bool, True at real tokens,
    False at padding (True = may be attended to, as in :func:`scaled_dot_product_attention`).

    Introduced in lecture 05_attention.
    """

    def __init__(self, src_vocab: int, tgt_vocab: int, d_model: int = 64, nhead: int = 4,
                 num_encoder_layers: int = 2, num_decoder_layers: int = 2, dim_ff: int = 128,
                 max_len: int = 256, dropout: float = 0.0):
        super().__init__()
        self.src_embed = nn.Embedding(src_vocab, d_model)
        self.tgt_embed = nn.Embedding(tgt_vocab, d_model)
        self.pos = PositionalEncoding(d_model, max_len, dropout)
        with warnings.catch_warnings():  # nested tensors do not apply to norm_first; keep stderr clean
            warnings.filterwarnings("ignore", message=".*enable_nested_tensor.*")
            self.transformer = nn.Transformer(d_model, nhead, num_encoder_layers, num_decoder_layers, dim_ff,
                                              dropout, batch_first=True, norm_first=True)
        self.head = nn.Linear(d_model, tgt_vocab)

    def encode(self, src: torch.Tensor, src_token_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Encoder memory (B, S, d_model)."""
        _check_token_mask(src_token_mask, src, "src_token_mask")
        return self.transformer.encoder(self.pos(self.src_embed(src)), src_key_padding_mask=_blocked(src_token_mask))

    def decode(self, tgt: torch.Tensor, memory: torch.Tensor, src_token_mask: torch.Tensor | None = None,
               tgt_token_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (B, T, tgt_vocab) of the causal decoder over ``memory`` from :meth:`encode`."""
        _check_token_mask(tgt_token_mask, tgt, "tgt_token_mask")
        blocked = _blocked(causal_mask(tgt.shape[1], tgt.device))
        h = self.transformer.decoder(self.pos(self.tgt_embed(tgt)), memory, tgt_mask=blocked,
                                     tgt_key_padding_mask=_blocked(tgt_token_mask),
                                     memory_key_padding_mask=_blocked(src_token_mask), tgt_is_causal=True)
        return self.head(h)

    def forward(self, src: torch.Tensor, tgt: torch.Tensor, src_token_mask: torch.Tensor | None = None,
                tgt_token_mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.decode(tgt, self.encode(src, src_token_mask), src_token_mask, tgt_token_mask)

    @torch.no_grad()
    def greedy_decode(self, src: torch.Tensor, start_id: int, length: int,
                      src_token_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Decode ``length`` tokens after ``start_id``, each the argmax given those before it.

        Returns:
            (B, length) int64 on src's device, without the start token.
        """
        was_training = self.training
        self.eval()
        memory = self.encode(src, src_token_mask)
        out = torch.full((src.shape[0], 1), start_id, dtype=torch.long, device=src.device)
        for _ in range(length):
            nxt = self.decode(out, memory, src_token_mask)[:, -1].argmax(-1, keepdim=True)
            out = torch.cat([out, nxt], dim=1)
        self.train(was_training)
        return out[:, 1:]


# =============================================================================
# GAN
# =============================================================================

class Generator(nn.Module):
    """MLP generator: noise z (N, latent_dim) -> samples (N, *out_shape).

    Args:
        latent_dim: size of z.
        out_shape: shape of one sample, e.g. ``(2,)`` for 2-D points or ``(1, 8, 8)`` for digits.
        hidden: hidden layer sizes.
        output: ``None`` (unbounded, for 2-D data), ``"tanh"`` (data in [-1, 1]) or
            ``"sigmoid"`` (data in [0, 1]).

    Introduced in lecture 06_generative.
    """

    def __init__(self, latent_dim: int = 8, out_shape: Sequence[int] = (2,), hidden: Sequence[int] = (64, 64),
                 output: str | None = None):
        super().__init__()
        self.latent_dim = latent_dim
        self.out_shape = tuple(out_shape)
        layers = _mlp_layers([latent_dim, *hidden, math.prod(self.out_shape)], "leaky_relu")
        if output is not None:
            layers.append(_activation(output))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, *self.out_shape)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` samples from fresh noise (on the model's device)."""
        dev = next(self.parameters()).device
        z = torch.randn(n, self.latent_dim, generator=generator).to(dev)
        return self(z)


class Discriminator(nn.Module):
    """MLP discriminator: samples (N, *in_shape) -> real/fake logits (N,).

    Introduced in lecture 06_generative.
    """

    def __init__(self, in_dim: int = 2, hidden: Sequence[int] = (64, 64)):
        super().__init__()
        self.net = nn.Sequential(*_mlp_layers([in_dim, *hidden, 1], "leaky_relu"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1)).squeeze(-1)


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """``-log D(x) - log(1 - D(G(z)))`` averaged, from logits (numerically stable).

    Introduced in lecture 06_generative.
    """
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss ``-log D(G(z))`` averaged (Goodfellow et al., 2014).

    Introduced in lecture 06_generative.
    """
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


# =============================================================================
# VAE
# =============================================================================

class VAE(nn.Module):
    """Variational autoencoder with a Gaussian encoder and a Bernoulli decoder (MLPs).

    ``forward(x) -> (recon_logits, mu, logvar)``; the decoder outputs logits, so
    ``torch.sigmoid(recon_logits)`` is the reconstruction (data in [0, 1]).

    Shapes: x (N, in_dim) or (N, *) flattened -> recon_logits (N, in_dim), mu and logvar (N, latent_dim).

    Introduced in lecture 06_generative.
    """

    def __init__(self, in_dim: int = 64, latent_dim: int = 2, hidden: Sequence[int] = (128,)):
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(*_mlp_layers([in_dim, *hidden], "relu"), nn.ReLU())
        self.to_mu = nn.Linear(hidden[-1], latent_dim)
        self.to_logvar = nn.Linear(hidden[-1], latent_dim)
        self.decoder = nn.Sequential(*_mlp_layers([latent_dim, *reversed(hidden), in_dim], "relu"))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x.flatten(1))
        return self.to_mu(h), self.to_logvar(h)

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """z = mu + sigma * eps, eps ~ N(0, I): the randomness is outside the path of the gradient."""
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype).to(mu.device)
        return mu + torch.exp(0.5 * logvar) * eps

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def forward(self, x: torch.Tensor,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar, generator) if self.training else mu
        return self.decode(z), mu, logvar


def vae_loss(recon_logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
             beta: float = 1.0) -> torch.Tensor:
    """Negative ELBO per example: Bernoulli reconstruction + beta * KL(q(z|x) || N(0, I)).

    ``KL = -0.5 * sum(1 + logvar - mu^2 - exp(logvar))`` over latent dimensions; both
    terms are summed over features and averaged over the batch.

    Args:
        recon_logits: (N, D) decoder logits; x: (N, D) or (N, *) targets in [0, 1].

    Introduced in lecture 06_generative.
    """
    x = x.flatten(1)
    rec = F.binary_cross_entropy_with_logits(recon_logits, x, reduction="sum") / len(x)
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / len(x)
    return rec + beta * kl
