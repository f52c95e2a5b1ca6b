"""NumPy neural-network layers and losses, each as a forward/backward pair.

Conventions (every module follows them):

* ``<layer>_forward(x, ...) -> (out, cache)`` and ``<layer>_backward(dout, cache) -> grads``.
  A cache is a small dataclass with named fields.  Layers with parameters (or several
  inputs) return a ``NamedTuple`` of gradients, e.g. ``AffineGrads(dx, dw, db)``, which
  unpacks like a tuple; parameter-free layers (activations, pooling, dropout) return ``dx``.
* Losses return ``(loss, dscores)``: a Python float and the gradient of the loss.
* Shapes are in every docstring; images are (N, C, H, W), sequences (N, T, D).
* Layers are dtype-preserving (float32 in, float32 out); tests run in float64.
* Randomness comes from an ``rng`` argument (a ``numpy.random.Generator`` or a seed);
  nothing here touches NumPy's global random state.
* Where sources disagree the choice is stated: dropout ``p`` is the DROP probability
  (inverted dropout); batch-norm ``momentum`` weights the NEW statistic (PyTorch); LSTM
  gates are ordered (i, f, g, o) (PyTorch); an attention mask is True where attending is
  allowed, and fully masked rows give zeros, not NaN.

Submodules: :mod:`.core` (affine, activations, softmax, losses), :mod:`.norm` (batch/layer
norm, dropout), :mod:`.conv` (convolution, pooling), :mod:`.rnn` (RNN, LSTM, embeddings,
temporal layers), :mod:`.attention` (attention, multi-head attention, positional encoding).
Everything is re-exported here: ``from course_lib.nn import conv_forward_fast``.
"""
from __future__ import annotations

from . import attention, conv, core, norm, rnn
from .attention import *  # noqa: F403
from .conv import *  # noqa: F403
from .core import *  # noqa: F403
from .norm import *  # noqa: F403
from .rnn import *  # noqa: F403

__all__ = [*core.__all__, *norm.__all__, *conv.__all__, *rnn.__all__, *attention.__all__]
