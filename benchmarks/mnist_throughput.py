"""Same-run MNIST benchmark: nnscratch vs scikit-learn vs PyTorch (CPU), and JAX if installed.

All competitors train the same 784-64-32-16-10 ReLU/softmax network with
cross-entropy and Adam (lr 1e-3, no L2, no early stopping) on the official
60,000 training images, batch 256, float32, for the same number of epochs,
in this one process, in alternating order, after a pause that lets the
previous run's BLAS threads go idle; each figure is the best of
``--repeats`` runs. Test accuracy is on the official 10,000 test images.
JAX (an optional extra) trains one epoch as a jit-compiled ``lax.scan`` over
the batches; it is skipped with a note when not installed. The machine is
shared and noisy: read the ratios.

    python benchmarks/mnist_throughput.py --data ../shared/data/mnist

Writes ``benchmarks/results/mnist_throughput.{md,json}`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings
from datetime import date
from itertools import pairwise
from pathlib import Path

import numpy as np
from results_io import write_results

from nnscratch import MLPClassifier
from nnscratch.data.images import load_mnist

HIDDEN = (64, 32, 16)
HERE = Path(__file__).resolve().parent
SETTLE_S = 0.3


def fit_nnscratch(X, y, batch_size, epochs, seed):
    model = MLPClassifier(
        hidden_layer_sizes=HIDDEN,
        batch_size=batch_size,
        epochs=epochs,
        learning_rate=1e-3,
        early_stopping=False,
        random_state=seed,
    )
    start = time.perf_counter()
    model.fit(X, y)
    return time.perf_counter() - start, model.predict


def fit_sklearn(X, y, batch_size, epochs, seed):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier as SkMLP

    model = SkMLP(
        hidden_layer_sizes=HIDDEN,
        solver="adam",
        learning_rate_init=1e-3,
        alpha=0.0,
        batch_size=batch_size,
        max_iter=epochs,
        n_iter_no_change=epochs + 1,
        tol=0.0,
        random_state=seed,
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    return time.perf_counter() - start, model.predict


def fit_torch(X, y, batch_size, epochs, seed):
    import torch

    torch.manual_seed(seed)
    sizes = [X.shape[1], *HIDDEN, 10]
    layers: list = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(Xt), generator=generator)
        for i in range(0, len(Xt), batch_size):
            idx = order[i : i + batch_size]
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(net(Xt[idx]), yt[idx]).backward()
            opt.step()
    seconds = time.perf_counter() - start

    def predict(Z):
        with torch.no_grad():
            return net(torch.tensor(Z)).argmax(dim=1).numpy()

    return seconds, predict


def fit_jax(X, y, batch_size, epochs, seed):
    import jax
    import jax.numpy as jnp

    key = jax.random.PRNGKey(seed)
    sizes = [X.shape[1], *HIDDEN, 10]
    params = []
    for n_in, n_out in pairwise(sizes):
        key, sub = jax.random.split(key)
        params.append((jax.random.normal(sub, (n_in, n_out)) * np.sqrt(2 / n_in), jnp.zeros(n_out)))

    def logits(p, x):
        for W, b in p[:-1]:
            x = jax.nn.relu(x @ W + b)
        W, b = p[-1]
        return x @ W + b

    def loss(p, x, t):
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits(p, x)), t[:, None], 1))

    b1, b2, eps, lr = 0.9, 0.999, 1e-8, 1e-3

    def step(state, batch):
        p, m, v, t = state
        g = jax.grad(loss)(p, *batch)
        t = t + 1
        m = jax.tree_util.tree_map(lambda a, b: b1 * a + (1 - b1) * b, m, g)
        v = jax.tree_util.tree_map(lambda a, b: b2 * a + (1 - b2) * b * b, v, g)
        p = jax.tree_util.tree_map(
            lambda w, a, c: w - lr * (a / (1 - b1**t)) / (jnp.sqrt(c / (1 - b2**t)) + eps),
            p,
            m,
            v,
        )
        return (p, m, v, t), None

    @jax.jit
    def epoch(state, xs, ts):
        return jax.lax.scan(step, state, (xs, ts))[0]

    n = (len(X) // batch_size) * batch_size
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    state = (params, zeros, zeros, 0)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(X))[:n]
    shaped = (X[order].reshape(-1, batch_size, X.shape[1]), y[order].reshape(-1, batch_size))
    jax.block_until_ready(epoch(state, *shaped))  # compile outside the timing
    start = time.perf_counter()
    for _ in range(epochs):
        order = rng.permutation(len(X))[:n]
        xs = X[order].reshape(-1, batch_size, X.shape[1])
        state = epoch(state, xs, y[order].reshape(-1, batch_size))
    jax.block_until_ready(state)
    seconds = time.perf_counter() - start
    return seconds, lambda Z: np.asarray(jnp.argmax(logits(state[0], Z), axis=1))


COMPETITORS = {
    "nnscratch": fit_nnscratch,
    "scikit-learn": fit_sklearn,
    "PyTorch": fit_torch,
    "JAX": fit_jax,
}


def available() -> dict:
    out = {"nnscratch": fit_nnscratch, "scikit-learn": fit_sklearn}
    for name, module in (("PyTorch", "torch"), ("JAX", "jax")):
        try:
            __import__(module)
        except ImportError:
            print(f"note: {name} is not installed; skipped (pip install {module})")
            continue
        out[name] = COMPETITORS[name]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data" / "mnist"))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(HERE / "results" / "mnist_throughput"))
    args = parser.parse_args()
    data = load_mnist(args.data)
    competitors = available()
    best: dict[str, float] = {}
    accuracy: dict[str, float] = {}
    for repeat in range(args.repeats):
        for name, fit in competitors.items():  # alternating, each after a pause
            time.sleep(SETTLE_S)
            seconds, predict = fit(
                data.X_train, data.y_train, args.batch_size, args.epochs, seed=repeat
            )
            best[name] = min(best.get(name, np.inf), seconds)
            accuracy.setdefault(name, float(np.mean(predict(data.X_test) == data.y_test)))
            print(f"repeat {repeat + 1} {name}: {seconds:.2f} s", flush=True)
    samples = len(data.y_train) * args.epochs
    rate = {name: samples / seconds for name, seconds in best.items()}
    lines = [
        f"Machine: {platform.machine()}, Python {platform.python_version()}, "
        f"NumPy {np.__version__}; {date.today()}",
        "",
        f"**MNIST training throughput** (784-64-32-16-10 ReLU/softmax, Adam 1e-3, batch "
        f"{args.batch_size}, {args.epochs} epochs, float32, best of {args.repeats}, alternating)",
        "",
        "| competitor | samples/s | nnscratch × | test accuracy |",
        "|---|---:|---:|---:|",
    ]
    for name in rate:
        lines.append(
            f"| {name} | {rate[name]:,.0f} | {rate['nnscratch'] / rate[name]:.2f}× | "
            f"{accuracy[name] * 100:.2f}% |"
        )
    write_results(
        args.out,
        {"samples_per_second": rate, "test_accuracy": accuracy, "args": vars(args)},
        "\n".join(lines) + "\n",
    )


if __name__ == "__main__":
    main()
