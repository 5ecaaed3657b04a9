"""The training loop: it learns, it reports, it stops when asked, and it never goes silently to NaN."""

import re
import threading

import numpy as np
import pytest

from digitnet import PRESETS, Network, TrainConfig, experiment
from digitnet.data import load
from digitnet.errors import ConfigError, DivergenceError
from digitnet.network import pixels_to_inputs
from digitnet.train import Trainer, gather_rows, train


def blobs(n: int, seed: int = 0):
    """Three well-separated clusters of 'pixels' in 16 dimensions: easy to learn, quick to train."""
    centres = np.random.default_rng(0).integers(40, 216, (3, 16))
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = np.clip(centres[y] + rng.normal(0, 25, (n, 16)), 0, 255).astype(np.uint8)
    return X, y


def config(**changes) -> TrainConfig:
    base = TrainConfig(sizes=(16, 8, 3), epochs=5, batch_size=32, learning_rate=0.05, dev_size=0)
    return base.replace(**changes)


def test_learns_separable_data_and_records_history():
    X, y = blobs(600)
    Xd, yd = blobs(200, seed=1)
    network = Network([16, 8, 3], seed=0)
    reports = []
    result = train(network, X, y, config(), Xd, yd, on_report=reports.append)
    assert [r.epoch for r in result.history] == [1, 2, 3, 4, 5]
    assert reports == result.history
    assert result.history[-1].dev_accuracy > 0.95
    assert result.history[-1].train_loss < result.history[0].train_loss
    assert result.history[-1].step == 5 * 19  # ceil(600 / 32) steps per epoch
    assert result.stopped == "finished"


def test_full_batch_reports_every_n_iterations():
    X, y = blobs(300)
    result = train(Network([16, 8, 3]), X, y, config(batch_size=0, epochs=30, report_every=10, optimizer="gd"))
    assert [(r.epoch, r.step) for r in result.history] == [(10, 10), (20, 20), (30, 30)]
    assert result.history[0].dev_loss is None


def test_same_seed_same_run():
    X, y = blobs(400)
    runs = []
    for _ in range(2):
        network = Network([16, 8, 3], seed=3)
        train(network, X, y, config(seed=3))
        runs.append(network.state_dict())
    assert all(np.array_equal(runs[0][k], runs[1][k]) for k in runs[0])


def test_early_stopping_restores_the_best_weights():
    X, y = blobs(200)
    Xd, yd = blobs(100, seed=1)
    rng = np.random.default_rng(0)
    yd = rng.permutation(yd)  # dev labels unrelated to the data: dev loss gets worse as training goes on
    network = Network([16, 8, 3], seed=0)
    result = train(network, X, y, config(epochs=50, patience=3), Xd, yd)
    assert result.stopped == "early-stopping"
    best = min(result.history, key=lambda r: r.dev_loss)
    assert result.best_epoch == best.epoch
    assert len(result.history) == [r.epoch for r in result.history].index(best.epoch) + 1 + 3
    assert network.evaluate(Xd, yd)[0] == pytest.approx(best.dev_loss, rel=1e-5)


def test_divergence_stops_with_a_message_and_keeps_good_weights():
    X, y = blobs(200)
    network = Network([16, 8, 3], seed=0)
    with pytest.raises(DivergenceError, match=r"at step \d+ .*lower learning rate than 1e\+30"):
        train(network, X, y, config(learning_rate=1e30, optimizer="gd", schedule="constant"))
    assert all(np.all(np.isfinite(v)) for v in network.state_dict().values())


def test_stop_event_ends_training_after_the_current_step():
    X, y = blobs(320)
    stop = threading.Event()
    steps = []

    def on_step(step, steps_per_epoch):
        steps.append(step)
        if len(steps) == 3:
            stop.set()

    trainer = Trainer(Network([16, 8, 3]), config(), X, y, on_step=on_step, stop=stop)
    result = trainer.run()
    assert result.stopped == "interrupted"
    assert trainer.step == 3


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"epochs": -1}, "epochs must be greater than 0, got -1"),
        ({"batch_size": -2}, "batch_size must be 0 or more, got -2"),
        ({"learning_rate": 0.0}, "learning_rate must be greater than 0"),
        ({"optimizer": "sgd"}, "optimizer 'sgd' is not one of gd, momentum, adam"),
        ({"schedule": "linear"}, "schedule 'linear' is not one of constant, step, cosine"),
        ({"momentum": 1.5}, r"momentum must be at least 0 and below 1, got 1.5"),
        ({"sizes": (784,)}, "sizes"),
        ({"dropout": 1.0}, r"dropout must be at least 0 and below 1, got 1.0"),
        ({"label_smoothing": -0.1}, r"label_smoothing must be at least 0 and below 1, got -0.1"),
        ({"rotate": -5.0}, "rotate must be at least 0 and at most 180, got -5.0"),
        ({"scale": 1.5}, "scale must be at least 0 and below 1"),
        ({"elastic_sigma": 0.0}, "elastic_sigma must be greater than 0 and at most 28, got 0.0"),
        ({"max_norm": -1.0}, "max_norm must be 0 or more"),
        ({"schedule": "step", "step_every": 0}, "step_every must be greater than 0, got 0; e.g. --step-every 10"),
        ({"weight_decay": float("nan")}, "weight_decay must be 0 or more, got nan"),
        ({"learning_rate": float("inf")}, "learning_rate must be greater than 0, got inf"),
        ({"epochs": 2.5}, "epochs must be a whole number, got 2.5; e.g. --epochs 16"),
        ({"epochs": True}, "epochs must be a whole number, got True"),
        ({"learning_rate": "0.1"}, "learning_rate must be a number, got '0.1'"),
        ({"nesterov": 1}, "nesterov must be True or False"),
        ({"sizes": (784, 0, 10)}, r"sizes '784,0,10', layer 1 \(0\): a width must be at least 1"),
        ({"sizes": 784}, r"sizes 784 must be a list of layers such as \[784, 800, 10\]"),
        ({"epochs": 8, "swa_epochs": 9}, "swa_epochs 9 averages more epochs than the run's 8; e.g. --swa-epochs 2"),
        ({"swa_epochs": 2, "patience": 3}, "patience may stop before them; pass --patience 0 or --swa-epochs 0"),
    ],
)
def test_bad_configuration_is_refused(changes, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**changes)


@pytest.mark.parametrize("dev_rows", [None, 0])
def test_patience_without_dev_rows_is_refused_rather_than_never_stopping(dev_rows):
    X, y = blobs(100)
    dev = {} if dev_rows is None else {"X_dev": X[:dev_rows], "y_dev": y[:dev_rows]}
    with pytest.raises(ConfigError, match=r"patience 3 stops on the dev loss, and no dev rows were given; hold some"):
        Trainer(Network([16, 8, 3]), config(patience=3), X, y, **dev)
    Trainer(Network([16, 8, 3]), config(patience=0), X, y, **dev)  # without patience, no dev rows are needed


def test_a_run_that_cannot_train_leaves_no_output_directory_behind(tmp_path):
    config = TrainConfig(sizes=(784, 8, 10), epochs=1, dev_size=0, patience=3)
    with pytest.raises(ConfigError, match="no dev rows were given"):
        experiment.run(config, load("sample"), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_batches_are_the_shuffled_rows_gathered_into_one_buffer():
    source, buffer = np.arange(20.0).reshape(10, 2), np.empty((4, 2))
    rows = np.array([7, 0, 3])  # a last batch, smaller than the buffer
    batch = gather_rows(source, rows, buffer)
    assert np.array_equal(batch, source[rows])
    assert np.shares_memory(batch, buffer)


def test_full_batch_inputs_are_column_major_and_mini_batch_inputs_row_major():
    X, y = blobs(100)
    assert Trainer(Network([16, 8, 3]), config(batch_size=0), X, y).inputs.flags.f_contiguous
    assert Trainer(Network([16, 8, 3]), config(batch_size=32), X, y).inputs.flags.c_contiguous


def test_a_network_without_the_configured_dropout_is_refused():
    X, y = blobs(100)
    with pytest.raises(ConfigError, match=r"the network has dropout 0\.0 but the configuration asks for 0\.5"):
        Trainer(Network([16, 8, 3]), config(dropout=0.5), X, y)


def test_max_norm_holds_after_every_step():
    X, y = blobs(300)
    network = Network([16, 8, 3], seed=0)
    train(network, X, y, config(learning_rate=0.5, max_norm=0.5))
    for layer in network.dense_layers:
        assert np.linalg.norm(layer.W, axis=0).max() <= 0.5 + 1e-6


def test_a_short_run_of_best_on_real_digits_beats_the_same_run_without_augmentation():
    # The best recipe, narrowed to 256 units and cut to 15 epochs so that it runs in seconds, on 2500 real digits.
    sample = load("sample")
    short = PRESETS["best"].replace(sizes=(784, 256, 256, 10), epochs=15, dev_size=500, seed=0)
    plain = short.replace(rotate=0.0, scale=0.0, shear=0.0, shift=0.0, elastic_alpha=0.0)
    _, augmented, _ = experiment.run(short, sample)
    _, unaugmented, _ = experiment.run(plain, sample)
    assert augmented["test_accuracy"] > unaugmented["test_accuracy"] + 0.02  # about 0.95 against 0.91


def bad_examples():
    X, y = blobs(50)
    return [
        ("X has 50 rows but y has shape (49,)", Network([16, 8, 3]), config(), X, y[:-1]),
        ("y holds labels from 0 to 3 but the network has 3 classes", Network([16, 8, 3]), config(), X, y + (y == 2)),
        ("y holds labels from -1 to 2", Network([16, 8, 3]), config(), X, y - (y == 0)),
        ("y is float64; pass integer labels", Network([16, 8, 3]), config(), X, y.astype(float)),
        ("X has shape (50, 15) but the network's first layer takes 16", Network([16, 8, 3]), config(), X[:, 1:], y),
        ("X has shape (800,)", Network([16, 8, 3]), config(), X.ravel(), y),
        ("X has no rows", Network([16, 8, 3]), config(), X[:0], y[:0]),
        ("configuration's sizes [16, 8, 3] are not the network's [16, 9, 3]", Network([16, 9, 3]), config(), X, y),
        (
            "the network is float32 but the configuration asks for float64",
            Network([16, 8, 3]),
            config(dtype="float64"),
            X,
            y,
        ),
        ("X is bool; pass uint8 pixels", Network([16, 8, 3]), config(), X > 100, y),
        ("X holds NaN or infinite values", Network([16, 8, 3]), config(), np.where(X > 250, np.nan, X / 255), y),
        ("X and y must be NumPy arrays, got list", Network([16, 8, 3]), config(), X.tolist(), y),
    ]


@pytest.mark.parametrize(
    "message, network, configuration, X, y", bad_examples(), ids=[b[0][:30] for b in bad_examples()]
)
def test_train_refuses_what_does_not_fit_with_one_line(message, network, configuration, X, y):
    with pytest.raises(ConfigError, match=re.escape(message)) as refused:
        train(network, X, y, configuration)
    assert "\n" not in str(refused.value)


def test_dev_examples_are_checked_too():
    X, y = blobs(50)
    with pytest.raises(ConfigError, match=re.escape("X_dev has 50 rows but y_dev has shape (10,)")):
        train(Network([16, 8, 3]), X, y, config(), X, y[:10])
    with pytest.raises(ConfigError, match="pass both X_dev and y_dev, or neither"):
        train(Network([16, 8, 3]), X, y, config(), X, None)


def test_float_inputs_are_taken_as_already_scaled_in_training_and_prediction():
    # One rule: uint8 pixels are scaled by 1/255, floats in [0, 1] are used as they are, by Trainer and predict alike.
    X, y = blobs(200)
    floats = pixels_to_inputs(X)  # (200, 16) float32 in [0, 1]
    from_pixels, from_floats = Network([16, 8, 3], seed=1), Network([16, 8, 3], seed=1)
    train(from_pixels, X, y, config())
    train(from_floats, floats, y, config())
    for a, b in zip(from_pixels.state_dict().values(), from_floats.state_dict().values(), strict=True):
        assert np.array_equal(a, b)
    assert np.array_equal(from_pixels.predict(X), from_pixels.predict(floats))
    assert np.array_equal(from_pixels.predict_proba(X), from_pixels.predict_proba(floats))
    assert not np.array_equal(from_pixels.predict_proba(X), from_pixels.predict_proba(floats / 255))  # not again


def test_swa_ends_on_the_mean_of_the_weights_after_each_of_the_last_epochs():
    X, y = blobs(600)

    def run(swa_epochs: int) -> tuple[Network, list[dict]]:
        network, after = Network([16, 8, 3], seed=0), []  # and every epoch's weights as it ends
        train(network, X, y, config(swa_epochs=swa_epochs), on_epoch=lambda t: after.append(t.network.state_dict()))
        return network, after

    _, plain = run(0)
    averaged, after = run(3)
    assert all(np.array_equal(a[k], b[k]) for a, b in zip(after, plain, strict=True) for k in a)  # the same steps
    for name, value in averaged.state_dict().items():
        mean = np.mean([weights[name] for weights in after[-3:]], axis=0)  # epochs 3, 4 and 5
        assert np.allclose(value, mean, rtol=1e-6, atol=1e-7), name
        assert not np.allclose(value, after[-1][name], rtol=1e-3, atol=0), name  # not the last epoch's weights
