"""Augmentation: each distortion keeps shape, dtype and value range, is the identity at zero strength, is
reproducible from a seed, and computes what SciPy's ndimage computes."""

import numpy as np
import pytest

from digitnet.augment import Distortion, affine, elastic, gaussian_matrix, warp
from digitnet.data import load

TRANSFORMS = {
    "rotate": lambda images, rng, s: affine(images, rng, rotate=15 * s),
    "scale": lambda images, rng, s: affine(images, rng, scale=0.15 * s),
    "shear": lambda images, rng, s: affine(images, rng, shear=15 * s),
    "shift": lambda images, rng, s: affine(images, rng, shift=3 * s),
    "elastic": lambda images, rng, s: elastic(images, rng, alpha=34 * s, sigma=4),
    "flip": lambda images, rng, s: affine(images, rng, flip=0.5 * s),
    "all": lambda images, rng, s: Distortion(15 * s, 0.15 * s, 15 * s, 3 * s, 34 * s, 4)(
        images.reshape(len(images), -1), rng
    ).reshape(images.shape),
}


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    """64 real digits from the package's sample, as network inputs: (64, 28, 28) float32 in [0, 1]."""
    return (load("sample").train.X[:64] / 255).astype(np.float32).reshape(-1, 28, 28)


@pytest.mark.parametrize("name", TRANSFORMS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_keeps_shape_dtype_and_range(name, dtype, digits):
    images = digits.astype(dtype)
    out = TRANSFORMS[name](images, np.random.default_rng(0), 1.0)
    assert out.shape == images.shape
    assert out.dtype == dtype
    assert out.min() >= 0 and out.max() <= 1
    assert not np.array_equal(out, images)  # it did distort something


@pytest.mark.parametrize("name", TRANSFORMS)
def test_zero_strength_is_the_identity(name, digits):
    assert np.array_equal(TRANSFORMS[name](digits, np.random.default_rng(0), 0.0), digits)


def test_no_distortion_hands_back_the_batch_and_draws_nothing(digits):
    X = digits.reshape(len(digits), -1)
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    assert Distortion()(X, rng) is X
    assert rng.bit_generator.state == state


@pytest.mark.parametrize("name", TRANSFORMS)
def test_reproducible_from_a_seed(name, digits):
    first = TRANSFORMS[name](digits, np.random.default_rng(7), 1.0)
    again = TRANSFORMS[name](digits, np.random.default_rng(7), 1.0)
    other = TRANSFORMS[name](digits, np.random.default_rng(8), 1.0)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_a_flip_mirrors_whole_images_left_to_right_with_its_probability(digits):
    assert np.array_equal(affine(digits, np.random.default_rng(0), flip=1.0), digits[:, :, ::-1])
    half = affine(digits, np.random.default_rng(0), flip=0.5)
    mirrored = [np.array_equal(out, image[:, ::-1]) for out, image in zip(half, digits, strict=True)]
    kept = [np.array_equal(out, image) for out, image in zip(half, digits, strict=True)]
    assert all(m != k for m, k in zip(mirrored, kept, strict=True))  # each image one or the other, exactly
    assert 16 < sum(mirrored) < 48  # of 64, about half


def test_each_image_gets_its_own_distortion(digits):
    same = np.repeat(digits[:1], 4, axis=0)  # four copies of one digit
    out = Distortion(rotate=15, elastic_alpha=34)(same.reshape(4, -1), np.random.default_rng(0))
    assert len({out[i].tobytes() for i in range(4)}) == 4


def test_an_offset_of_whole_pixels_moves_the_image(digits):
    offsets = np.zeros((len(digits), 2, 28, 28), np.float32)
    offsets[:, 0] = -2  # every pixel reads from two rows up: the digit moves two rows down
    offsets[:, 1] = 1  # and from one column right: it moves one column left
    out = warp(digits, offsets)
    assert np.array_equal(out[:, 2:, :-1], digits[:, :-2, 1:])
    assert not out[:, :2].any() and not out[:, :, -1:].any()  # background came in from outside


def test_warp_is_scipys_bilinear_map_coordinates(digits):
    ndimage = pytest.importorskip("scipy.ndimage")
    rng = np.random.default_rng(0)
    offsets = rng.normal(0, 4, (8, 2, 28, 28)).astype(np.float32)  # wild offsets, many far outside the image
    grid = np.mgrid[:28, :28].astype(np.float32)  # (2, 28, 28)
    images = digits[:8]
    expected = [
        ndimage.map_coordinates(d, grid + o, order=1, mode="grid-constant")
        for d, o in zip(images, offsets, strict=True)
    ]
    np.testing.assert_allclose(warp(images, offsets), np.stack(expected), atol=1e-5)


@pytest.mark.parametrize("sigma", [1.0, 4.0, 6.5])
def test_gaussian_matrix_is_scipys_gaussian_filter(sigma):
    ndimage = pytest.importorskip("scipy.ndimage")
    field = np.random.default_rng(0).uniform(-1, 1, (3, 28, 28))
    expected = ndimage.gaussian_filter(field, sigma, mode="constant", axes=(1, 2))
    G = gaussian_matrix(sigma).astype(np.float64)
    np.testing.assert_allclose(G @ field @ G.T, expected, atol=1e-6)
