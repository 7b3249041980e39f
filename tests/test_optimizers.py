"""Stage 6: optimizers against hand-computed updates (and torch.optim when installed)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnscratch.core.optimizers import OPTIMIZERS, Adam, AdamW, GradientDescent, Momentum
from nnscratch.core.schedules import SCHEDULES, CosineLR, ReduceLROnPlateau, StepLR


def run(opt, grads_seq, p0):
    p = np.array(p0, dtype=np.float64)
    for g in grads_seq:
        opt.step([p], [np.array(g, dtype=np.float64)])
    return p


def test_gradient_descent_by_hand() -> None:
    p = run(GradientDescent(0.1), [[1.0, -2.0], [0.5, 0.0]], [1.0, 1.0])
    np.testing.assert_allclose(p, [1 - 0.1 - 0.05, 1 + 0.2])


def test_momentum_by_hand() -> None:
    # v1 = g1 = 1; p = 1 - 0.1·1 = 0.9.  v2 = 0.9·1 + 2 = 2.9; p = 0.9 - 0.29 = 0.61
    p = run(Momentum(0.1, momentum=0.9), [[1.0], [2.0]], [1.0])
    np.testing.assert_allclose(p, [0.61])
    # Nesterov: step uses g + μ v.  v1 = 1: p = 1 - 0.1(1 + 0.9) = 0.81
    # v2 = 2.9: p = 0.81 - 0.1(2 + 2.61) = 0.349
    p = run(Momentum(0.1, momentum=0.9, nesterov=True), [[1.0], [2.0]], [1.0])
    np.testing.assert_allclose(p, [0.349])


def test_adam_first_steps_by_hand() -> None:
    # Step 1: m̂ = g, v̂ = g², so the step is η·g/(|g| + ε) ≈ η·sign(g).
    p = run(Adam(0.01), [[3.0, -0.5]], [0.0, 0.0])
    np.testing.assert_allclose(p, [-0.01, 0.01], rtol=1e-6)
    # Step 2 by the formula.
    g1, g2, lr, b1, b2, eps = 3.0, 1.0, 0.01, 0.9, 0.999, 1e-8
    m = (1 - b1) * g1
    v = (1 - b2) * g1**2
    p_hand = -lr * (m / (1 - b1)) / (math.sqrt(v / (1 - b2)) + eps)
    m = b1 * m + (1 - b1) * g2
    v = b2 * v + (1 - b2) * g2**2
    p_hand -= lr * (m / (1 - b1**2)) / (math.sqrt(v / (1 - b2**2)) + eps)
    np.testing.assert_allclose(run(Adam(0.01), [[g1], [g2]], [0.0]), [p_hand], rtol=1e-12)


def test_adamw_decays_before_the_update() -> None:
    p = run(AdamW(0.1, weight_decay=0.5), [[0.0]], [2.0])
    # m = v = 0 → no Adam move; decay: 2·(1 - 0.1·0.5) = 1.9
    np.testing.assert_allclose(p, [1.9])


def test_state_is_preallocated_and_reused() -> None:
    opt = Adam()
    p, g = np.zeros(5, dtype=np.float32), np.ones(5, dtype=np.float32)
    opt.step([p], [g])
    buffers = [id(b) for b in opt._buffers[0]]
    opt.step([p], [g])
    assert [id(b) for b in opt._buffers[0]] == buffers
    assert all(b.dtype == np.float32 for b in opt._buffers[0])
    opt.reset()
    assert opt.t == 0 and not opt._buffers[0][0].any()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="learning_rate"):
        GradientDescent(0)
    with pytest.raises(ValueError, match="momentum"):
        Momentum(0.1, momentum=1.0)
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        OPTIMIZERS.lookup("rmsprop")(0.1)
    with pytest.raises(ValueError, match="unknown schedule"):
        SCHEDULES.lookup("warmup")(10)
    assert OPTIMIZERS.lookup("nesterov")(0.1).nesterov


def test_schedules() -> None:
    assert StepLR(step_size=2, gamma=0.5).rate(5, 1.0, None) == 0.25
    cosine = CosineLR(total_epochs=10)
    assert cosine.rate(0, 1.0, None) == 1.0
    assert cosine.rate(5, 1.0, None) == pytest.approx(0.5)
    assert cosine.rate(10, 1.0, None) == pytest.approx(0.0)
    plateau = ReduceLROnPlateau(factor=0.5, patience=1)
    rates = [plateau.rate(e, 1.0, loss) for e, loss in enumerate([None, 1.0, 1.0, 1.0, 0.5, 0.6])]
    assert rates == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5]


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (lambda: GradientDescent(0.05), lambda t, p: t.optim.SGD(p, lr=0.05)),
        (lambda: Momentum(0.05, 0.9), lambda t, p: t.optim.SGD(p, lr=0.05, momentum=0.9)),
        (
            lambda: Momentum(0.05, 0.9, nesterov=True),
            lambda t, p: t.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
        ),
        (lambda: Adam(0.01), lambda t, p: t.optim.Adam(p, lr=0.01)),
        (lambda: AdamW(0.01, 0.1), lambda t, p: t.optim.AdamW(p, lr=0.01, weight_decay=0.1)),
    ],
)
def test_matches_torch_optim(ours, theirs) -> None:
    torch = pytest.importorskip("torch", reason="PyTorch (the optional bench extra) not installed")
    rng = np.random.default_rng(0)
    p0 = rng.normal(size=(4, 3))
    grads = rng.normal(size=(6, 4, 3))
    p = p0.copy()
    opt = ours()
    tp = torch.tensor(p0.copy(), requires_grad=True)
    topt = theirs(torch, [tp])
    for g in grads:
        opt.step([p], [g])
        tp.grad = torch.tensor(g)
        topt.step()
    np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_adam_flushes_subnormal_moments() -> None:
    opt = Adam()
    p = np.ones(4, dtype=np.float32)
    g = np.array([1.0, 0.0, 0.0, 0.0], dtype=np.float32)
    opt.step([p], [g])
    m, v, _ = opt._buffers[0]
    m[1:] = np.float32(1e-40)  # subnormal
    v[1:] = np.float32(1e-41)
    for _ in range(Adam.FLUSH_EVERY - 1):
        opt.step([p], [g])
    assert opt.t % Adam.FLUSH_EVERY == 0
    assert not m[1:].any() and not v[1:].any()
    assert m[0] > 0 and v[0] > 0
