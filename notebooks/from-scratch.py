# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # From a notebook from scratch to digitnet
#
# digitnet began as a learner's notebook, "Simple MNIST NN from scratch (numpy, no TF/Keras)": a two-layer network,
# `[784, 10, 10]`, trained with full-batch gradient descent on Kaggle's `train.csv`, with one example per **column**.
# It is a fine first network and it has four bugs. This notebook writes its recipe again, makes each bug visible in
# a cell of its own, fixes it, and ends at digitnet's `Network`, which it trains, looks inside, and goes beyond.
#
# It runs on the 3000 real MNIST digits shipped with digitnet, in Kaggle's CSV format, in well under a minute. To
# use Kaggle's own file, set `CSV = "train.csv"` below. The math of every part is in [docs/](../docs/README.md).
#
# This file is stored twice: `from-scratch.ipynb` for Jupyter and `from-scratch.py` (jupytext's percent format)
# for reading and diffs; `tests/test_notebook.py` keeps them the same and runs the notebook top to bottom.

# %%
# %matplotlib inline
import importlib.resources
from itertools import pairwise

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

CSV = importlib.resources.files("digitnet") / "sample" / "train.csv.gz"  # or "train.csv" from Kaggle
ITERATIONS = 150  # full-batch steps; the original ran 500, and these are enough to see each effect
EPOCHS = 5  # for the larger networks at the end: a few seconds each; raise it to see them go further
CNN_EPOCHS = 2  # the convolutional network's, the slowest part of the notebook
rng = np.random.default_rng(0)  # every random draw below comes from here: the same numbers each run

# %% [markdown]
# ## 1. The recipe
#
# Read the CSV (a header, then `label,pixel0,…,pixel783` per digit), shuffle the rows, hold out 1000 of them as the
# dev set, and turn each part into **columns**: `X` is (784, m), one digit per column, scaled to [0, 1].

# %%
with CSV.open("rb") as f:
    data = pd.read_csv(f, compression="gzip" if CSV.name.endswith(".gz") else None).to_numpy()  # (rows, 785)
data = data[rng.permutation(len(data))]
dev, training = data[:1000].T, data[1000:].T  # (785, 1000), (785, m): one example per column
Y_dev, X_dev = dev[0], dev[1:] / 255.0
Y_train, X_train = training[0], training[1:] / 255.0
print("X_train", X_train.shape, "Y_train", Y_train.shape, "X_dev", X_dev.shape)

# %% [markdown]
# The network: `Z1 = W1 X + b1`, `A1 = ReLU(Z1)`, `Z2 = W2 A1 + b2`, `A2 = softmax(Z2)`, with `W1` (10, 784) and
# `W2` (10, 10). Backward follows the chain rule from the loss down, and gradient descent subtracts `alpha` times
# each gradient. Written as the original did, bugs included (they are marked `BUG` so they can be found later).


# %%
def init_params():
    W1 = rng.random((10, 784)) - 0.5  # uniform in [-0.5, 0.5)
    b1 = rng.random((10, 1)) - 0.5
    W2 = rng.random((10, 10)) - 0.5
    b2 = rng.random((10, 1)) - 0.5
    return W1, b1, W2, b2


def relu(Z):
    return np.maximum(Z, 0)


def softmax(Z):
    return np.exp(Z) / np.sum(np.exp(Z), axis=0)  # BUG 3: exp overflows for large logits


def forward(W1, b1, W2, b2, X):
    Z1 = W1 @ X + b1
    A1 = relu(Z1)
    Z2 = W2 @ A1 + b2
    return Z1, A1, Z2, softmax(Z2)


def one_hot(Y):
    Y_hot = np.zeros((10, Y.size))  # (classes, m): columns again
    Y_hot[Y, np.arange(Y.size)] = 1
    return Y_hot


def backward(Z1, A1, Z2, A2, W2, X, Y):
    m = Y.size
    dZ2 = A2 - one_hot(Y)  # (10, m)
    dW2 = dZ2 @ A1.T / m
    db2 = np.sum(dZ2) / m  # BUG 2: sums over units too, one number for all of them
    dZ1 = (W2.T @ dZ2) * (Z1 > 0)
    dW1 = dZ1 @ X.T / m
    db1 = np.sum(dZ1) / m  # BUG 2 again
    return dW1, db1, dW2, db2


def accuracy(A2, Y):
    return np.mean(np.argmax(A2, axis=0) == Y)


def gradient_descent(X, Y, alpha, iterations, params=None):
    W1, b1, W2, b2 = init_params() if params is None else params
    for i in range(iterations):
        Z1, A1, Z2, A2 = forward(W1, b1, W2, b2, X)
        dW1, db1, dW2, db2 = backward(Z1, A1, Z2, A2, W2, X, Y)
        W1, b1 = W1 - alpha * dW1, b1 - alpha * db1
        W2, b2 = W2 - alpha * dW2, b2 - alpha * db2
        if (i + 1) % 50 == 0:
            print(f"iteration {i + 1}: train accuracy {accuracy(A2, Y):.1%}")
    return W1, b1, W2, b2


# %%
params = gradient_descent(X_train, Y_train, alpha=0.1, iterations=ITERATIONS)
print(f"dev accuracy {accuracy(forward(*params, X_dev)[3], Y_dev):.1%}")

# %% [markdown]
# It learns. Now the bugs, one at a time.
#
# ## 2. Bug: the weights never change (the general `Network` class)
#
# The original went on to a general class for any list of sizes, which keeps its weights in lists and updates them
# in a loop. This is its update, in a class of two layers:


# %%
class ColumnNetwork:
    """The recipe for any ``sizes``, examples as columns, weights kept in lists."""

    def __init__(self, sizes):
        self.weights = [rng.standard_normal((n_out, n_in)) * np.sqrt(2 / n_in) for n_in, n_out in pairwise(sizes)]
        self.biases = [np.zeros((n_out, 1)) for n_out in sizes[1:]]

    def gradients(self, X, Y):
        (W1, W2), (b1, b2) = self.weights, self.biases
        Z1, A1, _, A2 = forward(W1, b1, W2, b2, X)
        dZ2 = A2 - one_hot(Y)
        dZ1 = (W2.T @ dZ2) * (Z1 > 0)
        m = Y.size
        return [dZ1 @ X.T / m, dZ2 @ A1.T / m], [dZ1.sum(axis=1, keepdims=True) / m, dZ2.sum(axis=1, keepdims=True) / m]

    def update(self, X, Y, alpha):
        dWs, dbs = self.gradients(X, Y)
        for W, dW in zip(self.weights, dWs, strict=True):
            W = W - alpha * dW  # BUG 1: rebinds the loop variable W; the list still holds the old array
        for b, db in zip(self.biases, dbs, strict=True):
            b = b - alpha * db


def unchanged(weights, before):
    return all(np.array_equal(W, W0) for W, W0 in zip(weights, before, strict=True))


net = ColumnNetwork([784, 10, 10])
before = [W.copy() for W in net.weights]
for _ in range(20):
    net.update(X_train, Y_train, alpha=0.1)
print("weights unchanged after 20 updates:", unchanged(net.weights, before))


# %% [markdown]
# `W = W - alpha * dW` makes a new array and points the name `W` at it; the list is untouched. The fix is to
# write into the array itself, `W -= alpha * dW`. (In the recipe's `gradient_descent` above, the rebinding is the
# whole point, since the new arrays are returned; in a class that owns its arrays it silently does nothing.)
# digitnet's optimisers always update in place ([docs/gradient-descent.md](../docs/gradient-descent.md)).


# %%
def update_in_place(self, X, Y, alpha):
    dWs, dbs = self.gradients(X, Y)
    for W, dW in zip(self.weights, dWs, strict=True):
        W -= alpha * dW  # the fix: in place, into the array the list holds
    for b, db in zip(self.biases, dbs, strict=True):
        b -= alpha * db


ColumnNetwork.update = update_in_place
for _ in range(20):
    net.update(X_train, Y_train, alpha=0.1)
print("weights unchanged after 20 fixed updates:", unchanged(net.weights, before))

# %% [markdown]
# ## 3. Bug: the bias gradient is one number for every unit
#
# `np.sum(dZ2)` adds up every entry of `dZ2`, over examples *and* units, so every bias of a layer gets the same
# gradient. For the output layer it is worse: each column of `A2 - one_hot(Y)` sums to 1 - 1 = 0, so the sum is 0
# and the output biases never learn at all. Two ways to see it: the shape, and the biases after training.

# %%
W1, b1, W2, b2 = init_params()
_, b1_trained, _, b2_trained = gradient_descent(X_train, Y_train, 0.1, 50, params=(W1, b1, W2, b2))
Z1, A1, Z2, A2 = forward(W1, b1, W2, b2, X_train)
print("db2 has shape", np.shape(backward(Z1, A1, Z2, A2, W2, X_train, Y_train)[3]), "for 10 biases")
print("how far each hidden bias moved:", np.round((b1_trained - b1).ravel(), 4))
print("how far each output bias moved:", np.round((b2_trained - b2).ravel(), 4))

# %% [markdown]
# Measure the true derivative of the loss with respect to one bias by central differences
# ([docs/gradcheck.md](../docs/gradcheck.md)), and compare:


# %%
def loss(W1, b1, W2, b2, X, Y):
    A2 = forward(W1, b1, W2, b2, X)[3]
    return -np.mean(np.log(A2[Y, np.arange(Y.size)]))


h, unit = 1e-6, 3
plus, minus = b2.copy(), b2.copy()
plus[unit] += h
minus[unit] -= h
numerical = (loss(W1, b1, W2, plus, X_train, Y_train) - loss(W1, b1, W2, minus, X_train, Y_train)) / (2 * h)
dZ2 = A2 - one_hot(Y_train)
print(f"d loss / d b2[{unit}]: central differences {numerical:.6f}")
print(f"  the recipe's np.sum(dZ2) / m:           {np.sum(dZ2) / Y_train.size:.1e} (0 but for rounding)")
print(f"  the fix, summed over examples only:     {np.sum(dZ2, axis=1)[unit] / Y_train.size:.6f}")

# %% [markdown]
# The fix sums over the examples only, one value per unit: `np.sum(dZ, axis=1, keepdims=True)` with examples as
# columns, `dZ.sum(axis=0)` with examples as rows ([docs/dense.md](../docs/dense.md)).
#
# ## 4. Bug: the softmax overflows to NaN
#
# `exp(1000)` is more than a float can hold: it becomes `inf`, and `inf / inf` is `NaN`. Logits that large are
# what a network gets from unscaled inputs (pixels 0-255 instead of 0-1) or a learning rate that is too high, and
# then one `NaN` spreads to every weight.

# %%
with np.errstate(over="ignore", invalid="ignore"):
    print("softmax of logits (1000, 0, -1000):", softmax(np.array([[1000.0], [0.0], [-1000.0]])).ravel())
    blown = gradient_descent(X_train * 255, Y_train, alpha=0.1, iterations=5)  # pixels left at 0-255
    print("weights after 5 steps on unscaled pixels are NaN:", np.isnan(blown[0]).any())


# %% [markdown]
# Subtracting each column's maximum first changes nothing mathematically (the factor `exp(-max)` cancels) and
# keeps every exponent at most 0 ([docs/softmax-cross-entropy.md](../docs/softmax-cross-entropy.md)):


# %%
def softmax(Z):  # the fix, replacing the recipe's softmax
    E = np.exp(Z - Z.max(axis=0, keepdims=True))  # the largest entry of each column becomes exp(0) = 1
    return E / E.sum(axis=0, keepdims=True)


print("fixed softmax of (1000, 0, -1000):", softmax(np.array([[1000.0], [0.0], [-1000.0]])).ravel())

# %% [markdown]
# ## 5. Bug: the shapes mix conventions
#
# The CSV has one digit per **row**; the recipe transposes it to columns, and must then remember, everywhere, that
# a single digit is a column `(784, 1)`. Take one the natural way, `X_dev[:, 0]`, and NumPy broadcasting quietly
# turns the (10,) result plus the (10, 1) bias into a (10, 10) matrix: ten "predictions" for one digit, no error.

# %%
one_digit = X_dev[:, 0]  # (784,): neither a row nor a column
Z2_one = forward(*params, one_digit)[2]
print("one digit in, logits of shape", Z2_one.shape, "out; predictions:", np.argmax(softmax(Z2_one), axis=0))
Z2_column = forward(*params, X_dev[:, [0]])[2]  # X_dev[:, [0]] keeps the column: (784, 1)
print("as a (784, 1) column: logits", Z2_column.shape, "prediction", np.argmax(Z2_column), "label", Y_dev[0])

# %% [markdown]
# digitnet keeps the data's own convention: **rows are examples** everywhere. `X` is (n, 784) as read from the
# file, `W` is (n_in, n_out), `b` is (n_out,) and `Z = X @ W + b`; a single digit is `X[i:i + 1]`, (1, 784), and a
# bias of shape (n_out,) can only broadcast along rows. Every array is the transpose of the recipe's.
#
# ## 6. All four fixed, then in rows
#
# With the fixed bias gradient, the fixed softmax and He initialisation (`N(0, 2 / n_in)` instead of `rand - 0.5`,
# [docs/initialisation.md](../docs/initialisation.md)), the same loop, written with examples as rows:


# %%
def train_fixed(X, y, alpha, iterations):
    """The recipe, fixed, with rows as examples: X (m, 784), W1 (784, 10), b1 (10,)."""
    W1 = rng.standard_normal((784, 10)) * np.sqrt(2 / 784)
    W2 = rng.standard_normal((10, 10)) * np.sqrt(2 / 10)
    b1, b2 = np.zeros(10), np.zeros(10)
    m = len(y)
    for _ in range(iterations):
        Z1 = X @ W1 + b1  # (m, 10)
        A1 = np.maximum(Z1, 0)
        Z2 = A1 @ W2 + b2  # (m, 10)
        P = np.exp(Z2 - Z2.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)  # softmax along each row
        dZ2 = P.copy()
        dZ2[np.arange(m), y] -= 1  # P - Y without building Y
        dZ2 /= m
        dZ1 = (dZ2 @ W2.T) * (Z1 > 0)
        W2 -= alpha * A1.T @ dZ2  # in place
        b2 -= alpha * dZ2.sum(axis=0)  # one value per unit
        W1 -= alpha * X.T @ dZ1
        b1 -= alpha * dZ1.sum(axis=0)
    return W1, b1, W2, b2


W1, b1, W2, b2 = train_fixed(X_train.T, Y_train, alpha=0.1, iterations=ITERATIONS)
fixed_accuracy = np.mean(np.argmax(np.maximum(X_dev.T @ W1 + b1, 0) @ W2 + b2, axis=1) == Y_dev)
print(f"fixed recipe, rows as examples: dev accuracy {fixed_accuracy:.1%}")

# %% [markdown]
# ## 7. digitnet's `Network`
#
# That loop is digitnet's core, split into parts that each own their derivative: `Dense` (`Z = X @ W + b`, and
# back `dW = X.T @ dZ`, `db = dZ.sum(0)`, `dX = dZ @ W.T`), `ReLU`, the fused `SoftmaxCrossEntropy` (`dZ = (P - Y) /
# n`), and an optimiser that updates in place. `Network([784, 10, 10])` is the recipe's network; the `seed` preset
# is its training recipe (full-batch gradient descent at learning rate 0.1, 1000 rows held out).

# %%
from digitnet import PRESETS, Network, check_gradients, train
from digitnet.data import dev_split, load

sample = load("sample")  # the same CSV, read and checked: X (3000, 784) uint8 rows, y (3000,)
train_part, dev_part = dev_split(sample.train.X, sample.train.y, 1000, np.random.default_rng(0))
config = PRESETS["seed"].replace(epochs=ITERATIONS)
net = Network(config.sizes, seed=0)
print([type(layer).__name__ for layer in net.layers], [layer.W.shape for layer in net.dense_layers])
result = train(net, train_part.X, train_part.y, config, dev_part.X, dev_part.y)
print(f"digitnet, seed preset: dev accuracy {result.history[-1].dev_accuracy:.1%} after {ITERATIONS} iterations")

# %% [markdown]
# Every derivative is checked against central differences. `check_gradients` does it for any layer, loss or
# network, yours included, and names the array and the entry that is off:

# %%
small = Network([784, 10, 10], seed=0, dtype=np.float64)
print(check_gradients(small, sample.train.X[:8] / 255.0, sample.train.y[:8], max_entries=50).summary())

# %% [markdown]
# ## 8. What it learned
#
# The learning curves, then each of the ten hidden units' 784 incoming weights drawn as a 28×28 image: red pixels
# push the unit up when they hold ink, blue ones push it down.

# %%
from digitnet import plots

plots.learning_curves_figure(result.history, unit="iteration")

# %%
plots.weights_figure(net.dense_layers[0].W, title="[784, 10, 10]: the first layer's weights")

# %% [markdown]
# ## 9. Reading a few digits
#
# Digits from the test set it never saw, with the ten probabilities it gives each:

# %%
test = sample.test
print(f"test accuracy: {net.evaluate(test.X, test.y)[1]:.1%}")
plots.predictions_figure(test.X[:8], net.predict_proba(test.X[:8]), test.y[:8], columns=4)

# %% [markdown]
# ## 10. Beyond the recipe
#
# **The default network.** Ten hidden units are a narrow bottleneck. digitnet's default, the `fast` preset, is
# `[784, 800, 10]` trained in mini-batches with Nesterov momentum and a cosine schedule; on all of MNIST it reaches
# about 98% in about half a minute. With only 2000 training digits here, batches of 128 (at learning rate 0.1)
# instead of its 512 give it more steps in a few epochs:

# %%
fast = PRESETS["fast"].replace(epochs=EPOCHS, batch_size=128, learning_rate=0.1, dev_size=1000)
wide = Network(fast.sizes, seed=0)
wide_result = train(wide, train_part.X, train_part.y, fast, dev_part.X, dev_part.y)
wide_accuracy = wide.evaluate(test.X, test.y)[1]
wide_dev = wide_result.history[-1].dev_accuracy
print(f"{list(fast.sizes)}, {EPOCHS} epochs: dev accuracy {wide_dev:.1%}, test {wide_accuracy:.1%}")

# %% [markdown]
# **Augmentation.** A network sees each digit many times; showing it a slightly different digit each time (rotated,
# scaled, elastically bent, as handwriting varies) teaches it what does not matter. The `best` preset trains on
# such distortions and reaches 99.5% on MNIST with a fully connected network. The same six digits, each distorted
# four ways (one column per digit):

# %%
from digitnet.augment import Distortion

distort = Distortion(rotate=10, scale=0.1, elastic_alpha=36, elastic_sigma=6)
digits = np.repeat(test.X[:6] / 255.0, 4, axis=0)  # (24, 784): each digit four times
distorted = distort(digits, np.random.default_rng(1))  # (24, 784), a new distortion for each row
grid = distorted.reshape(6, 4, 28, 28).transpose(1, 2, 0, 3).reshape(4 * 28, 6 * 28)  # (digit, version) tiles
plt.figure(figsize=(6, 4))
plt.imshow(grid, cmap="gray_r")
plt.axis("off")

# %% [markdown]
# The same network and settings, trained on digits distorted afresh in every batch (the `TrainConfig` fields
# `rotate`, `scale`, `elastic_alpha`, `elastic_sigma`; `--rotate` and so on from the command line):

# %%
augmented = fast.replace(rotate=10, scale=0.1, elastic_alpha=36, elastic_sigma=6)
aug_net = Network(augmented.sizes, seed=0)
aug_result = train(aug_net, train_part.X, train_part.y, augmented, dev_part.X, dev_part.y)
print(f"test accuracy: {wide_accuracy:.1%} without distortions, {aug_net.evaluate(test.X, test.y)[1]:.1%} with them")

# %% [markdown]
# On so little data and so few epochs the difference is small; distortions pay off over long runs on all of MNIST
# (`digitnet train --preset best`, 150 epochs, about 22 minutes on two cores).
#
# **A convolutional network.** A dense layer sees 784 unrelated numbers: the same stroke one pixel to the left is a
# different input, to be learned again. A convolution slides one small kernel over the whole image, so it finds a
# stroke wherever it is, with far fewer weights; pooling then keeps the strongest response of each 2×2 window
# ([docs/convolution.md](../docs/convolution.md), [docs/max-pooling.md](../docs/max-pooling.md),
# [docs/batch-norm.md](../docs/batch-norm.md)). digitnet writes a network as a list of layers: `conv5x5x16:valid`
# is 16 kernels of 5×5 without padding (then a ReLU), `bn` batch normalisation, `pool` 2×2 max pooling. The data
# stay rows of 784 pixels; the network reshapes them into 28×28 images itself. The `cnn` preset is a larger one,
# trained for 37 epochs on distorted digits; here a small one, for a couple of epochs:

# %%
cnn = PRESETS["cnn"].replace(
    sizes="conv5x5x16:valid-bn-pool-conv5x5x32:valid-bn-pool-128-10",
    epochs=CNN_EPOCHS,
    dropout=0.0,
    rotate=0.0,
    scale=0.0,
    shift=0.0,
    dev_size=1000,
)
conv_net = Network(cnn.sizes, seed=0)
print(" -> ".join(type(layer).__name__ for layer in conv_net.layers))
train(conv_net, train_part.X, train_part.y, cnn, dev_part.X, dev_part.y)
conv_accuracy = conv_net.evaluate(test.X, test.y)[1]
print(f"test accuracy: {conv_accuracy:.1%} for the CNN ({CNN_EPOCHS} epochs), {wide_accuracy:.1%} for [784, 800, 10]")

# %% [markdown]
# What it learned: the first layer's sixteen 5×5 kernels (red where ink raises the output; after two epochs on 2000
# digits they are still rough, and sharpen into edge and stroke detectors with training), then what each
# convolution block makes of one digit, channel by channel: the first finds edges and strokes in place, the second,
# after pooling, responds to parts of the digit.

# %%
plots.weights_figure(conv_net.layers[0].W)

# %%
_, hidden = conv_net.activations(conv_net.inputs(test.X[:1]))  # every ReLU's output for one digit
plots.feature_maps_figure(test.X[0], [A[0] for A in hidden if A.ndim == 4])  # (h, w, c) after each convolution

# %% [markdown]
# Where to go next: [docs/](../docs/README.md) derives every backward rule; [examples/](../examples/) has a
# training loop from the raw parts, a layer of your own checked with `check_gradients`, and a Kaggle submission.
