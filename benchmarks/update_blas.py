"""Nesterov momentum's update for [784, 800, 10] in three forms, alone and inside a training step, on this CPU.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/update_blas.py    # about two minutes; SciPy

digitnet's optimiser (``optim.Momentum``) runs NumPy ufuncs over pieces of each array that stay in the core's
cache: six calls a piece, since NumPy has no fused ``y += a * x``. BLAS has one (``saxpy``), and SciPy exposes it:
the update as four whole-array BLAS calls (``sscal`` and three ``saxpy``). This times both forms, each in blocks of
steps so that neither disturbs the other, first with SciPy's BLAS on as many threads as it starts with, then on
one. SciPy's wheels bring an OpenBLAS of their own beside NumPy's, so with two threads each the two libraries'
thread pools wait on each other's cores between calls. Issue 15 asks whether the update can cost less: this is
the measurement behind the answer in ``RESULTS.md``. SciPy is not a dependency of digitnet.

The third form needs no SciPy: the update is linear in ``(g, v)``, so one matrix product does all of it,

    [ΔW; v'] = [[-lr (1 + momentum), -lr momentum²], [1, momentum]] @ [g; v],   then W += ΔW

with ``g`` copied into the first row of a (2, size) array whose second row is ``v``, and the product written into a
second such array (the two swap each step, so the new velocity is already in place): three passes over the
parameter instead of six, and BLAS shares the product between its threads. Without SciPy the script times the
first and third forms only.
"""

from __future__ import annotations

import sys
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # the digitnet next to this file

import numpy as np
from threadpoolctl import ThreadpoolController

from digitnet import Network
from digitnet.losses import SoftmaxCrossEntropy
from digitnet.optim import Momentum

LEARNING_RATE, MOMENTUM = 0.01, 0.9


def blas_update(parameters, velocities) -> None:
    """v = momentum * v + g; W -= lr * (g + momentum * v), as four whole-array BLAS calls per parameter."""
    from scipy.linalg import blas

    for (value, grad, _), v in zip(parameters, velocities, strict=True):
        w, g, v = value.reshape(-1), grad.reshape(-1), v.reshape(-1)  # views: BLAS works on them in place
        blas.sscal(MOMENTUM, v)
        blas.saxpy(g, v)
        blas.saxpy(g, w, a=-LEARNING_RATE)
        blas.saxpy(v, w, a=-LEARNING_RATE * MOMENTUM)


class ProductUpdate:
    """The same update as one (2, 2) @ (2, size) product per parameter (the module's docstring has the matrix)."""

    def __init__(self, parameters):
        self.parameters = parameters
        self.stacks = [np.zeros((2, value.size), value.dtype) for value, _, _ in parameters]  # [g; v]
        self.spares = [np.zeros((2, value.size), value.dtype) for value, _, _ in parameters]  # [ΔW; v'] next
        lr, mu = LEARNING_RATE, MOMENTUM
        self.C = np.array([[-lr * (1 + mu), -lr * mu * mu], [1, mu]], np.float32)

    def __call__(self) -> None:
        for i, (value, grad, _) in enumerate(self.parameters):
            stack, spare = self.stacks[i], self.spares[i]
            np.copyto(stack[0], grad.reshape(-1))
            np.matmul(self.C, stack, out=spare)  # [ΔW; v'] = C @ [g; v]
            value += spare[0].reshape(value.shape)
            self.stacks[i], self.spares[i] = spare, stack  # v' is the next step's v; its ΔW row takes the next g


def timings_ms(function, calls: int) -> list[float]:
    """Milliseconds of each of ``calls`` calls of ``function``, one after another."""
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        function()
        times.append(1e3 * (time.perf_counter() - start))
    return times


def compare(batch: int, with_scipy: bool, steps: int = 200) -> None:
    rng = np.random.default_rng(0)
    X, y = rng.random((batch, 784), dtype=np.float32), rng.integers(0, 10, batch)
    nets = [Network([784, 800, 10], seed=0) for _ in range(3 if with_scipy else 2)]
    params = [net.parameters() for net in nets]
    loss = SoftmaxCrossEntropy()
    updates = {
        "NumPy in pieces": Momentum(params[0], LEARNING_RATE, MOMENTUM, nesterov=True).step,
        "one product": ProductUpdate(params[1]),
    }
    if with_scipy:
        velocities = [np.zeros_like(value) for value, _, _ in params[2]]
        updates["BLAS saxpy"] = lambda: blas_update(params[2], velocities)

    def step(net, update):
        loss.forward(net.forward(X, training=True), y)
        net.backward(loss.backward())
        update()

    steps_of = {name: partial(step, net, update) for (name, update), net in zip(updates.items(), nets, strict=True)}
    for function in [*steps_of.values()] * 3:
        function()
    pairs = [(a, b) for other in params[1:] for (a, _, _), (b, _, _) in zip(params[0], other, strict=True)]
    gap = max(float(np.abs(a - b).max()) for a, b in pairs)
    for what, functions in (("the update alone", updates), (f"a step at batch {batch}", steps_of)):
        times: dict[str, list[float]] = {name: [] for name in functions}
        for _ in range(4):  # blocks of steps, in turns
            for name, function in functions.items():
                times[name] += timings_ms(function, steps // 4)
        base, *others = ((name, float(np.median(t))) for name, t in times.items())
        line = f"  {what:<22} {base[0]} {base[1]:7.3f} ms"
        for name, ms in others:
            line += f"   {name} {ms:7.3f} ms {base[1] / ms:5.2f}x"
        print(line)
    print(f"  (weights of the forms after the warm-up steps differ by at most {gap:.1e})")


def main() -> None:
    try:
        import scipy.linalg  # loads SciPy's own OpenBLAS, for the controller to see
    except ImportError:
        scipy = None
    controller = ThreadpoolController()
    for pool in controller.lib_controllers:
        print(f"{pool.internal_api} {Path(pool.filepath).name}: {pool.num_threads} threads, {pool.architecture}")
    if scipy is None:
        print("No SciPy: NumPy in pieces against one product, NumPy's BLAS as it starts:")
        for batch in (64, 128, 256):
            compare(batch, with_scipy=False)
        return
    scipy_pools = [pool for pool in controller.lib_controllers if "scipy.libs" in pool.filepath]
    for threads in (scipy_pools[0].num_threads if scipy_pools else 1, 1):
        for pool in scipy_pools:
            pool.set_num_threads(threads)
        print(f"SciPy's BLAS on {threads} thread(s), NumPy's as it starts:")
        for batch in (64, 128, 256):
            compare(batch, with_scipy=True)


if __name__ == "__main__":
    main()
