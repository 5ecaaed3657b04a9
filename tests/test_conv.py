"""The convolution layers held to a plain loop, and the network spec's language and its errors."""

import numpy as np
import pytest

from digitnet import Network
from digitnet.errors import ConfigError
from digitnet.layers import BatchNorm, Conv2D, MaxPool2D
from digitnet.spec import normalize


def loop_convolution(X: np.ndarray, W: np.ndarray, b: np.ndarray, padding: str) -> np.ndarray:
    """The definition, one output value at a time: Z[n, i, j, o] = b[o] + sum of Xp[n, i+p, j+q, c] W[p, q, c, o]."""
    n, h, w, c_in = X.shape
    k, _, _, c_out = W.shape
    pad = (k - 1) // 2 if padding == "same" else 0
    Xp = np.zeros((n, h + 2 * pad, w + 2 * pad, c_in))
    Xp[:, pad : pad + h, pad : pad + w, :] = X
    h_out, w_out = h + 2 * pad - k + 1, w + 2 * pad - k + 1
    Z = np.zeros((n, h_out, w_out, c_out))
    for e in range(n):
        for i in range(h_out):
            for j in range(w_out):
                for o in range(c_out):
                    total = b[o]
                    for p in range(k):
                        for q in range(k):
                            for c in range(c_in):
                                total += Xp[e, i + p, j + q, c] * W[p, q, c, o]
                    Z[e, i, j, o] = total
    return Z


@pytest.mark.parametrize("c_in", [1, 3])  # one channel makes its patches another way (im2col)
@pytest.mark.parametrize(("k", "padding"), [(3, "same"), (5, "same"), (3, "valid"), (2, "valid")])
def test_conv2d_matches_the_loop_convolution(k, padding, c_in):
    rng = np.random.default_rng(0)
    layer = Conv2D(k, c_in, 4, padding, rng=rng, dtype=np.float64)
    layer.b[:] = rng.standard_normal(4)
    X = rng.standard_normal((2, 7, 6, c_in))
    np.testing.assert_allclose(layer.forward(X), loop_convolution(X, layer.W, layer.b, padding), rtol=1e-12)


def test_conv2d_input_gradient_is_the_full_convolution_with_the_flipped_kernel():
    rng = np.random.default_rng(1)
    layer = Conv2D(3, 2, 3, "valid", rng=rng, dtype=np.float64)
    X = rng.standard_normal((1, 6, 6, 2))
    dZ = rng.standard_normal(layer.forward(X, training=True).shape)
    flipped = layer.W[::-1, ::-1].transpose(0, 1, 3, 2)  # (k, k, c_out, c_in): rotated 180°, channels swapped
    full = np.pad(dZ, ((0, 0), (2, 2), (2, 2), (0, 0)))  # "full": every overlap of dZ with the kernel
    expected = loop_convolution(full, flipped, np.zeros(2), "valid")
    np.testing.assert_allclose(layer.backward(dZ), expected, rtol=1e-12)


def test_max_pool_takes_the_largest_of_each_window_and_drops_odd_edges():
    X = np.arange(30, dtype=np.float64).reshape(1, 5, 6, 1)
    A = MaxPool2D().forward(X)
    assert A.shape == (1, 2, 3, 1)
    assert A[0, :, :, 0].tolist() == [[7, 9, 11], [19, 21, 23]]


def test_batch_norm_normalises_in_training_and_uses_running_statistics_at_inference():
    rng = np.random.default_rng(2)
    layer = BatchNorm(3, momentum=0.0, dtype=np.float64)  # momentum 0: the running values are the last batch's
    X = rng.standard_normal((50, 4, 4, 3)) * 5 + 2
    A = layer.forward(X, training=True)
    np.testing.assert_allclose(A.reshape(-1, 3).mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(A.reshape(-1, 3).std(axis=0), 1, atol=1e-3)
    m = 50 * 4 * 4
    np.testing.assert_allclose(layer.running_var, X.reshape(-1, 3).var(axis=0) * m / (m - 1))
    # At inference one example is normalised by the stored statistics, not by its own.
    one = X[:1]
    expected = (one - layer.running_mean) / np.sqrt(layer.running_var + layer.eps)
    np.testing.assert_allclose(layer.forward(one), expected)


def test_inference_leaves_the_layers_as_it_found_them():
    net = Network("conv3x3x4-bn-pool-8-bn-10", dropout=0.5)
    X = np.random.default_rng(3).random((4, 784), dtype=np.float32)
    before = net.state_dict()
    net.forward(X)
    caches = ("X", "mask", "cols", "X_hat", "scaled_mask")
    assert all(getattr(layer, name, None) is None for layer in net.layers for name in caches)
    assert all(np.array_equal(v, net.state_dict()[k]) for k, v in before.items())  # running statistics too


def test_spec_strings_lists_and_the_default_image_input_describe_the_same_network():
    assert normalize("conv5x5x32-pool-800-10") == ("28x28x1", "conv5x5x32", "pool", 800, 10)
    assert normalize(["28x28x1", "conv5x5x32", "pool", 800, 10]) == normalize("28x28x1-conv5x5x32-pool-800-10")
    assert normalize("784,800,10") == (784, 800, 10)
    net = Network("conv5x5x32-pool-conv5x5x64-pool-800-10")
    assert [type(layer).__name__ for layer in net.layers] == [
        "Conv2D", "ReLU", "MaxPool2D", "Conv2D", "ReLU", "MaxPool2D", "Flatten", "Dense", "ReLU", "Dense",
    ]  # fmt: skip
    assert net.dense_layers[0].W.shape == (7 * 7 * 64, 800)
    assert net.n_inputs == 784 and net.n_classes == 10
    assert net.predict(np.zeros((3, 784), np.uint8)).shape == (3,)


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        ("conv3x3x8-pool-pool-pool-pool-pool-10", "sizes '28x28x1-conv3x3x8-pool-pool-pool-pool-pool-10', layer 6 "
         "(pool): 2x2 pooling needs an image at least 2x2, but receives 1x1x8"),
        ("784-conv3x3x8-10", "sizes '784-conv3x3x8-10', layer 1 (conv3x3x8) needs an image but receives 784 values"),
        ("conv4x4x8-10", "'same' padding needs an odd kernel; use conv5x5x8"),
        ("4x4x1-conv5x5x2:valid-10", "a 5x5 valid convolution does not fit a 4x4 image"),
        ("conv3x3x8-pool-bn-10", "sizes '28x28x1-conv3x3x8-pool-bn-10', layer 3 (bn): bn normalises the convolution"),
        ("conv3x3x8-pool", "must end with the number of classes"),
        ("conv3x3x8-maxpool-10", "sizes '28x28x1-conv3x3x8-maxpool-10', layer 2 (maxpool) is not a layer"),
        ("pool-10", "must start with the input"),
        ([784], "needs an input and at least one layer"),
        ([784, 0, 10], "sizes '784,0,10', layer 1 (0): a width must be at least 1"),
        ([784, 1.5, 10], "is not a width or a layer name"),
    ],
)  # fmt: skip
def test_a_spec_that_cannot_work_names_the_layer_and_the_shapes(sizes, message):
    with pytest.raises(ConfigError) as error:
        Network(sizes)
    assert message in str(error.value) and "\n" not in str(error.value)
