"""Optimisers and learning-rate schedules.

An optimiser holds the network's ``(value, gradient, decays)`` triples and, on ``step()``, updates every value in
place from its gradient. Each class restates its update rule; ``g`` below is the gradient plus, for weights, the L2
weight-decay term ``weight_decay * W`` (the gradient of ``weight_decay / 2 * sum(W**2)``). Biases do not decay.
"""

from __future__ import annotations

import math

import numpy as np

Parameters = list[tuple[np.ndarray, np.ndarray, bool]]


class GradientDescent:
    """Plain gradient descent: ``W -= learning_rate * g``."""

    def __init__(self, parameters: Parameters, learning_rate: float, weight_decay: float = 0.0):
        self.parameters = parameters
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay

    def gradient(self, value: np.ndarray, grad: np.ndarray, decays: bool) -> np.ndarray:
        """``g = grad + weight_decay * value`` for weights, ``grad`` for biases."""
        if decays and self.weight_decay:
            return grad + self.weight_decay * value
        return grad

    def step(self) -> None:
        for value, grad, decays in self.parameters:
            value -= self.learning_rate * self.gradient(value, grad, decays)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        pass


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
        super().__init__(parameters, learning_rate, weight_decay)
        self.momentum = momentum
        self.nesterov = nesterov
        self.velocities = [np.zeros_like(value) for value, _, _ in parameters]

    def step(self) -> None:
        for (value, grad, decays), v in zip(self.parameters, self.velocities, strict=True):
            g = self.gradient(value, grad, decays)
            v *= self.momentum
            v += g  # v = momentum * v + g
            if self.nesterov:
                value -= self.learning_rate * (g + self.momentum * v)
            else:
                value -= self.learning_rate * v

    def state_dict(self) -> dict[str, np.ndarray]:
        return {f"velocity{i}": v for i, v in enumerate(self.velocities)}

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
        super().__init__(parameters, learning_rate, weight_decay)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.t = 0
        self.m = [np.zeros_like(value) for value, _, _ in parameters]
        self.v = [np.zeros_like(value) for value, _, _ in parameters]

    def step(self) -> None:
        self.t += 1
        for (value, grad, decays), m, v in zip(self.parameters, self.m, self.v, strict=True):
            g = self.gradient(value, grad, decays)
            m *= self.beta1
            m += (1 - self.beta1) * g
            v *= self.beta2
            v += (1 - self.beta2) * (g * g)
            m_hat = m / (1 - self.beta1**self.t)
            v_hat = v / (1 - self.beta2**self.t)
            value -= self.learning_rate * m_hat / (np.sqrt(v_hat) + self.eps)

    def state_dict(self) -> dict[str, np.ndarray]:
        state = {"t": np.array(self.t)}
        for i, (m, v) in enumerate(zip(self.m, self.v, strict=True)):
            state[f"m{i}"], state[f"v{i}"] = m, v
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
