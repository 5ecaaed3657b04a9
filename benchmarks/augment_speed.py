"""How long distorting a batch takes, beside the training step it comes before.

    PYTHONPATH=src python benchmarks/augment_speed.py [--batch 128] [--repeats 7]

Prints milliseconds per batch (the best of ``--repeats`` timings of 20 calls each, so that a busy machine disturbs
it less) for each distortion, for SciPy's ``ndimage`` doing the same interpolation and smoothing (when SciPy is
installed), and for one training step (forward, backward, update) of the fast and best presets' networks.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from digitnet import Network
from digitnet.augment import Distortion, affine_offsets, elastic_offsets, warp
from digitnet.config import PRESETS
from digitnet.train import make_optimizer


def best_ms(call, repeats: int, number: int = 20) -> float:
    call()  # warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            call()
        times.append((time.perf_counter() - start) / number)
    return 1000 * min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n = args.batch
    X = rng.random((n, 784), dtype=np.float32)  # (n, 784), like the trainer's inputs
    images = X.reshape(n, 28, 28)
    best = PRESETS["best"]
    rows = {
        "affine: rotation and scaling": Distortion(rotate=best.rotate, scale=best.scale),
        "elastic": Distortion(elastic_alpha=best.elastic_alpha, elastic_sigma=best.elastic_sigma),
        "the best preset's distortion": Distortion(
            best.rotate, best.scale, best.shear, best.shift, best.elastic_alpha, best.elastic_sigma
        ),
    }
    print(f"milliseconds per batch of {n}")
    for name, distortion in rows.items():
        print(f"  {name:<40} {best_ms(lambda d=distortion: d(X, rng), args.repeats):7.2f}")
    offsets = affine_offsets(n, rng, 10, 0.1, 0, 0) + elastic_offsets(n, rng, 36, 6)
    print(f"  {'of which bilinear warp':<40} {best_ms(lambda: warp(images, offsets), args.repeats):7.2f}")
    try:
        from scipy import ndimage
    except ImportError:
        ndimage = None
    if ndimage is not None:
        coordinates = np.stack(
            [np.broadcast_to(np.arange(n, dtype=np.float32)[:, None, None], (n, 28, 28))]
            + [np.mgrid[:28, :28][axis][None] + offsets[:, axis] for axis in (0, 1)]
        )  # (3, n, 28, 28): image, row, column

        def scipy_warp():
            ndimage.map_coordinates(images, coordinates, order=1, mode="grid-constant", output=np.float32)

        noise = rng.random((n, 2, 28, 28), dtype=np.float32)

        def scipy_smooth():
            ndimage.gaussian_filter(noise, best.elastic_sigma, mode="constant", axes=(2, 3))

        print(f"  {'SciPy map_coordinates, same warp':<40} {best_ms(scipy_warp, args.repeats):7.2f}")
        print(f"  {'SciPy gaussian_filter, same smoothing':<40} {best_ms(scipy_smooth, args.repeats):7.2f}")
    y = rng.integers(0, 10, n)
    for preset in ("fast", "best"):
        config = PRESETS[preset]
        network = Network(config.sizes, seed=0, dropout=config.dropout)
        optimizer = make_optimizer(config, network)

        def step(network=network, optimizer=optimizer):
            network.train_step(X, y)
            optimizer.step()

        print(f"  {f'training step, {preset} preset {list(config.sizes)}':<40} {best_ms(step, args.repeats):7.2f}")


if __name__ == "__main__":
    main()
