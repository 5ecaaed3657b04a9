"""Nesterov momentum's update for [784, 800, 10] in two forms, alone and inside a training step, on this CPU.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/update_blas.py    # about a minute; needs SciPy

digitnet's optimiser (``optim.Momentum``) runs NumPy ufuncs over pieces of each array that stay in the core's
cache: six calls a piece, since NumPy has no fused ``y += a * x``. BLAS has one (``saxpy``), and SciPy exposes it:
the update as four whole-array BLAS calls (``sscal`` and three ``saxpy``). This times both forms, each in blocks of
steps so that neither disturbs the other, first with SciPy's BLAS on as many threads as it starts with, then on
one. SciPy's wheels bring an OpenBLAS of their own beside NumPy's, so with two threads each the two libraries'
thread pools wait on each other's cores between calls. Issue 15 asks whether the update can cost less: this is
the measurement behind the answer in ``RESULTS.md``. SciPy is not a dependency of digitnet.
"""

from __future__ import annotations

import sys
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # the digitnet next to this file

import numpy as np
from scipy.linalg import blas
from threadpoolctl import ThreadpoolController

from digitnet import Network
from digitnet.losses import SoftmaxCrossEntropy
from digitnet.optim import Momentum

LEARNING_RATE, MOMENTUM = 0.01, 0.9


def blas_update(parameters, velocities) -> None:
    """v = momentum * v + g; W -= lr * (g + momentum * v), as four whole-array BLAS calls per parameter."""
    for (value, grad, _), v in zip(parameters, velocities, strict=True):
        w, g, v = value.reshape(-1), grad.reshape(-1), v.reshape(-1)  # views: BLAS works on them in place
        blas.sscal(MOMENTUM, v)
        blas.saxpy(g, v)
        blas.saxpy(g, w, a=-LEARNING_RATE)
        blas.saxpy(v, w, a=-LEARNING_RATE * MOMENTUM)


def timings_ms(function, calls: int) -> list[float]:
    """Milliseconds of each of ``calls`` calls of ``function``, one after another."""
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        function()
        times.append(1e3 * (time.perf_counter() - start))
    return times


def compare(batch: int, steps: int = 200) -> None:
    rng = np.random.default_rng(0)
    X, y = rng.random((batch, 784), dtype=np.float32), rng.integers(0, 10, batch)
    nets = [Network([784, 800, 10], seed=0) for _ in range(2)]
    params = [net.parameters() for net in nets]
    loss = SoftmaxCrossEntropy()
    optimizer = Momentum(params[0], LEARNING_RATE, MOMENTUM, nesterov=True)
    velocities = [np.zeros_like(value) for value, _, _ in params[1]]
    updates = {"NumPy in pieces": optimizer.step, "BLAS saxpy": lambda: blas_update(params[1], velocities)}

    def step(net, update):
        loss.forward(net.forward(X, training=True), y)
        net.backward(loss.backward())
        update()

    steps_of = {name: partial(step, net, update) for (name, update), net in zip(updates.items(), nets, strict=True)}
    for function in [*steps_of.values()] * 3:
        function()
    gap = max(float(np.abs(a - b).max()) for (a, _, _), (b, _, _) in zip(*params, strict=True))
    for what, functions in (("the update alone", updates), (f"a step at batch {batch}", steps_of)):
        times: dict[str, list[float]] = {name: [] for name in functions}
        for _ in range(4):  # blocks of steps, in turns
            for name, function in functions.items():
                times[name] += timings_ms(function, steps // 4)
        a, b = (float(np.median(t)) for t in times.values())
        print(f"  {what:<22} NumPy in pieces {a:7.3f} ms   BLAS saxpy {b:7.3f} ms   {a / b:5.2f}x")
    print(f"  (weights of the two forms after the warm-up steps differ by at most {gap:.1e})")


def main() -> None:
    controller = ThreadpoolController()
    for pool in controller.lib_controllers:
        print(f"{pool.internal_api} {Path(pool.filepath).name}: {pool.num_threads} threads, {pool.architecture}")
    scipy_pools = [pool for pool in controller.lib_controllers if "scipy.libs" in pool.filepath]
    for threads in (scipy_pools[0].num_threads if scipy_pools else 1, 1):
        for pool in scipy_pools:
            pool.set_num_threads(threads)
        print(f"SciPy's BLAS on {threads} thread(s), NumPy's as it starts:")
        for batch in (64, 128, 256):
            compare(batch)


if __name__ == "__main__":
    main()
