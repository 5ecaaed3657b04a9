"""Data augmentation: every training batch is a freshly distorted copy of its digits.

A distortion is a map from each output pixel to the point of the input image it reads from, the *sampling
coordinates*, (n, 2, 28, 28) for n images: row and column, fractional. The input is read there by bilinear
interpolation. Two kinds of map are drawn at random for each image and added together, so that the whole batch
is warped by one interpolation call:

- **affine** (Ciresan et al. 2010): a rotation, a scaling of each axis, a shear and a translation, about the
  image centre, and for pictures that have no handedness (clothes, not digits) a left-right mirror;
- **elastic** (Simard et al. 2003): a random displacement field, uniform in [-1, 1] at every pixel, smoothed by a
  Gaussian of width ``sigma`` pixels and scaled by ``alpha``: a local, rubbery wobble of the strokes.

A **crop** moves an image by whole pixels (torchvision's ``RandomCrop(28, padding=crop)``): its sampling
coordinates stay on the pixel grid, so the interpolation reads pixels exactly and the picture stays sharp, where a
fractional shift blurs it a little. After the warp, **random erasing** (Zhong et al. 2017) blanks a random
rectangle of some of the images.

Images are floats in [0, 1] (the network's inputs); the result has the same shape and dtype, and stays in the same
range because bilinear interpolation only averages pixels (outside the image counts as 0, background). Every
strength at 0 gives the images back unchanged. The interpolation and the Gaussian smoothing are written here in
NumPy, a few times faster for a batch than SciPy's ``ndimage`` (``map_coordinates``, ``gaussian_filter``), which the
tests use as the reference; so augmentation, like the rest of digitnet, needs NumPy alone.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

SIDE = 28  # images are SIDE x SIDE
CENTRE = (SIDE - 1) / 2  # 13.5: the middle of the image, in pixel coordinates


@dataclass(frozen=True)
class Distortion:
    """How strongly to distort; each value is the largest change drawn (uniformly, either way), 0 = none."""

    rotate: float = 0.0  # degrees
    scale: float = 0.0  # fraction: 0.15 scales each axis by 0.85 to 1.15, independently
    shear: float = 0.0  # degrees of slant
    shift: float = 0.0  # pixels, each axis independently
    elastic_alpha: float = 0.0  # pixels of displacement before smoothing (Simard 2003: 34)
    elastic_sigma: float = 4.0  # width of the Gaussian that smooths the elastic field, in pixels (Simard: 4)
    flip: float = 0.0  # probability that an image is mirrored left to right
    crop: int = 0  # whole pixels, each axis independently: a shift that keeps the picture sharp
    erase: float = 0.0  # probability that a random rectangle of an image is erased

    @property
    def moves_pixels(self) -> bool:
        return bool(
            self.rotate or self.scale or self.shear or self.shift or self.elastic_alpha or self.flip or self.crop
        )

    @property
    def is_identity(self) -> bool:
        return not (self.moves_pixels or self.erase)

    def __call__(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Distort a batch of flat images ``X`` (n, 784): a new (n, 784) array, or ``X`` itself when every
        strength is 0 (nothing to distort, so nothing is copied)."""
        if self.is_identity:
            return X
        images = X.reshape(-1, SIDE, SIDE)  # (n, 28, 28), a view
        if self.moves_pixels:
            n = len(images)
            offsets = affine_offsets(n, rng, self.rotate, self.scale, self.shear, self.shift, self.flip, self.crop)
            if self.elastic_alpha:
                offsets += elastic_offsets(n, rng, self.elastic_alpha, self.elastic_sigma)
            images = warp(images, offsets)
        if self.erase:
            images = erase(images, rng, self.erase)
        return images.reshape(X.shape)


def affine(
    images: np.ndarray, rng: np.random.Generator, *, rotate=0.0, scale=0.0, shear=0.0, shift=0.0, flip=0.0, crop=0
) -> np.ndarray:
    """Random affine distortions of ``images`` (n, 28, 28): one rotation, scaling, shear, shift (and mirror, with
    probability ``flip``, and whole-pixel shift up to ``crop``) per image."""
    return warp(images, affine_offsets(len(images), rng, rotate, scale, shear, shift, flip, crop))


def elastic(images: np.ndarray, rng: np.random.Generator, *, alpha: float, sigma: float = 4.0) -> np.ndarray:
    """Random elastic distortions of ``images`` (n, 28, 28), Simard et al. 2003."""
    return warp(images, elastic_offsets(len(images), rng, alpha, sigma))


def affine_offsets(
    n: int,
    rng: np.random.Generator,
    rotate: float,
    scale: float,
    shear: float,
    shift: float,
    flip: float = 0.0,
    crop: int = 0,
) -> np.ndarray:
    """Offsets (n, 2, 28, 28) from each pixel to where a random affine map of its image reads from.

    For output pixel ``p`` (row, column, about the centre) the input is read at ``A @ p - t``: ``A`` (2, 2) is a
    rotation times a shear times a scaling, ``t`` a translation. Drawing ``A`` directly (rather than the forward
    map and inverting it) is the same distribution, since each parameter is drawn symmetrically about the identity.
    A mirror is a column scaling of -1, drawn for each image with probability ``flip``, and a crop adds a whole
    number of pixels to the translation, from ``-crop`` to ``crop`` (each drawn only when its option is not 0, so
    that the other distortions draw the same numbers with or without it).
    """
    draws = rng.uniform(-1.0, 1.0, size=(n, 6))  # one column per parameter
    angle = np.deg2rad(rotate) * draws[:, 0]  # (n,)
    slant = np.tan(np.deg2rad(shear) * draws[:, 1])  # (n,)
    scale_row, scale_col = 1.0 + scale * draws[:, 2], 1.0 + scale * draws[:, 3]  # (n,) each
    if flip:
        scale_col = np.where(rng.random(n) < flip, -scale_col, scale_col)  # mirrored: the column read from -c
    shifts = shift * draws[:, 4:6]  # (n, 2): rows, columns
    if crop:
        shifts += rng.integers(-crop, crop + 1, size=(n, 2))  # whole pixels: the reads stay on the grid
    cos, sin = np.cos(angle), np.sin(angle)
    # A = rotation @ shear @ scaling: [[cos, -sin], [sin, cos]] @ [[1, slant], [0, 1]] @ diag(scale_row, scale_col)
    A = np.empty((n, 2, 2), dtype=np.float32)
    A[:, 0, 0], A[:, 0, 1] = cos * scale_row, (cos * slant - sin) * scale_col
    A[:, 1, 0], A[:, 1, 1] = sin * scale_row, (sin * slant + cos) * scale_col
    points = pixel_positions()  # (2, 784): every pixel's row and column, about the centre
    offsets = A @ points - points  # (n, 2, 784): where each pixel reads, less where it is
    offsets -= shifts[:, :, None].astype(np.float32)
    return offsets.reshape(n, 2, SIDE, SIDE)


def erase(
    images: np.ndarray,
    rng: np.random.Generator,
    chance: float,
    area: tuple[float, float] = (0.02, 1 / 3),
    aspect: tuple[float, float] = (0.3, 1 / 0.3),
) -> np.ndarray:
    """Random erasing (Zhong et al. 2017): with probability ``chance``, one rectangle of an image set to 0.

    Each rectangle covers a share of the image drawn uniformly from ``area``, with a height-to-width ratio drawn
    log-uniformly from ``aspect``, at a place drawn uniformly among those where it fits (torchvision's
    ``RandomErasing`` defaults). It is filled with background, 0, as torchvision's is: something in front of the
    picture. Where torchvision draws again a rectangle that is taller or wider than the image, this one is cut to
    the image's 28 pixels. A new (n, 28, 28) array.
    """
    n = len(images)
    draws = rng.random((n, 5))  # (n, 5): erased?, area, aspect, top, left
    pixels = SIDE * SIDE * (area[0] + (area[1] - area[0]) * draws[:, 1])  # (n,): the rectangle's area
    ratio = aspect[0] * (aspect[1] / aspect[0]) ** draws[:, 2]  # (n,): its height over its width
    height = np.clip(np.rint(np.sqrt(pixels * ratio)), 1, SIDE).astype(np.intp)  # (n,)
    width = np.clip(np.rint(np.sqrt(pixels / ratio)), 1, SIDE).astype(np.intp)  # (n,)
    top = (draws[:, 3] * (SIDE - height + 1)).astype(np.intp)  # (n,): 0 to SIDE - height
    left = (draws[:, 4] * (SIDE - width + 1)).astype(np.intp)
    lines = np.arange(SIDE)  # (28,)
    rows = (lines >= top[:, None]) & (lines < (top + height)[:, None])  # (n, 28): the rows it covers
    cols = (lines >= left[:, None]) & (lines < (left + width)[:, None])  # (n, 28): and the columns
    erased = (draws[:, 0] < chance)[:, None, None] & rows[:, :, None] & cols[:, None, :]  # (n, 28, 28)
    return np.where(erased, 0, images).astype(images.dtype, copy=False)


def mirror(X: np.ndarray) -> np.ndarray:
    """Each row's image mirrored left to right, exactly (the pixel in column c moves to column 27 - c): rows (n, 784)
    of pixels or inputs, or (n, 28, 28) images, in the same dtype. A new array. This is the picture ``flip`` trains
    on; reading a picture and its mirror and averaging the two is test-time augmentation (``Ensemble(mirror=True)``).
    """
    return np.ascontiguousarray(X.reshape(len(X), SIDE, SIDE)[:, :, ::-1]).reshape(X.shape)


def moved(X: np.ndarray, down: int, right: int) -> np.ndarray:
    """Each row's image moved by whole pixels, ``down`` rows and ``right`` columns (negative: up, left), exactly:
    what leaves the frame is lost and what enters it is background, 0. Rows (n, 784) or (n, 28, 28) images, in
    the same dtype; a new array. This is the picture a ``crop`` of that size trains on; reading a picture and its
    one-pixel moves and averaging them is test-time augmentation (``Ensemble(shifts=True)``)."""

    def span(k: int) -> tuple[slice, slice]:  # along one axis: where a move by k lands, and what it takes
        return slice(max(k, 0), SIDE + min(k, 0)), slice(max(-k, 0), SIDE + min(-k, 0))

    (rows_to, rows_from), (cols_to, cols_from) = span(down), span(right)
    images = X.reshape(len(X), SIDE, SIDE)  # (n, 28, 28), a view
    out = np.zeros_like(images)
    out[:, rows_to, cols_to] = images[:, rows_from, cols_from]
    return out.reshape(X.shape)


@functools.cache
def pixel_positions() -> np.ndarray:
    """(2, 784): the row and the column of every pixel, measured from the image centre."""
    grid = np.arange(SIDE, dtype=np.float32) - CENTRE  # (28,)
    rows, cols = np.meshgrid(grid, grid, indexing="ij")  # (28, 28) each
    return np.stack([rows.ravel(), cols.ravel()])


def elastic_offsets(n: int, rng: np.random.Generator, alpha: float, sigma: float) -> np.ndarray:
    """Smooth random offsets (n, 2, 28, 28): uniform noise in [-1, 1], Gaussian-smoothed, times ``alpha``."""
    noise = rng.random((n, 2, SIDE, SIDE), dtype=np.float32)  # (n, 2, 28, 28) in [0, 1)
    noise = 2 * noise - 1  # uniform in [-1, 1): a row field and a column field per image
    G = gaussian_matrix(sigma)  # (28, 28), symmetric
    # Smoothing a field by a Gaussian, zero beyond the edges, is a linear map along each axis: field @ G smooths
    # along the rows and G @ field down the columns. Done as two large matrix products over the whole batch (one
    # 28-wide product per axis, transposing in between), it is many times faster than a convolution
    # (scipy.ndimage.gaussian_filter, which the tests compare it with).
    smooth = noise.reshape(-1, SIDE) @ G  # (n * 2 * 28, 28): each field smoothed along its rows
    smooth = smooth.reshape(-1, SIDE, SIDE).transpose(0, 2, 1).reshape(-1, SIDE) @ G  # then down its columns
    smooth = smooth.reshape(n, 2, SIDE, SIDE).transpose(0, 1, 3, 2)  # (n, 2, 28, 28), rows and columns restored
    return smooth * np.float32(alpha)


@functools.lru_cache(maxsize=8)
def gaussian_matrix(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """The (28, 28) matrix that convolves a column of 28 pixels with a Gaussian of width ``sigma``, 0 outside.

    ``G[i, j]`` is the weight of pixel ``j`` in smoothed pixel ``i``: the kernel ``exp(-k^2 / 2 sigma^2)`` at
    ``k = j - i``, cut at ``truncate`` sigmas and scaled to sum to 1 (SciPy's ``gaussian_filter1d`` with
    ``mode="constant"``).
    """
    radius = int(truncate * sigma + 0.5)
    k = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (k / sigma) ** 2)
    kernel /= kernel.sum()
    distance = np.arange(SIDE)[None, :] - np.arange(SIDE)[:, None]  # (28, 28): j - i
    G = np.where(np.abs(distance) <= radius, kernel[np.clip(distance + radius, 0, 2 * radius)], 0.0)
    return G.astype(np.float32)


def warp(images: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Read ``images`` (n, 28, 28) at every pixel plus ``offsets`` (n, 2, 28, 28), bilinearly, 0 outside.

    Bilinear interpolation reads the four pixels around the point and mixes them by how close it is to each:
    along the columns first, ``top = a + (b - a) * fc`` and ``bottom = c + (d - c) * fc``, then along the rows,
    ``top + (bottom - top) * fr`` (``fr``, ``fc`` the fractional parts). The result is SciPy's
    ``map_coordinates(order=1, mode="grid-constant")``, written out because it is three times faster for a batch.
    """
    n = len(images)
    # Frame each image with background: one pixel before, two after. A point clipped into this frame then reads
    # only background wherever it falls outside the image, and its four neighbours are always inside the frame.
    side = SIDE + 3
    framed = np.zeros((n, side, side), images.dtype)  # (n, 31, 31)
    framed[:, 1 : SIDE + 1, 1 : SIDE + 1] = images
    grid = np.arange(1, SIDE + 1, dtype=np.float32)  # (28,): pixel positions in the frame
    rows = grid[None, :, None] + offsets[:, 0]  # (n, 28, 28): the row each pixel reads from
    cols = grid[None, None, :] + offsets[:, 1]  # (n, 28, 28): and the column
    np.clip(rows, 0, SIDE + 1, out=rows)
    np.clip(cols, 0, SIDE + 1, out=cols)
    r0, c0 = np.floor(rows), np.floor(cols)  # (n, 28, 28): the top-left neighbour
    fr, fc = rows - r0, cols - c0  # (n, 28, 28) in [0, 1): how far past it the point lies
    # flat index of each point's top-left neighbour in the whole batch of frames
    first = np.arange(n, dtype=np.int32)[:, None, None] * (side * side)  # (n, 1, 1): where each frame starts
    top_left = first + r0.astype(np.int32) * side + c0.astype(np.int32)  # (n, 28, 28)
    pixels = framed.reshape(-1)
    a, b = pixels.take(top_left), pixels.take(top_left + 1)  # top-left, top-right
    c, d = pixels.take(top_left + side), pixels.take(top_left + side + 1)  # bottom-left, bottom-right
    top = a + (b - a) * fc
    bottom = c + (d - c) * fc
    return (top + (bottom - top) * fr).astype(images.dtype, copy=False)  # (n, 28, 28)
