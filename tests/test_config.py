"""Property: every TrainConfig field refuses every out-of-range value with one line, and any in-range set trains.

The ranges below are the specification, written here independently of ``config.RANGES``: a value outside them
must give a ``ConfigError`` whose one line names the field, never another exception; values inside them must give a
configuration that trains without a traceback (a ``DivergenceError`` for a wild learning rate is a one-line error
too, and allowed).
"""

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digitnet import Network, TrainConfig
from digitnet.errors import ConfigError, DivergenceError
from digitnet.train import train

NOT_NUMBERS = st.one_of(st.none(), st.booleans(), st.text(max_size=4), st.lists(st.integers(), max_size=2))


def bad_whole(low: int, high: int | None = None):
    """Anything but a whole number from ``low`` to ``high``."""
    outside = [st.integers(max_value=low - 1)] + ([] if high is None else [st.integers(min_value=high + 1)])
    return st.one_of(*outside, st.floats(allow_nan=True, allow_infinity=True), NOT_NUMBERS)


def bad_real(low: float, high: float = math.inf, *, low_in: bool = True, high_in: bool = False):
    """Anything but a finite number in the range (NaN and infinities included)."""
    below = st.floats(max_value=low, exclude_max=low_in, allow_nan=False)
    outside = [below, st.just(math.nan), st.just(math.inf), st.just(-math.inf)]
    if high != math.inf:
        outside.append(st.floats(min_value=high, exclude_min=high_in, allow_nan=False))
    return st.one_of(*outside, NOT_NUMBERS)


def bad_choice(allowed):
    return st.one_of(st.text(max_size=8).filter(lambda text: text not in allowed), st.integers(), st.none())


BAD = {
    "sizes": st.one_of(
        st.just(()),
        st.tuples(st.integers(1, 1000)),  # one width: no layer
        st.lists(st.integers(max_value=0), min_size=2, max_size=4).map(tuple),
        st.tuples(st.integers(1, 100), st.integers(min_value=(1 << 16) + 1)),  # wider than any machine's memory
        st.tuples(st.integers(1, 100), st.floats(1, 100)),
        st.tuples(st.booleans(), st.booleans()),
        st.text(max_size=8),
        st.none(),
    ),
    "epochs": bad_whole(1),
    "batch_size": bad_whole(0),
    "optimizer": bad_choice({"gd", "momentum", "adam"}),
    "learning_rate": bad_real(0, low_in=False),
    "momentum": bad_real(0, 1),
    "nesterov": st.one_of(st.integers(), st.text(max_size=4), st.none()),
    "weight_decay": bad_real(0),
    "schedule": bad_choice({"constant", "step", "cosine"}),
    "step_every": bad_whole(1),
    "step_gamma": bad_real(0, 1, low_in=False, high_in=True),
    "dev_size": bad_whole(0),
    "patience": bad_whole(0),
    "report_every": bad_whole(1),
    "dropout": bad_real(0, 1),
    "max_norm": bad_real(0),
    "label_smoothing": bad_real(0, 1),
    "warmup_epochs": bad_real(0),
    "precise_bn": st.one_of(st.integers(), st.text(max_size=4), st.none()),
    "swa_epochs": bad_whole(0),
    "rotate": bad_real(0, 180, high_in=True),
    "scale": bad_real(0, 1),
    "shear": bad_real(0, 90),
    "shift": bad_real(0, 28, high_in=True),
    "elastic_alpha": bad_real(0),
    "elastic_sigma": bad_real(0, 28, low_in=False, high_in=True),
    "flip": bad_real(0, 1, high_in=True),
    "crop": bad_whole(0, 27),
    "erase": bad_real(0, 1, high_in=True),
    "seed": bad_whole(0),
    "dtype": bad_choice({"float32", "float64"}),
    "data_parallel": bad_whole(1, 16),
}


def test_every_field_has_its_out_of_range_values_listed():
    assert set(BAD) == {f.name for f in dataclasses.fields(TrainConfig)}


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_any_out_of_range_value_gives_one_line_naming_the_field(data):
    name = data.draw(st.sampled_from(sorted(BAD)), label="field")
    value = data.draw(BAD[name], label="value")
    with pytest.raises(ConfigError) as refused:
        TrainConfig(**{name: value})
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(name)


def fraction(high: float = 0.9):
    return st.floats(0, high)


# In-range values, kept small where they cost time (a run here must take milliseconds).
GOOD = {
    # 784 inputs: the distortions work on 28x28 images
    "sizes": st.lists(st.integers(1, 12), min_size=0, max_size=2).map(lambda hidden: (784, *hidden, 3)),
    "epochs": st.integers(1, 3),
    "batch_size": st.integers(0, 400),
    "optimizer": st.sampled_from(["gd", "momentum", "adam"]),
    "learning_rate": st.floats(1e-6, 10),
    "momentum": fraction(0.999),
    "nesterov": st.booleans(),
    "weight_decay": st.floats(0, 1),
    "schedule": st.sampled_from(["constant", "step", "cosine"]),
    "step_every": st.integers(1, 10**9),
    "step_gamma": st.floats(1e-6, 1),
    "dev_size": st.integers(0, 99),
    "patience": st.integers(0, 10**9),
    "report_every": st.integers(1, 10**9),
    "dropout": fraction(),
    "max_norm": st.floats(0, 100),
    "label_smoothing": fraction(),
    "warmup_epochs": st.floats(0, 1e6),
    "precise_bn": st.just(False),  # True needs a bn layer, which these sizes lack (test_cnn.py trains one)
    "swa_epochs": st.just(0),  # more needs as many epochs and no patience (test_train.py and test_cnn.py train it)
    "rotate": st.floats(0, 180),
    "scale": fraction(),
    "shear": st.floats(0, 89.9),
    "shift": st.floats(0, 28),
    "elastic_alpha": st.floats(0, 100),
    "elastic_sigma": st.floats(0.01, 28),
    "flip": st.floats(0, 1),
    "crop": st.integers(0, 27),
    "erase": st.floats(0, 1),
    "seed": st.integers(0, 2**63),
    "dtype": st.sampled_from(["float32", "float64"]),
    "data_parallel": st.integers(1, 3),
}


def test_every_field_has_its_in_range_values_listed():
    assert set(GOOD) == {f.name for f in dataclasses.fields(TrainConfig)}


@settings(max_examples=25, deadline=None)
@given(values=st.fixed_dictionaries(GOOD))
def test_any_in_range_configuration_trains_without_a_traceback(values):
    config = TrainConfig(**values)
    rng = np.random.default_rng(0)
    X, y = rng.integers(0, 256, (100, 784), dtype=np.uint8), rng.integers(0, 3, 100)
    network = Network(config.sizes, seed=config.seed, dtype=np.dtype(config.dtype), dropout=config.dropout)
    try:
        dev = config.dev_size
        if config.patience and not dev:
            with pytest.raises(ConfigError, match="hold some out"):
                train(network, X, y, config, X[:0], y[:0])
            return
        result = train(network, X[dev:], y[dev:], config, X[:dev], y[:dev])
    except DivergenceError as error:
        assert "\n" not in str(error)
        return
    assert result.stopped in ("finished", "early-stopping")
