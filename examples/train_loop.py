"""A training loop from digitnet's raw parts, no Trainer: layers, loss and optimiser, in about 30 lines.

python examples/train_loop.py [--data sample|mnist|train.csv] [--epochs 10]
"""

import argparse

import numpy as np

from digitnet.data import dev_split, load
from digitnet.network import Network, pixels_to_inputs
from digitnet.optim import Momentum

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data", default="sample", help="sample (shipped), mnist, or a Kaggle train.csv")
parser.add_argument("--epochs", type=int, default=10)
args = parser.parse_args()

rng = np.random.default_rng(0)
data = load(args.data).train  # uint8 pixels (n, 784), labels (n,)
train, dev = dev_split(data.X, data.y, 500, rng)  # hold out 500 rows to measure on
X, y = pixels_to_inputs(train.X), train.y  # (n, 784) floats in [0, 1], (n,) labels
net = Network([784, 128, 10], seed=0)  # Dense -> ReLU -> Dense; the loss is net.loss (softmax cross-entropy)
optimizer = Momentum(net.parameters(), learning_rate=0.1, momentum=0.9, nesterov=True)
batch_size = 64

for epoch in range(1, args.epochs + 1):
    order, total = rng.permutation(len(X)), 0.0  # a new shuffle every epoch
    for start in range(0, len(X), batch_size):
        rows = order[start : start + batch_size]
        Z = net.forward(X[rows], training=True)  # logits (batch, 10)
        loss = net.loss.forward(Z, y[rows])  # mean cross-entropy
        net.backward(net.loss.backward())  # dZ = (P - Y) / n, then back through every layer
        optimizer.step()  # W -= learning_rate * (g + momentum * v), in place
        total += loss * len(rows)
    dev_loss, dev_accuracy = net.evaluate(dev.X, dev.y)  # uint8 pixels are scaled inside
    print(
        f"epoch {epoch:2d}  train loss {total / len(X):.3f}  dev loss {dev_loss:.3f}  dev accuracy {dev_accuracy:.2%}"
    )
