"""Optimisers and learning-rate schedules.

An optimiser holds the network's ``(value, gradient, decays)`` triples and, on ``step()``, updates every value in
place from its gradient. Each class restates its update rule; ``g`` below is the gradient plus, for weights, the L2
weight-decay term ``weight_decay * W`` (the gradient of ``weight_decay / 2 * sum(W**2)``). Biases do not decay.

The updates work in place through one scratch array per parameter (``add_scaled``): written plainly,
``W -= lr * (g + momentum * v)`` makes three temporary arrays the size of ``W`` on every step. And they run one
piece of each parameter at a time (``pieces``): an update is five or more passes over arrays as large as ``W``
(2.5 MB for ``[784, 800, 10]``), and taking them over the same 32,768 numbers of each array in turn keeps those
pieces in the core's cache, where a pass over whole arrays reads them from memory (or a farther cache) again
each time. Taken so, the Nesterov update of ``[784, 800, 10]`` ran 1.6x faster on an Intel Xeon, a step 1.13x; on
AMD machines, whose caches hold every array of it, a step runs the same or up to 7% slower (``python
benchmarks/tricks.py``; its README has each machine's run). Sharing the pieces between two threads made it slower
(0.85x, timed by hand on two cores).
"""

from __future__ import annotations

import math

import numpy as np

Parameters = list[tuple[np.ndarray, np.ndarray, bool]]


PIECE = 32_768  # numbers of each array an update takes at once: 128 KB of float32, four or six arrays in L2


def pieces(*arrays: np.ndarray, size: int = PIECE) -> list[tuple[np.ndarray, ...]]:
    """The same stretch of ``size`` numbers of each array in turn, as flat views (writing to them writes the arrays).

    The arrays have one shape; any that is not C-contiguous (which no layer makes) leaves them whole, one piece.
    """
    if not all(a.flags.c_contiguous for a in arrays):
        return [arrays]
    flat = [a.reshape(-1) for a in arrays]  # views, since each array is contiguous
    return [tuple(f[start : start + size] for f in flat) for start in range(0, flat[0].size, size)]


class GradientDescent:
    """Plain gradient descent: ``W -= learning_rate * g``.

    ``step()`` calls ``update`` on each piece of each parameter (``pieces``): the value, its gradient, the scratch
    array and the optimiser's own buffers for that parameter (``buffers``, one list of arrays per kind), in turn.
    """

    def __init__(
        self,
        parameters: Parameters,
        learning_rate: float,
        weight_decay: float = 0.0,
        buffers: tuple[list[np.ndarray], ...] = (),
    ):
        self.parameters = parameters
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.scratch = [np.empty_like(value) for value, _, _ in parameters]  # one reused temporary per parameter
        self.pieces = [
            (decays, piece)
            for (value, grad, decays), *own in zip(parameters, self.scratch, *buffers, strict=True)
            for piece in pieces(value, grad, *own)
        ]

    def gradient(self, value: np.ndarray, grad: np.ndarray, decays: bool, scratch: np.ndarray) -> np.ndarray:
        """``g = grad + weight_decay * value`` for weights (made in ``scratch``), ``grad`` itself for biases."""
        if decays and self.weight_decay:
            np.multiply(value, self.weight_decay, out=scratch)
            scratch += grad
            return scratch
        return grad

    def step(self) -> None:
        for decays, piece in self.pieces:
            self.update(decays, *piece)

    def update(self, decays: bool, value: np.ndarray, grad: np.ndarray, scratch: np.ndarray) -> None:
        g = self.gradient(value, grad, decays, scratch)
        add_scaled(value, -self.learning_rate, g, scratch)  # W -= learning_rate * g

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the optimiser's buffers, by name (plain gradient descent keeps none)."""
        return {}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy buffers from ``state`` (as made by ``state_dict``) into the optimiser, in place."""


def add_scaled(target: np.ndarray, scale: float, x: np.ndarray, scratch: np.ndarray) -> None:
    """``target += scale * x`` in place, making ``scale * x`` in ``scratch`` (which may be ``x``) instead of anew."""
    np.multiply(x, scale, out=scratch)
    target += scratch


class Momentum(GradientDescent):
    """Gradient descent with momentum (PyTorch's form, so the two can be compared step for step)::

    v = momentum * v + g
    W -= learning_rate * v                       (classical)
    W -= learning_rate * (g + momentum * v)      (Nesterov: look one step ahead)
    """

    def __init__(
        self,
        parameters: Parameters,
        learning_rate: float,
        momentum: float = 0.9,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ):
        self.momentum = momentum
        self.nesterov = nesterov
        self.velocities = [np.zeros_like(value) for value, _, _ in parameters]
        super().__init__(parameters, learning_rate, weight_decay, buffers=(self.velocities,))

    def update(self, decays: bool, value: np.ndarray, grad: np.ndarray, scratch: np.ndarray, v: np.ndarray) -> None:
        lr, momentum = self.learning_rate, self.momentum
        g = self.gradient(value, grad, decays, scratch)
        v *= momentum
        v += g  # v = momentum * v + g
        if self.nesterov:  # W -= lr * (g + momentum * v), as two in-place steps
            add_scaled(value, -lr, g, scratch)
            add_scaled(value, -lr * momentum, v, scratch)
        else:
            add_scaled(value, -lr, v, scratch)  # W -= lr * v

    def state_dict(self) -> dict[str, np.ndarray]:
        return {f"velocity{i}": v.copy() for i, v in enumerate(self.velocities)}  # copies: steps go on in place

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        for i, v in enumerate(self.velocities):
            v[...] = state[f"velocity{i}"]


class Adam(GradientDescent):
    """Adam (Kingma & Ba 2015): per-weight step sizes from running moments of the gradient::

    m = beta1 * m + (1 - beta1) * g              first moment (mean)
    v = beta2 * v + (1 - beta2) * g**2           second moment (uncentred variance)
    m_hat = m / (1 - beta1**t)                   bias correction: m and v start at zero
    v_hat = v / (1 - beta2**t)
    W -= learning_rate * m_hat / (sqrt(v_hat) + eps)
    """

    def __init__(
        self,
        parameters: Parameters,
        learning_rate: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.t = 0
        self.m = [np.zeros_like(value) for value, _, _ in parameters]
        self.v = [np.zeros_like(value) for value, _, _ in parameters]
        self.decayed = [np.empty_like(value) for value, _, _ in parameters]  # g with weight decay; scratch is busy
        super().__init__(parameters, learning_rate, weight_decay, buffers=(self.m, self.v, self.decayed))

    def step(self) -> None:
        self.t += 1
        super().step()

    def update(
        self,
        decays: bool,
        value: np.ndarray,
        grad: np.ndarray,
        scratch: np.ndarray,
        m: np.ndarray,
        v: np.ndarray,
        decayed: np.ndarray,
    ) -> None:
        beta1, beta2 = self.beta1, self.beta2
        g = self.gradient(value, grad, decays, decayed)
        m *= beta1
        add_scaled(m, 1 - beta1, g, scratch)  # m = beta1 * m + (1 - beta1) * g
        v *= beta2
        np.multiply(g, g, out=scratch)  # g**2
        add_scaled(v, 1 - beta2, scratch, scratch)  # v = beta2 * v + (1 - beta2) * g**2
        # W -= learning_rate * m_hat / (sqrt(v_hat) + eps), with m_hat = m / (1 - beta1**t) and
        # v_hat = v / (1 - beta2**t); made in scratch one operation at a time.
        denominator = np.divide(v, 1 - beta2**self.t, out=scratch)  # v_hat
        np.sqrt(denominator, out=denominator)
        denominator += self.eps
        step = np.divide(m, denominator, out=scratch)  # m / (sqrt(v_hat) + eps)
        add_scaled(value, -self.learning_rate / (1 - beta1**self.t), step, scratch)

    def state_dict(self) -> dict[str, np.ndarray]:
        state = {"t": np.array(self.t)}
        for i, (m, v) in enumerate(zip(self.m, self.v, strict=True)):
            state[f"m{i}"], state[f"v{i}"] = m.copy(), v.copy()  # copies: steps go on in place
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.t = int(state["t"])
        for i, (m, v) in enumerate(zip(self.m, self.v, strict=True)):
            m[...], v[...] = state[f"m{i}"], state[f"v{i}"]


def scheduled_learning_rate(
    base: float,
    schedule: str,
    epoch: float,
    epochs: int,
    step_every: int = 10,
    step_gamma: float = 0.1,
    warmup_epochs: float = 0.0,
) -> float:
    """The learning rate at ``epoch`` (fractional: 2.5 is half-way through the third epoch).

    - ``constant``: ``base`` throughout.
    - ``step``: multiplied by ``step_gamma`` every ``step_every`` epochs.
    - ``cosine``: falls from ``base`` to 0 along half a cosine, ``base * (1 + cos(pi * epoch / epochs)) / 2``.

    With ``warmup_epochs`` the rate is also multiplied by ``epoch / warmup_epochs`` until that reaches 1: a linear
    warm-up from 0 (Goyal et al. 2017), so that the first steps, taken from random weights with empty momentum,
    cannot throw the network somewhere it does not recover from.
    """
    warmup = min(epoch / warmup_epochs, 1.0) if warmup_epochs else 1.0
    if schedule == "constant":
        return base * warmup
    if schedule == "step":
        return base * warmup * step_gamma ** math.floor(epoch / step_every)
    if schedule == "cosine":
        return base * warmup * 0.5 * (1.0 + math.cos(math.pi * min(epoch / epochs, 1.0)))
    raise ValueError(f"unknown schedule {schedule!r}")


def clip_max_norm(W: np.ndarray, max_norm: float) -> None:
    """Max-norm (Srivastava et al. 2014): shrink each unit's incoming weights, a column of ``W``, to a length of at
    most ``max_norm``, in place. Paired with dropout, it lets a high learning rate run without weights blowing up."""
    norms = np.sqrt(np.einsum("ij,ij->j", W, W))  # (n_out,): the length of each column
    W *= np.minimum(1.0, max_norm / np.maximum(norms, 1e-12)).astype(W.dtype)  # columns already short are kept
