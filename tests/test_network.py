"""The network through its public API: a small example worked by hand, shapes, prediction, state."""

import numpy as np
import pytest

from digitnet import Network
from digitnet.errors import ConfigError
from digitnet.network import pixels_to_inputs
from digitnet.optim import GradientDescent


def hand_network() -> Network:
    """Network([2, 2, 2]) with weights small enough to follow with pencil and paper."""
    network = Network([2, 2, 2], dtype=np.float64)
    first, second = network.dense_layers
    first.W[:] = [[1.0, -1.0], [0.5, 1.0]]
    first.b[:] = [0.0, -1.0]
    second.W[:] = [[1.0, 0.0], [0.0, 1.0]]
    second.b[:] = [0.0, 0.0]
    return network


def test_a_step_worked_by_hand():
    # X = [1, 2]:  Z1 = X @ W1 + b1 = [1*1 + 2*0.5 + 0, 1*-1 + 2*1 - 1] = [2, 0];  A1 = relu(Z1) = [2, 0]
    # Z2 = A1 @ W2 + b2 = [2, 0];  P = softmax(Z2) = [e^2, 1] / (e^2 + 1) = [0.880797, 0.119203]
    # y = 0: loss = -log(0.880797) = 0.126928;  dZ2 = P - [1, 0] = [-0.119203, 0.119203]
    # dW2 = A1.T @ dZ2 = [[2 * -0.119203, 2 * 0.119203], [0, 0]];  db2 = dZ2
    # dA1 = dZ2 @ W2.T = [-0.119203, 0.119203];  dZ1 = dA1 * (Z1 > 0) = [-0.119203, 0]   (Z1[1] = 0 is not > 0)
    # dW1 = X.T @ dZ1 = [[-0.119203, 0], [-0.238406, 0]];  db1 = [-0.119203, 0]
    network = hand_network()
    X, y = np.array([[1.0, 2.0]]), np.array([0])
    p = 1 / (1 + np.exp(-2.0))  # 0.880797
    assert network.predict_proba(X)[0] == pytest.approx([p, 1 - p])

    loss, correct = network.train_step(X, y)
    assert loss == pytest.approx(-np.log(p))
    assert correct == 1
    first, second = network.dense_layers
    g = 1 - p  # 0.119203
    assert second.dW == pytest.approx(np.array([[-2 * g, 2 * g], [0, 0]]))
    assert second.db == pytest.approx([-g, g])
    assert first.dW == pytest.approx(np.array([[-g, 0], [-2 * g, 0]]))
    assert first.db == pytest.approx([-g, 0])

    # One step of gradient descent at learning rate 1 moves each weight by minus its gradient.
    GradientDescent(network.parameters(), learning_rate=1.0).step()
    assert first.W == pytest.approx(np.array([[1 + g, -1], [0.5 + 2 * g, 1]]))
    assert second.b == pytest.approx([g, -g])
    assert network.evaluate(X, y)[0] < loss  # and the loss on this example went down


def test_shapes_follow_rows_are_examples():
    network = Network([784, 30, 20, 10], seed=0)
    assert [(layer.W.shape, layer.b.shape) for layer in network.dense_layers] == [
        ((784, 30), (30,)),
        ((30, 20), (20,)),
        ((20, 10), (10,)),
    ]
    assert all(layer.W.dtype == np.float32 for layer in network.dense_layers)
    pixels = np.random.default_rng(0).integers(0, 256, (5, 784), dtype=np.uint8)
    P = network.predict_proba(pixels)
    assert P.shape == (5, 10)
    assert P.sum(axis=1) == pytest.approx(np.ones(5), abs=1e-5)
    assert network.predict(pixels).shape == (5,)


def test_uint8_pixels_are_scaled_like_the_notebook():
    network = Network([784, 10], seed=0)
    pixels = np.random.default_rng(1).integers(0, 256, (3, 784), dtype=np.uint8)
    assert network.predict_proba(pixels) == pytest.approx(network.predict_proba(pixels / 255.0), abs=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["C", "F"])
def test_pixels_become_each_pixel_times_one_255th_in_the_layout_asked(dtype, order):
    pixels = np.arange(256, dtype=np.uint8).reshape(16, 16)  # every value a pixel can take
    expected = pixels.astype(dtype) * dtype(1 / 255)
    inputs = pixels_to_inputs(pixels, dtype, order=order)
    assert inputs.dtype == dtype and inputs.flags[f"{order}_CONTIGUOUS"]
    np.testing.assert_array_equal(inputs, expected)
    buffer = np.full((16, 16), np.nan, dtype)
    assert pixels_to_inputs(pixels, dtype, out=buffer) is buffer
    np.testing.assert_array_equal(buffer, expected)


def test_he_initialisation_scale():
    network = Network([1000, 500, 10], seed=0)
    W = network.dense_layers[0].W
    assert W.std() == pytest.approx(np.sqrt(2 / 1000), rel=0.02)
    assert not np.any(network.dense_layers[0].b)


def test_same_seed_same_weights_other_seed_other_weights():
    a, b, c = Network([5, 4, 3], seed=7), Network([5, 4, 3], seed=7), Network([5, 4, 3], seed=8)
    assert all(np.array_equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    assert not np.array_equal(a.dense_layers[0].W, c.dense_layers[0].W)


def test_state_dict_round_trip():
    a, b = Network([5, 4, 3], seed=1), Network([5, 4, 3], seed=2)
    b.load_state_dict(a.state_dict())
    X = np.random.default_rng(0).random((4, 5))
    assert np.array_equal(a.predict_proba(X), b.predict_proba(X))


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        ([], "needs an input and at least one layer"),
        ([784], "needs an input and at least one layer"),
        ([784, 0, 10], "a width must be at least 1"),
        ([784, -5, 10], "a width must be at least 1"),
        ([784, 2.5, 10], "is not a width or a layer name"),
    ],
)
def test_bad_sizes_are_refused_with_a_message(sizes, message):
    with pytest.raises(ConfigError, match=message):
        Network(sizes)


def test_column_major_inputs_give_the_same_step_in_the_same_layout():
    # The trainer keeps a full batch column-major (layers.order_of): the math must not notice.
    rng = np.random.default_rng(0)
    X, y = rng.random((9, 6)), rng.integers(0, 4, 9)
    rows, columns = Network([6, 5, 4], seed=0, dtype=np.float64), Network([6, 5, 4], seed=0, dtype=np.float64)
    assert rows.train_step(X, y) == pytest.approx(columns.train_step(np.asfortranarray(X), y))
    for (_, row_grad, _), (_, column_grad, _) in zip(rows.parameters(), columns.parameters(), strict=True):
        assert column_grad == pytest.approx(row_grad, rel=1e-12)
    assert columns.forward(np.asfortranarray(X)).flags.f_contiguous
    assert rows.forward(X).flags.c_contiguous
