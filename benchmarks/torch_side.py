"""The PyTorch side of the benchmark: digitnet's networks and recipes, written the way PyTorch is usually written.

Same network (``nn.Sequential`` of ``nn.Linear`` and ``nn.ReLU``), same initial weights (copied from a digitnet
``Network``: He normal, zero biases), same loss (``nn.CrossEntropyLoss``, a mean over the batch), same optimiser
(``torch.optim.SGD`` with digitnet's momentum and Nesterov settings), same learning-rate schedule stepped after every
batch (``LambdaLR`` with digitnet's own ``scheduled_learning_rate``), same batch order (a fresh shuffle every epoch,
drawn from a NumPy generator seeded as digitnet's ``Trainer`` seeds its own, so both see the very same batches; the
last batch smaller; the full batch unshuffled), float32 throughout, and the same per-step bookkeeping that digitnet's
``Trainer`` does (the batch's loss and correct count). Autograd computes no gradient for the input data, just as
digitnet's first layer skips it. Starting from the same weights and seeing the same batches, the two take the same
steps up to rounding, so they reach any accuracy at about the same epoch and the times to get there compare speed.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from digitnet import Network, TrainConfig
from digitnet.optim import scheduled_learning_rate


def build(network: Network) -> nn.Sequential:
    """The PyTorch twin of ``network``, starting from the very same weights."""
    modules: list[nn.Module] = []
    dense = network.dense_layers
    for i, layer in enumerate(dense):
        linear = nn.Linear(*layer.W.shape)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(layer.W.T))  # PyTorch keeps W as (n_out, n_in)
            linear.bias.copy_(torch.from_numpy(layer.b))
        modules.append(linear)
        if i < len(dense) - 1:
            modules.append(nn.ReLU())
    return nn.Sequential(*modules)


class Recipe:
    """A model with its optimiser and schedule, trained one epoch at a time like digitnet's ``Trainer``."""

    def __init__(self, network: Network, config: TrainConfig, X: np.ndarray, y: np.ndarray):
        if config.weight_decay:
            raise ValueError("weight decay is not mirrored here: digitnet does not decay biases, SGD would")
        self.model = build(network)
        self.config = config
        self.X = torch.from_numpy(X)  # (n, 784) float32 inputs in [0, 1], shared with NumPy
        self.y = torch.from_numpy(y)
        n = len(X)
        self.batch_size = n if config.batch_size == 0 else min(config.batch_size, n)
        self.steps_per_epoch = math.ceil(n / self.batch_size)
        momentum = config.momentum if config.optimizer == "momentum" else 0.0
        nesterov = config.nesterov and config.optimizer == "momentum"
        if config.optimizer not in ("gd", "momentum"):
            raise ValueError(f"optimizer {config.optimizer!r} is not mirrored here")
        self.optimizer = torch.optim.SGD(
            self.model.parameters(), lr=config.learning_rate, momentum=momentum, nesterov=nesterov
        )

        def factor(step: int) -> float:  # the same schedule as digitnet, as a fraction of the base rate
            epoch = step / self.steps_per_epoch
            return scheduled_learning_rate(
                1.0, config.schedule, epoch, config.epochs, config.step_every, config.step_gamma
            )

        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, factor)
        self.loss_fn = nn.CrossEntropyLoss()
        self.rng = np.random.default_rng([config.seed, 1])  # as Trainer seeds its shuffling: the same batches

    def epoch(self) -> tuple[float, int]:
        """One pass over the data; returns the summed loss and the number classified correctly."""
        n = len(self.X)
        full_batch = self.batch_size == n
        batches = [None] if full_batch else torch.from_numpy(self.rng.permutation(n)).split(self.batch_size)
        total_loss, correct = 0.0, 0
        self.model.train()
        for rows in batches:
            X, y = (self.X, self.y) if rows is None else (self.X[rows], self.y[rows])
            logits = self.model(X)
            loss = self.loss_fn(logits, y)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.scheduler.step()
            total_loss += loss.item() * len(y)
            correct += int((logits.argmax(dim=1) == y).sum())
        return total_loss, correct


@torch.inference_mode()
def predict(model: nn.Module, X: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    """The most probable class of each row, in batches like ``Network.predict``."""
    model.eval()
    return torch.cat([model(X[i : i + batch_size]).argmax(dim=1) for i in range(0, len(X), batch_size)])


@torch.inference_mode()
def accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    return float((predict(model, X) == y).float().mean())


def blas_info() -> str:
    """The matrix library PyTorch was built with, from its build configuration."""
    for line in torch.__config__.show().splitlines():
        if "Math Kernel Library" in line or "OpenBLAS" in line:
            return line.strip(" -")
    return "unknown"
