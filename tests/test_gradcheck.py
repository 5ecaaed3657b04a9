"""digitnet.gradcheck: it passes right gradients, catches wrong ones and says which array is off and where."""

import numpy as np
import pytest

from digitnet import assert_gradients, check_gradients
from digitnet.gradcheck import GradientError, check_layer, check_loss, check_network
from digitnet.layers import BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU
from digitnet.losses import SoftmaxCrossEntropy
from digitnet.network import Network


@pytest.fixture
def rng():
    return np.random.default_rng(0)


class LeakyReLU:
    """A learner's layer: ``A = Z`` where ``Z > 0``, else ``slope * Z``; ``dZ = dA * (1 or slope)``."""

    def __init__(self, slope=0.1):
        self.slope = slope

    def forward(self, Z, training=False):
        self.positive = Z > 0
        return np.where(self.positive, Z, self.slope * Z)

    def backward(self, dA):
        return np.where(self.positive, dA, self.slope * dA)

    def parameters(self):
        return iter(())


class ForgotTheSlope(LeakyReLU):
    def backward(self, dA):
        return dA * self.positive  # the ReLU derivative: wrong wherever Z < 0


class ScaledDense(Dense):
    """A learner's Dense layer whose bias gradient sums over every entry, as the original notebook's did."""

    def backward(self, dZ):
        self.dW[...] = self.X.T @ dZ
        self.db[...] = dZ.sum()  # one number for every unit: should be dZ.sum(axis=0)
        return dZ @ self.W.T


class TransposedWeights(Dense):
    def backward(self, dZ):
        self.dW[...] = (dZ.T @ self.X).T * 0.5  # half the right dW
        self.db[...] = dZ.sum(axis=0)
        return dZ @ self.W.T


def dense(rng, n_in=5, n_out=4, cls=Dense, **kwargs):
    layer = cls(n_in, n_out, rng=rng, dtype=np.float64, **kwargs)
    layer.b[:] = rng.standard_normal(n_out)
    return layer


def test_a_right_learner_layer_passes(rng):
    result = check_gradients(LeakyReLU(), rng.standard_normal((4, 6)))
    assert result.ok
    assert [a.name for a in result.arrays] == ["X"]
    assert result.arrays[0].relative_error < 1e-7
    assert "match" in result.summary()


def test_a_wrong_input_gradient_is_caught_and_located(rng):
    X = rng.standard_normal((4, 6))
    result = check_gradients(ForgotTheSlope(), X)
    assert not result.ok
    (off,) = result.failures
    assert off.name == "X"
    assert X[off.index] < 0  # off exactly where the slope was forgotten
    assert off.analytic == 0
    assert off.numerical != pytest.approx(0)


def test_a_wrong_bias_gradient_is_named_in_a_one_line_error(rng):
    layer = dense(rng, cls=ScaledDense)
    with pytest.raises(GradientError) as caught:
        assert_gradients(layer, rng.standard_normal((3, 5)))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("ScaledDense layer: the gradient of b is off, worst at b[")
    assert "backward gave" in message and "central differences" in message
    result = check_gradients(layer, rng.standard_normal((3, 5)))
    assert [a.name for a in result.failures] == ["b"]  # W and X are right and said to be


def test_how_far_off_is_reported(rng):
    result = check_gradients(dense(rng, cls=TransposedWeights), rng.standard_normal((3, 5)))
    (off,) = result.failures
    assert off.name == "W"
    assert off.analytic == pytest.approx(off.numerical / 2, rel=1e-6)  # half the right value, at the worst entry
    assert off.relative_error == pytest.approx(1 / 3, rel=1e-5)  # |g/2 - g| / (|g/2| + |g|)
    assert "W" in str(result) and "X: ok" in str(result)


@pytest.mark.parametrize("input_grad", [True, False])
def test_dense_passes(input_grad, rng):
    result = assert_gradients(dense(rng, input_grad=input_grad), rng.standard_normal((3, 5)))
    assert [a.name for a in result.arrays] == (["X", "W", "b"] if input_grad else ["W", "b"])


def test_relu_passes(rng):
    assert check_gradients(ReLU(), rng.standard_normal((4, 6))).ok


def test_dropout_passes_because_its_mask_is_frozen(rng):
    layer = Dropout(0.5, rng=np.random.default_rng(7))
    result = assert_gradients(layer, rng.standard_normal((6, 8)))
    assert result.arrays[0].entries == 48
    state = layer.rng.bit_generator.state
    check_gradients(layer, rng.standard_normal((6, 8)))
    assert layer.rng.bit_generator.state == state  # put back as it was


def test_a_layer_drawing_from_the_global_generator_is_frozen_too(rng):
    class NoisyScale:  # multiplies by fresh global noise in training: checkable only with the noise frozen
        def forward(self, X, training=False):
            self.noise = np.random.rand(*X.shape)
            return X * self.noise

        def backward(self, dA):
            return dA * self.noise

    assert check_gradients(NoisyScale(), rng.standard_normal((3, 4))).ok


class CentreTheBatch:
    """Subtracts the batch mean in training, like batch normalisation without the scale, and keeps a running mean."""

    def __init__(self, width, honest=True):
        self.running_mean = np.zeros(width)
        self.honest = honest

    def forward(self, X, training=False):
        if not training:
            return X - self.running_mean
        mean = X.mean(axis=0)
        self.running_mean *= 0.9
        self.running_mean += 0.1 * mean  # updated in place, as BatchNorm's statistics are
        return X - mean

    def backward(self, dA):
        if self.honest:  # each input moves the mean too: dX = dA - mean(dA)
            return dA - dA.mean(axis=0)
        return dA  # as if the mean were a constant

    def parameters(self):
        return iter(())


def test_a_layer_that_depends_on_the_whole_batch(rng):
    X = rng.standard_normal((5, 3))
    layer = CentreTheBatch(3)
    assert check_gradients(layer, X).ok
    assert np.array_equal(layer.running_mean, np.zeros(3))  # the check's many forward passes left no trace
    result = check_gradients(CentreTheBatch(3, honest=False), X)
    assert [a.name for a in result.failures] == ["X"]


def test_the_checked_layer_is_left_as_it_was(rng):
    layer = dense(rng)
    before = {k: v.copy() for k, v in vars(layer).items() if isinstance(v, np.ndarray)}
    check_gradients(layer, rng.standard_normal((3, 5)))
    for name, value in before.items():
        assert np.array_equal(getattr(layer, name), value), name


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_softmax_cross_entropy_passes(label_smoothing, rng):
    result = check_loss(SoftmaxCrossEntropy(label_smoothing), rng.standard_normal((5, 10)) * 3, rng.integers(0, 10, 5))
    assert result.ok and [a.name for a in result.arrays] == ["Z"]


def test_a_loss_that_forgets_the_mean_is_caught(rng):
    class SumNotMean(SoftmaxCrossEntropy):
        def backward(self):
            return super().backward() * len(self.y)  # (P - Y) without the / n

    result = check_gradients(SumNotMean(), rng.standard_normal((4, 10)), rng.integers(0, 10, 4))
    (off,) = result.failures
    assert off.name == "Z"
    assert off.analytic == pytest.approx(4 * off.numerical, rel=1e-6)


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_networks_pass(dropout, rng):
    network = Network([6, 7, 5, 4], seed=1, dtype=np.float64, dropout=dropout)
    for layer in network.dense_layers:
        layer.b[:] = rng.standard_normal(layer.b.shape) * 0.1
    result = check_network(network, rng.standard_normal((7, 6)), rng.integers(0, 4, 7))
    assert result.ok
    dense = [i for i, layer in enumerate(network.layers) if isinstance(layer, Dense)]
    assert [a.name for a in result.arrays] == [f"layers[{i}].{p}" for i in dense for p in ("W", "b")]


def test_a_wrong_layer_inside_a_network_is_named_by_its_place(rng):
    network = Network([6, 5, 4], seed=1, dtype=np.float64)
    wrong = network.layers[2]
    wrong.__class__ = TransposedWeights  # the last Dense, now with half its dW
    result = check_gradients(network, rng.standard_normal((7, 6)), rng.integers(0, 4, 7))
    assert [a.name for a in result.failures] == ["layers[2].W"]
    assert "layers[2].W" in result.summary()


def test_max_entries_checks_a_sample_of_each_array(rng):
    result = check_gradients(dense(rng, 20, 10), rng.standard_normal((3, 20)), max_entries=15)
    assert [a.entries for a in result.arrays] == [15, 15, 10]
    assert result.ok
    result = check_gradients(dense(rng, 20, 10, cls=ScaledDense), rng.standard_normal((3, 20)), max_entries=15)
    assert [a.name for a in result.failures] == ["b"]


def test_a_kink_is_told_apart_from_a_wrong_derivative(rng):
    Z = rng.standard_normal((3, 4))
    Z[1, 2] = 0.0  # ReLU has no derivative here
    result = check_gradients(ReLU(), Z)
    (off,) = result.failures
    assert off.index == (1, 2)
    assert off.kink is not None and "kink" in result.summary()
    assert check_gradients(ForgotTheSlope(), rng.standard_normal((3, 4))).failures[0].kink is None


def test_float32_is_refused_with_the_fix(rng):
    with pytest.raises(GradientError, match=r"W is float32; gradient checks need float64"):
        check_gradients(Dense(3, 2, rng=rng), rng.standard_normal((2, 3)))
    with pytest.raises(GradientError, match=r"Network\(.*\)|dtype=np.float64"):
        check_gradients(Network([3, 2], seed=0), rng.standard_normal((2, 3)), np.array([0, 1]))


def test_something_that_is_not_a_layer_is_refused():
    with pytest.raises(TypeError, match="has no forward, backward method"):
        check_layer(object(), np.zeros((2, 2)))


def test_the_upstream_gradient_is_not_drawn_like_the_input():
    class Standardise:  # batch normalisation without gamma and beta
        def forward(self, X, training=False):
            self.s = np.sqrt(X.var(axis=0) + 1e-5)
            self.X_hat = (X - X.mean(axis=0)) / self.s
            return self.X_hat

        def backward(self, dA):
            return (dA - dA.mean(axis=0) - self.X_hat * (dA * self.X_hat).mean(axis=0)) / self.s

    # Had R come from default_rng(0) too, it would be X itself, whose gradient through a standardisation is 0:
    # the check would compare rounding noise with rounding noise.
    X = np.random.default_rng(0).standard_normal((6, 3))
    result = check_gradients(Standardise(), X, seed=0)
    assert result.ok
    assert abs(result.arrays[0].numerical) > 1e-3


def test_a_gradient_that_is_truly_zero_passes_as_such(rng):
    network = Network("4x4x1-conv3x3x2-bn-pool-3-2", seed=1, dtype=np.float64)
    X, y = rng.standard_normal((5, 16)), rng.integers(0, 2, 5)
    result = check_gradients(network, X, y)
    assert result.ok, result.summary()
    conv_bias = next(a for a in result.arrays if a.name == "layers[0].b")
    assert conv_bias.zero  # batch normalisation subtracts whatever the bias adds
    assert "0 within rounding" in str(result)
    assert not any(a.zero for a in result.arrays if a.name != "layers[0].b")


LAYERS = {  # a small instance and input for every layer digitnet has
    "Dense": lambda rng: (dense(rng), rng.standard_normal((3, 5))),
    "ReLU": lambda rng: (ReLU(), rng.standard_normal((3, 4))),
    "Dropout": lambda rng: (Dropout(0.3, rng=np.random.default_rng(1)), rng.standard_normal((3, 4))),
    "Conv2D": lambda rng: (Conv2D(3, 2, 3, rng=rng, dtype=np.float64), rng.standard_normal((2, 4, 5, 2))),
    "MaxPool2D": lambda rng: (MaxPool2D(), rng.standard_normal((2, 4, 5, 2))),
    "Flatten": lambda rng: (Flatten(), rng.standard_normal((2, 3, 3, 2))),
    "BatchNorm": lambda rng: (BatchNorm(3, dtype=np.float64), rng.standard_normal((2, 3, 3, 3))),
}


def layer_classes() -> list[str]:
    import digitnet.layers

    return sorted(
        name
        for name, cls in vars(digitnet.layers).items()
        if isinstance(cls, type) and cls.__module__ == "digitnet.layers" and hasattr(cls, "backward")
    )


def test_every_layer_of_digitnet_is_listed_here():
    assert sorted(LAYERS) == layer_classes(), "a new layer: add a small instance of it to LAYERS"


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_every_layer_of_digitnet_passes(name, rng):
    layer, X = LAYERS[name](rng)
    result = assert_gradients(layer, X)
    assert result.arrays[0].name == "X"
