"""Write a layer of your own, check its gradient, and train a network with it.

The layer: LeakyReLU, ``A = Z`` where ``Z > 0`` and ``A = slope * Z`` elsewhere, so a unit that is off still passes
a little gradient back (it cannot "die" as a ReLU unit can). Its derivative, entry by entry:
``dZ = dA`` where ``Z > 0`` and ``dZ = slope * dA`` elsewhere.

    python examples/new_layer.py [--data sample] [--epochs 8]
"""

import argparse

import numpy as np

from digitnet import TrainConfig, train
from digitnet.data import dev_split, load
from digitnet.gradcheck import assert_gradients, check_gradients
from digitnet.layers import ReLU
from digitnet.network import Network


class LeakyReLU:
    """``A = where(Z > 0, Z, slope * Z)``, with derivative ``dZ = where(Z > 0, dA, slope * dA)``."""

    def __init__(self, slope: float = 0.01):
        self.slope = slope
        self.positive = None

    def forward(self, Z: np.ndarray, training: bool = False) -> np.ndarray:
        self.positive = Z > 0  # (n, width) booleans: all that backward needs
        return np.where(self.positive, Z, Z * Z.dtype.type(self.slope))

    def backward(self, dA: np.ndarray) -> np.ndarray:
        return np.where(self.positive, dA, dA * dA.dtype.type(self.slope))

    def parameters(self):
        return iter(())  # no weights of its own


class WrongLeakyReLU(LeakyReLU):
    def backward(self, dA):
        return dA * self.positive  # the ReLU's derivative: forgets the slope where Z <= 0


def with_leaky_relus(network: Network, slope: float) -> Network:
    """Put a LeakyReLU wherever the network has a ReLU; Network.forward and backward loop over net.layers."""
    network.layers = [LeakyReLU(slope) if isinstance(layer, ReLU) else layer for layer in network.layers]
    return network


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="sample")
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()

    # 1. Check the derivative against central differences, in float64, before training with it.
    Z = np.random.default_rng(0).standard_normal((8, 5))
    print(check_gradients(WrongLeakyReLU(0.1), Z).summary())  # caught: says where and by how much
    assert_gradients(LeakyReLU(0.1), Z)  # passes silently
    network64 = with_leaky_relus(Network([6, 5, 4], seed=0, dtype=np.float64), 0.1)
    print(assert_gradients(network64, np.random.default_rng(1).standard_normal((7, 6)), np.arange(7) % 4).summary())

    # 2. Train a network that uses it, with the ordinary trainer.
    data = load(args.data)
    train_split, dev = dev_split(data.train.X, data.train.y, 500, np.random.default_rng(0))
    config = TrainConfig(sizes=(784, 128, 10), epochs=args.epochs, batch_size=64, learning_rate=0.05, dev_size=500)
    network = with_leaky_relus(Network(config.sizes, seed=0), slope=0.01)
    result = train(network, train_split.X, train_split.y, config, dev.X, dev.y)
    print(f"dev accuracy with LeakyReLU after {args.epochs} epochs: {result.history[-1].dev_accuracy:.2%}")
    if data.test is not None:
        print(f"test accuracy: {network.evaluate(data.test.X, data.test.y)[1]:.2%}")


if __name__ == "__main__":
    main()
