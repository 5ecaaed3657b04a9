"""Augmentation: each distortion keeps shape, dtype and value range, is the identity at zero strength, is
reproducible from a seed, and computes what SciPy's ndimage computes."""

import numpy as np
import pytest

from digitnet.augment import Distortion, affine, elastic, erase, gaussian_matrix, mirror, moved, warp
from digitnet.data import load

TRANSFORMS = {
    "rotate": lambda images, rng, s: affine(images, rng, rotate=15 * s),
    "scale": lambda images, rng, s: affine(images, rng, scale=0.15 * s),
    "shear": lambda images, rng, s: affine(images, rng, shear=15 * s),
    "shift": lambda images, rng, s: affine(images, rng, shift=3 * s),
    "elastic": lambda images, rng, s: elastic(images, rng, alpha=34 * s, sigma=4),
    "flip": lambda images, rng, s: affine(images, rng, flip=0.5 * s),
    "crop": lambda images, rng, s: affine(images, rng, crop=int(2 * s)),
    "erase": lambda images, rng, s: erase(images, rng, 0.5 * s),
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


def test_mirror_is_the_picture_a_flip_trains_on_for_rows_and_images(digits):
    rows = digits.reshape(len(digits), -1)  # (64, 784)
    flipped = affine(digits, np.random.default_rng(0), flip=1.0)
    assert np.array_equal(mirror(digits), flipped) and np.array_equal(mirror(rows), flipped.reshape(rows.shape))
    assert mirror(rows).dtype == rows.dtype and np.array_equal(mirror(mirror(rows)), rows)
    pixels = load("sample").test.X[:5]  # uint8 rows, as evaluate reads them
    assert np.array_equal(mirror(pixels)[:, 27], pixels[:, 0]) and mirror(pixels).dtype == np.uint8


def test_a_flip_mirrors_whole_images_left_to_right_with_its_probability(digits):
    assert np.array_equal(affine(digits, np.random.default_rng(0), flip=1.0), digits[:, :, ::-1])
    half = affine(digits, np.random.default_rng(0), flip=0.5)
    mirrored = [np.array_equal(out, image[:, ::-1]) for out, image in zip(half, digits, strict=True)]
    kept = [np.array_equal(out, image) for out, image in zip(half, digits, strict=True)]
    assert all(m != k for m, k in zip(mirrored, kept, strict=True))  # each image one or the other, exactly
    assert 16 < sum(mirrored) < 48  # of 64, about half


def shifted(image: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """``image`` moved down by ``rows`` and right by ``cols`` whole pixels, background coming in at the edges."""
    padded = np.pad(image, 2)  # (32, 32)
    return padded[2 - rows : 30 - rows, 2 - cols : 30 - cols]


def test_a_crop_moves_each_image_by_whole_pixels_and_keeps_it_sharp(digits):
    out = Distortion(crop=2)(digits.reshape(len(digits), -1), np.random.default_rng(0)).reshape(digits.shape)
    moves = []
    for image, made in zip(digits, out, strict=True):
        found = [(r, c) for r in range(-2, 3) for c in range(-2, 3) if np.array_equal(made, shifted(image, r, c))]
        assert found, "not a whole-pixel shift of its image"
        moves.append(found[0])
    assert len(set(moves)) > 10  # of the 25 moves, many are drawn
    mirrored = affine(digits, np.random.default_rng(0), flip=1.0, crop=1)  # a mirror and a crop: still exact
    assert all(
        any(np.array_equal(m, shifted(image[:, ::-1], r, c)) for r in (-1, 0, 1) for c in (-1, 0, 1))
        for m, image in zip(mirrored, digits, strict=True)
    )


def test_moved_is_each_whole_pixel_shift_for_rows_and_images(digits):
    for rows, cols in [(r, c) for r in range(-2, 3) for c in range(-2, 3)]:
        some = digits[:4]
        out = moved(some, rows, cols)
        assert all(np.array_equal(o, shifted(image, rows, cols)) for o, image in zip(out, some, strict=True))
    flat = digits.reshape(len(digits), -1)  # (64, 784)
    assert np.array_equal(moved(flat, 2, -1), moved(digits, 2, -1).reshape(flat.shape))
    pixels = load("sample").test.X[:5]  # uint8 rows, as evaluate reads them
    assert moved(pixels, 0, 1).dtype == np.uint8 and np.array_equal(moved(pixels, 0, 0), pixels)


def test_erasing_blanks_one_rectangle_of_the_images_it_picks():
    ones = np.ones((400, 28, 28), np.float32)
    out = erase(ones, np.random.default_rng(0), 0.5)
    picked, shapes = 0, set()
    for image in out:
        rows, cols = np.nonzero(image == 0)
        if len(rows) == 0:
            continue
        picked += 1
        height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert len(rows) == height * width  # the blank pixels fill their bounding box: one rectangle
        assert 0.02 * 784 * 0.8 <= len(rows) <= 784 / 3 * 1.2  # 2% to a third of the image, give or take rounding
        shapes.add((height, width))
    assert 160 < picked < 240  # about half of the 400
    assert len(shapes) > 50  # of many sizes and aspects
    assert erase(ones, np.random.default_rng(0), 0.0).min() == 1  # chance 0: nothing erased


def test_a_distortion_erases_after_it_warps(digits):
    X = digits.reshape(len(digits), -1)
    both = Distortion(flip=1.0, erase=1.0)(X, np.random.default_rng(0)).reshape(digits.shape)
    mirrored = digits[:, :, ::-1]
    assert np.all((both == mirrored) | (both == 0))  # each pixel mirrored, or erased
    assert np.any(both != mirrored)
    alone = Distortion(erase=1.0)(X, np.random.default_rng(0)).reshape(digits.shape)
    assert np.all((alone == digits) | (alone == 0)) and np.any(alone != digits)


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
