"""Interactive explorers of the later units, one module per unit's topic.

Each explorer's compute part is a plain function (tested without a browser);
the ipywidgets class draws a figure before any control moves. Unit 01's are in
:mod:`course_lib.explorers.linear`, unit 02's (activations and gradients per layer, the
computation graph with its values and gradients; optimiser paths) in
:mod:`course_lib.explorers.backprop` and :mod:`course_lib.explorers.optim`, unit 03's (the sliding convolution window,
input-gradient pictures) in :mod:`course_lib.explorers.cnn`, unit 04's (the gradient cliff, LSTM gates,
sampling temperature) in :mod:`course_lib.explorers.rnn`, unit 05's (attention weights, kernel
regression, positional encodings, beam search) in :mod:`course_lib.explorers.attention`,
unit 06's (divergences of a 1-D generator, a ring-of-8 GAN, a VAE's latent space) in
:mod:`course_lib.explorers.generative`, unit 07's (projection, eigen-digits, t-SNE, kernels, neighbourhoods) in
:mod:`course_lib.explorers.dimred`; what several units share stays in
:mod:`course_lib.widgets`.
"""
