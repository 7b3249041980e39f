"""The course's stages, one module each: its stub file's text, its exercises and checks.

    data          1  release_date → year, Min-Max fitted on training rows, the transpose
    init          2  He and Glorot draws, a network's initial parameters
    activations   3  ReLU, the sigmoid, and their derivatives
    forward       4  one layer's Z = W·A + b, the forward pass with its cache
    loss          5  the MSE cost, the L2 penalty, the cost's gradient
    backprop      6  one layer backward, the activation's step, the L-layer backward pass
    optimizers    7  gradient descent, momentum and Adam steps
    training      8  the training loop: full batch, mini-batches, every optimizer
    softmax       9  Part 2: a stable softmax, cross-entropy and their gradient
    tabm          10 piecewise-linear inputs and TabM's first layer

Each module defines ``STAGE`` (a :class:`~nnscratch.app.learn.exercise.Stage`);
:mod:`nnscratch.app.learn.exercises` registers them in this order. A check computes what
is right with the package's own code (or a finite difference), and what each named
mistake would give, on the same seeded inputs.
"""
