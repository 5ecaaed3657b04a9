"""Every derivative in digitnet against central differences, in float64.

For a function f and a small h, (f(x + h) - f(x - h)) / 2h matches f'(x) to O(h^2); digitnet.gradcheck compares
the analytic gradient with it for every layer, the loss and whole networks of several depths, every entry of every
array. For a layer the scalar is sum(A * R) for a fixed random R, so that dA = R; for the loss and for a network,
the loss itself.
"""

import numpy as np
import pytest

from digitnet.gradcheck import assert_gradients, check_gradients
from digitnet.layers import BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU
from digitnet.losses import SoftmaxCrossEntropy
from digitnet.network import Network

H = 1e-6
TOLERANCE = 1e-7  # relative error; float64 central differences reach about 1e-9 here


def check(thing, X, y=None) -> list[str]:
    """Every gradient of a layer, loss or network within TOLERANCE; returns the names of the arrays checked."""
    result = assert_gradients(thing, X, y, h=H, tolerance=TOLERANCE)
    return [a.name for a in result.arrays]


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_dense_gradients(rng):
    layer = Dense(5, 4, rng=rng, dtype=np.float64)
    layer.b[:] = rng.standard_normal(4)
    assert check(layer, rng.standard_normal((3, 5))) == ["X", "W", "b"]


def test_first_dense_layer_skips_the_input_gradient(rng):
    layer = Dense(5, 4, rng=rng, dtype=np.float64, input_grad=False)
    layer.forward(rng.standard_normal((3, 5)), training=True)
    assert layer.backward(np.ones((3, 4))) is None
    assert np.any(layer.dW != 0)


def test_relu_gradient(rng):
    Z = rng.standard_normal((4, 6))
    Z[np.abs(Z) < 0.01] = 0.5  # keep away from the kink at 0, where the derivative is undefined
    assert check(ReLU(), Z) == ["X"]  # ReLU works in place: gradcheck hands it a copy each time


def test_relu_forward_is_max_with_zero(rng):
    Z = rng.standard_normal((3, 5))
    assert np.array_equal(ReLU().forward(Z.copy()), np.maximum(Z, 0))


def test_softmax_cross_entropy_gradient(rng):
    Z = rng.standard_normal((5, 10)) * 3
    y = rng.integers(0, 10, 5)
    assert check(SoftmaxCrossEntropy(), Z, y) == ["Z"]


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    Z = np.array([[1000.0, 0.0, -1000.0], [0.0, 800.0, 0.0]])
    loss_fn = SoftmaxCrossEntropy()
    loss = loss_fn.forward(Z, np.array([0, 0]))
    assert np.isfinite(loss)
    assert loss == pytest.approx(800.0 / 2)  # first row is certain and right, second is 800 nats wrong


def test_dropout_gradient(rng):
    X = rng.standard_normal((6, 8))
    dropout = Dropout(0.4, rng=np.random.default_rng(3))
    check(dropout, X)  # gradcheck rewinds dropout.rng before each evaluation: a fixed mask times 1/0.6
    dX = dropout.backward(np.ones_like(X))  # the mask of the check's last evaluation
    assert np.any(dX == 0) and np.any(dX != 0)  # some units were dropped, some kept


def test_dropout_keeps_the_expected_value_in_training_and_is_the_identity_at_inference(rng):
    dropout = Dropout(0.25, rng=np.random.default_rng(0))
    X = np.ones((1000, 100), dtype=np.float32)
    assert np.array_equal(dropout.forward(X.copy()), X)  # inference: the identity
    A = dropout.forward(X.copy(), training=True)
    assert A.dtype == np.float32
    assert set(np.unique(A)) == {0.0, np.float32(1 / 0.75)}  # dropped, or kept and scaled up by 1 / (1 - rate)
    assert np.mean(A == 0) == pytest.approx(0.25, abs=0.01)
    assert A.mean() == pytest.approx(1.0, abs=0.01)  # inverted dropout: the expected activation is unchanged


@pytest.mark.parametrize("label_smoothing", [0.1, 0.3])
def test_label_smoothing_gradient(label_smoothing, rng):
    Z = rng.standard_normal((5, 10)) * 3
    y = rng.integers(0, 10, 5)
    assert check(SoftmaxCrossEntropy(label_smoothing), Z, y) == ["Z"]


def test_label_smoothing_loss_is_cross_entropy_against_the_smoothed_target(rng):
    Z = rng.standard_normal((4, 10))
    y = np.array([0, 3, 9, 3])
    Q = np.full((4, 10), 0.1 / 10)
    Q[np.arange(4), y] += 0.9
    log_P = Z - np.log(np.exp(Z).sum(axis=1, keepdims=True))
    assert SoftmaxCrossEntropy(0.1).forward(Z, y) == pytest.approx(-np.mean(np.sum(Q * log_P, axis=1)))


@pytest.mark.parametrize("sizes", [[6, 4], [6, 5, 4], [6, 7, 5, 4], [6, 3, 3, 3, 4]])
def test_whole_network_gradients(sizes, rng):
    network = Network(sizes, seed=1, dtype=np.float64)
    for layer in network.dense_layers:
        layer.b[:] = rng.standard_normal(layer.b.shape) * 0.1
    X = rng.standard_normal((7, sizes[0]))
    y = rng.integers(0, sizes[-1], 7)
    assert len(check(network, X, y)) == 2 * (len(sizes) - 1)  # every W and b, of train_step's gradients


def test_whole_network_gradients_with_dropout(rng):
    network = Network([6, 7, 5, 4], seed=1, dtype=np.float64, dropout=0.3)
    X = rng.standard_normal((7, 6))
    y = rng.integers(0, 4, 7)
    assert len(check(network, X, y)) == 6  # network.rng is rewound before every evaluation: the same masks


@pytest.mark.parametrize(("k", "padding", "c_in"), [(3, "same", 2), (5, "same", 1), (3, "valid", 3), (1, "same", 2)])
def test_conv2d_gradients(k, padding, c_in, rng):
    layer = Conv2D(k, c_in, 4, padding, rng=rng, dtype=np.float64)
    layer.b[:] = rng.standard_normal(4)
    assert check(layer, rng.standard_normal((2, 6, 5, c_in))) == ["X", "W", "b"]


@pytest.mark.parametrize("shape", [(2, 4, 6, 3), (2, 5, 7, 2)])  # even, and odd sides whose last row is dropped
def test_max_pool_gradient(shape, rng):
    assert check(MaxPool2D(), rng.standard_normal(shape)) == ["X"]


def test_max_pool_sends_the_gradient_to_each_window_maximum_only():
    X = np.array([[1.0, 5.0], [2.0, 3.0]]).reshape(1, 2, 2, 1)
    pool = MaxPool2D()
    assert pool.forward(X, training=True).item() == 5.0
    assert pool.backward(np.full((1, 1, 1, 1), 7.0)).reshape(2, 2).tolist() == [[0.0, 7.0], [0.0, 0.0]]


def test_flatten_gradient(rng):
    assert check(Flatten(), rng.standard_normal((2, 3, 4, 2))) == ["X"]


@pytest.mark.parametrize("shape", [(6, 5), (3, 4, 3, 2)])  # after a dense layer, and after a convolution
def test_batch_norm_gradients(shape, rng):
    layer = BatchNorm(shape[-1], dtype=np.float64)
    layer.gamma[:] = rng.standard_normal(shape[-1])
    layer.beta[:] = rng.standard_normal(shape[-1])
    # the whole batch in every evaluation: each nudge moves the batch's mean and variance
    assert check(layer, rng.standard_normal(shape) * 3 + 1) == ["X", "gamma", "beta"]


@pytest.mark.parametrize(
    "sizes", ["4x4x1-conv3x3x2-pool-3-2", "8x6x2-conv3x3x3-bn-pool-conv3x3x2:valid-4-bn-3", "5x5x1-conv1x1x2-3"]
)
def test_whole_conv_network_gradients(sizes, rng):
    network = Network(sizes, seed=1, dtype=np.float64)
    for value, _, decays in network.parameters():
        if not decays:  # biases, gamma and beta away from their starting values
            value += rng.standard_normal(value.shape) * 0.1
    X = rng.standard_normal((5, network.n_inputs))
    y = rng.integers(0, network.n_classes, 5)
    # training=True throughout: batch norm uses the batch's statistics, as train_step does
    result = check_gradients(network, X, y, h=H, tolerance=TOLERANCE)
    assert len(result.arrays) == len(network.parameters())
    for array in result.arrays:
        if array.numerical_max < 1e-8:  # a bias just before bn: the normalisation subtracts it again
            assert array.analytic_max < 1e-12, array.describe()
        else:
            assert array.relative_error < TOLERANCE, array.describe()
