"""Image augmentation: shifts move the mass centre by the shift, identity parameters give
the batch back bit for bit, the same seed the same batch, and pixels stay in [0, 1]."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnscratch.data.augment import (
    Affine,
    Elastic,
    Shift,
    augmentation,
    gaussian_matrix,
    sample_bilinear,
    shift_images,
    smooth_fields,
)
from nnscratch.data.images import load_images

SHAPE = (28, 28)


def digits(m: int = 16, seed: int = 0) -> np.ndarray:
    """Blobs well inside 28 × 28 images, pixels in [0, 1]."""
    rng = np.random.default_rng(seed)
    images = np.zeros((m, 28, 28))
    for image in images:
        y, x = rng.integers(9, 19, size=2)
        image[y - 3 : y + 4, x - 2 : x + 3] = rng.uniform(0.3, 1.0, size=(7, 5))
    return images.reshape(m, -1)


def centre(rows: np.ndarray) -> np.ndarray:
    images = rows.reshape(len(rows), *SHAPE)
    y, x = np.mgrid[0:28, 0:28]
    mass = images.sum(axis=(1, 2))
    return np.stack([(images * y).sum((1, 2)) / mass, (images * x).sum((1, 2)) / mass], 1)


@settings(max_examples=25, deadline=None)
@given(dx=st.integers(-4, 4), dy=st.integers(-4, 4))
def test_a_shift_moves_the_mass_centre_by_the_shift(dx: int, dy: int) -> None:
    rows = digits(4)
    before = centre(rows)
    shifted = shift_images(rows.copy(), np.full(4, dx), np.full(4, dy), SHAPE)
    np.testing.assert_allclose(centre(shifted) - before, [[dy, dx]] * 4, atol=1e-9)
    assert shifted.sum() == pytest.approx(rows.sum())  # nothing fell off the edge


@pytest.mark.parametrize(
    "transform",
    [Shift(SHAPE, max_px=0), Affine(SHAPE, 0, 0, 0, 0), Elastic(SHAPE, alpha=0)],
    ids=["shift", "affine", "elastic"],
)
def test_identity_parameters_give_the_batch_back_bit_for_bit(transform) -> None:
    rows = digits().astype(np.float32)
    out = transform(rows.copy(), np.random.default_rng(1))
    np.testing.assert_array_equal(out, rows)


@pytest.mark.parametrize("name", ["shift", "affine", "elastic"])
def test_the_same_seed_gives_the_same_batch_and_pixels_stay_in_range(name: str) -> None:
    transform = augmentation(name, SHAPE)
    rows = digits(32)
    a = transform(rows.copy(), np.random.default_rng(7))
    b = transform(rows.copy(), np.random.default_rng(7))
    c = transform(rows.copy(), np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c) and not np.array_equal(a, rows)
    assert a.min() >= 0 and a.max() <= 1
    assert abs(a.sum() - rows.sum()) < 0.25 * rows.sum()  # distorted, not destroyed


def test_a_real_digit_stays_a_digit() -> None:
    images = load_images("digits")
    rows = images.X_train[:64].astype(np.float64)
    shape = images.image_shape
    for name in ("shift", "affine", "elastic"):
        out = augmentation(name, shape)(rows.copy(), np.random.default_rng(0))
        correlation = np.corrcoef(out.ravel(), rows.ravel())[0, 1]
        assert 0.3 < correlation < 1.0, name


def test_unknown_augmentation_is_refused() -> None:
    with pytest.raises(ValueError, match="augment must be one of none, shift, affine, elastic"):
        augmentation("rotate", SHAPE)


def test_the_loop_augments_each_batch_copy_not_the_data_nor_validation() -> None:
    """``train(batch_transform=...)``: the transform sees each batch's rows (a copy), from a
    stream of its own, so the training data and the shuffles are untouched; with none the
    bits are those of a loop without the hook."""
    from nnscratch.core.network import Network, to_network_layout
    from nnscratch.core.optimizers import Adam
    from nnscratch.core.training import TrainConfig, train

    rng = np.random.default_rng(0)
    rows = rng.random((300, 16))
    Y = (rows[:, :3].sum(1) > 1.5).astype(float)[None, :]
    saved = rows.copy()
    seen: list[np.ndarray] = []

    def record_and_zero_first(batch: np.ndarray, stream: np.random.Generator) -> None:
        seen.append(batch.copy())
        batch[:, 0] = stream.random(len(batch))  # a distortion drawn from its own stream

    config = TrainConfig(epochs=2, batch_size=64)
    runs = []
    for transform in (None, record_and_zero_first, record_and_zero_first):
        net = Network([16, 8, 1], dtype=np.float64, rng=1)
        history = train(
            net,
            None,
            Y,
            Adam(0.01),
            config=config,
            rows=rows,
            rng=3,
            validation=(to_network_layout(rows[:50]), Y[:, :50]),
            batch_transform=transform,
        )
        runs.append((net.params.flat.copy(), history.val_loss))
    np.testing.assert_array_equal(rows, saved)  # the data itself is never touched
    assert len(seen) == 2 * 2 * 5 and sum(len(b) for b in seen[:5]) == 300
    np.testing.assert_array_equal(runs[1][0], runs[2][0])  # same seed, same bits
    assert not np.array_equal(runs[0][0], runs[1][0])  # the transform changed training
    # the shuffles did not move: the batches the transform saw are the unaugmented run's
    plain = Network([16, 8, 1], dtype=np.float64, rng=1)
    order = np.random.default_rng(3).permutation(300)
    np.testing.assert_array_equal(seen[0], rows[order[:64]])
    with pytest.raises(ValueError, match="needs the training rows"):
        train(
            plain,
            to_network_layout(rows),
            Y,
            Adam(0.01),
            config=config,
            batch_transform=record_and_zero_first,
        )


@settings(max_examples=20, deadline=None)
@given(dx=st.integers(-3, 3), dy=st.integers(-3, 3))
def test_bilinear_sampling_at_whole_pixel_offsets_is_a_shift(dx: int, dy: int) -> None:
    rows = digits(3).astype(np.float32)
    y, x = np.mgrid[0:28, 0:28].astype(np.float32)
    sampled = sample_bilinear(
        rows.copy(),
        np.broadcast_to(y - dy, (3, 28, 28)),
        np.broadcast_to(x - dx, (3, 28, 28)),
        SHAPE,
    )
    shifted = shift_images(rows.copy(), np.full(3, dx), np.full(3, dy), SHAPE)
    np.testing.assert_array_equal(sampled, shifted)


@pytest.mark.parametrize("sigma", [1.0, 3.0, 0.7])
def test_field_smoothing_is_scipys_gaussian_filter(sigma: float) -> None:
    """The elastic field's smoothing as two matrix products equals SciPy's separable
    Gaussian filter with zeros beyond the edges (an independent implementation)."""
    from scipy.ndimage import gaussian_filter1d

    fields = np.random.default_rng(0).uniform(-1, 1, size=(4, 28, 20))
    expected = fields
    for axis in (1, 2):
        expected = gaussian_filter1d(expected, sigma, axis=axis, mode="constant")
    np.testing.assert_allclose(smooth_fields(fields, sigma), expected, atol=1e-12)
    assert gaussian_matrix(28, sigma).shape == (28, 28)


def test_an_elastic_field_moves_pixels_by_about_alpha_times_its_smoothed_size() -> None:
    rows = digits(64)
    weak = augmentation("elastic", SHAPE)
    strong = Elastic(SHAPE, alpha=3 * weak.alpha, sigma=weak.sigma)
    change = [
        np.abs(t(rows.copy(), np.random.default_rng(2)) - rows).mean() for t in (weak, strong)
    ]
    assert 0 < change[0] < change[1]
