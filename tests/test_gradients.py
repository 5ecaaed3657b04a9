"""Every derivative in digitnet against central differences, in float64.

For a function f and a small h, (f(x + h) - f(x - h)) / 2h matches f'(x) to O(h^2); we compare the analytic
gradient with it for every layer, the loss and whole networks of several depths.
"""

import numpy as np
import pytest

from digitnet.layers import Dense, ReLU
from digitnet.losses import SoftmaxCrossEntropy
from digitnet.network import Network

H = 1e-6
TOLERANCE = 1e-7  # relative error; float64 central differences reach about 1e-9 here


def numerical_gradient(f, x: np.ndarray) -> np.ndarray:
    """Central differences of the scalar function f() with respect to every entry of x (changed in place)."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        saved = x[i]
        x[i] = saved + H
        plus = f()
        x[i] = saved - H
        minus = f()
        x[i] = saved
        grad[i] = (plus - minus) / (2 * H)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a) + np.abs(b)), 1e-12))


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_dense_gradients(rng):
    layer = Dense(5, 4, rng=rng, dtype=np.float64)
    layer.b[:] = rng.standard_normal(4)
    X = rng.standard_normal((3, 5))
    R = rng.standard_normal((3, 4))  # loss = sum(Z * R), so dZ = R

    def loss():
        return float(np.sum(layer.forward(X) * R))

    loss()
    dX = layer.backward(R.copy())
    assert relative_error(layer.dW, numerical_gradient(loss, layer.W)) < TOLERANCE
    assert relative_error(layer.db, numerical_gradient(loss, layer.b)) < TOLERANCE
    assert relative_error(dX, numerical_gradient(loss, X)) < TOLERANCE


def test_first_dense_layer_skips_the_input_gradient(rng):
    layer = Dense(5, 4, rng=rng, dtype=np.float64, input_grad=False)
    layer.forward(rng.standard_normal((3, 5)))
    assert layer.backward(np.ones((3, 4))) is None
    assert np.any(layer.dW != 0)


def test_relu_gradient(rng):
    Z = rng.standard_normal((4, 6))
    Z[np.abs(Z) < 0.01] = 0.5  # keep away from the kink at 0, where the derivative is undefined
    R = rng.standard_normal((4, 6))
    relu = ReLU()

    def loss():
        return float(np.sum(relu.forward(Z.copy()) * R))  # ReLU works in place: hand it a copy

    loss()
    dZ = relu.backward(R.copy())
    assert relative_error(dZ, numerical_gradient(loss, Z)) < TOLERANCE


def test_relu_forward_is_max_with_zero(rng):
    Z = rng.standard_normal((3, 5))
    assert np.array_equal(ReLU().forward(Z.copy()), np.maximum(Z, 0))


def test_softmax_cross_entropy_gradient(rng):
    Z = rng.standard_normal((5, 10)) * 3
    y = rng.integers(0, 10, 5)
    loss_fn = SoftmaxCrossEntropy()

    def loss():
        return loss_fn.forward(Z, y)

    loss()
    dZ = loss_fn.backward()
    assert relative_error(dZ, numerical_gradient(loss, Z)) < TOLERANCE


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    Z = np.array([[1000.0, 0.0, -1000.0], [0.0, 800.0, 0.0]])
    loss_fn = SoftmaxCrossEntropy()
    loss = loss_fn.forward(Z, np.array([0, 0]))
    assert np.isfinite(loss)
    assert loss == pytest.approx(800.0 / 2)  # first row is certain and right, second is 800 nats wrong


@pytest.mark.parametrize("sizes", [[6, 4], [6, 5, 4], [6, 7, 5, 4], [6, 3, 3, 3, 4]])
def test_whole_network_gradients(sizes, rng):
    network = Network(sizes, seed=1, dtype=np.float64)
    for layer in network.dense_layers:
        layer.b[:] = rng.standard_normal(layer.b.shape) * 0.1
    X = rng.standard_normal((7, sizes[0]))
    y = rng.integers(0, sizes[-1], 7)

    def loss():
        return network.loss.forward(network.forward(X.copy()), y)

    network.train_step(X.copy(), y)
    analytic = [grad.copy() for _, grad, _ in network.parameters()]
    for (value, _, _), grad in zip(network.parameters(), analytic, strict=True):
        assert relative_error(grad, numerical_gradient(loss, value)) < TOLERANCE
