"""A convolutional network through everything downstream: train, model files, evaluate and predict (alone and as
an ensemble), the report, the drawing page, checkpoints and resume, on the package's real MNIST sample."""

import json
import threading
import tracemalloc

import numpy as np
import pytest
from safetensors.numpy import save_file

from digitnet import experiment
from digitnet.checkpoint import CHECKPOINT_FILE, load_checkpoint
from digitnet.cli import main
from digitnet.config import PRESETS, TrainConfig
from digitnet.data import load
from digitnet.ensemble import Ensemble
from digitnet.errors import ConfigError
from digitnet.io import load_model, save_model
from digitnet.layers import BatchNorm
from digitnet.network import Network
from digitnet.web.drawing import read

SPEC = "conv3x3x8-bn-pool-conv3x3x8:valid-pool-32-10"
CONFIG = TrainConfig(sizes=SPEC, epochs=3, batch_size=100, learning_rate=0.05, dev_size=500, seed=3, dropout=0.2,
                     rotate=8.0, shift=1.0)  # fmt: skip


@pytest.fixture(scope="module")
def sample():
    return load("sample")


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    """`digitnet train` of a small conv net on the sample (a few seconds)."""
    out = tmp_path_factory.mktemp("cnn")
    argv = ["train", "--data", "sample", "--sizes", SPEC, "--epochs", "3", "--dev-size", "500", "--batch-size",
            "100", "--learning-rate", "0.05", "--seed", "3", "--warmup-epochs", "0", "--label-smoothing", "0",
            "--out", str(out), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    return out


def test_a_conv_net_trains_and_its_model_file_holds_the_spec_and_the_batch_statistics(cnn_run, sample):
    summary = json.loads((cnn_run / "summary.json").read_text())
    assert summary["sizes"] == ["28x28x1", "conv3x3x8", "bn", "pool", "conv3x3x8:valid", "pool", 32, 10]
    assert summary["test_accuracy"] >= 0.85  # 2500 digits, 3 epochs
    network, meta = load_model(cnn_run / "model.safetensors")
    assert meta["format_version"] == 2
    assert network.sizes == tuple(summary["sizes"])
    bn = network.named_layers()[1][1]
    assert not np.allclose(bn.running_var, 1) and not np.allclose(bn.running_mean, 0)  # learned, and kept
    assert network.evaluate(sample.test.X, sample.test.y)[1] == summary["test_accuracy"]


def test_the_report_shows_the_filters_and_feature_maps(cnn_run):
    figures = {p.name for p in (cnn_run / "figures").iterdir()}
    assert {"filters.png", "feature_maps.png"} <= figures and "weights.png" not in figures
    page = (cnn_run / "report.html").read_text()
    assert 'id="filters"' in page and 'id="feature_maps"' in page


def test_predict_writes_a_kaggle_submission_from_a_conv_net(cnn_run, tmp_path, sample):
    out = tmp_path / "submission.csv"
    assert main(["predict", str(cnn_run / "model.safetensors"), "--data", "sample", "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    network, _ = load_model(cnn_run / "model.safetensors")
    assert lines[0] == "ImageId,Label" and len(lines) == 1 + len(sample.test.X)
    assert [int(line.split(",")[1]) for line in lines[1:]] == network.predict(sample.test.X).tolist()


def test_an_ensemble_averages_the_probabilities_of_its_models(cnn_run, trained_run, sample, capsys):
    paths = [cnn_run / "model.safetensors", trained_run / "model.safetensors"]
    networks = [load_model(p)[0] for p in paths]
    ensemble = Ensemble(networks)
    P = ensemble.predict_proba(sample.test.X)
    np.testing.assert_allclose(
        P, (networks[0].predict_proba(sample.test.X) + networks[1].predict_proba(sample.test.X)) / 2
    )
    assert main(["evaluate", *map(str, paths), "--data", "sample", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["accuracy"] == pytest.approx(np.mean(P.argmax(axis=1) == sample.test.y))


def test_mirror_reading_averages_each_picture_with_its_mirror_image(cnn_run, sample, tmp_path, capsys):
    path = cnn_run / "model.safetensors"
    network, _ = load_model(path)
    X = sample.test.X
    by_hand = X.reshape(-1, 28, 28)[:, :, ::-1].reshape(X.shape)  # column c read from 27 - c
    P = Ensemble([network], mirror=True).predict_proba(X)
    np.testing.assert_allclose(P, (network.predict_proba(X) + network.predict_proba(by_hand)) / 2, rtol=1e-6)
    assert not np.allclose(P, network.predict_proba(X), atol=1e-3)  # a digit net reads mirrors differently
    assert main(["evaluate", str(path), "--data", "sample", "--mirror", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["mirror"] and result["accuracy"] == pytest.approx(np.mean(P.argmax(axis=1) == sample.test.y))
    out = tmp_path / "submission.csv"
    assert main(["predict", str(path), "--data", "sample", "--mirror", "--out", str(out)]) == 0
    labels = [int(line.split(",")[1]) for line in out.read_text().splitlines()[1:]]
    assert labels == P.argmax(axis=1).tolist()


def test_shifted_reading_averages_each_picture_with_its_four_one_pixel_moves(cnn_run, sample, tmp_path, capsys):
    path = cnn_run / "model.safetensors"
    network, _ = load_model(path)
    X = sample.test.X[:300]
    framed = np.pad(X.reshape(-1, 28, 28), ((0, 0), (1, 1), (1, 1)))  # (n, 30, 30): a frame of background
    up, down, left, right = framed[:, 2:, 1:-1], framed[:, :-2, 1:-1], framed[:, 1:-1, 2:], framed[:, 1:-1, :-2]
    views = [X] + [view.reshape(X.shape) for view in (up, down, left, right)]
    P = Ensemble([network], shifts=True).predict_proba(X)
    np.testing.assert_allclose(P, sum(network.predict_proba(v) for v in views) / 5, rtol=1e-5, atol=1e-7)
    assert not np.allclose(P, network.predict_proba(X), atol=1e-3)
    both = Ensemble([network], mirror=True, shifts=True).predict_proba(X)  # 10 readings: each mirror moved too
    mirrored = Ensemble([network], shifts=True).predict_proba(X.reshape(-1, 28, 28)[:, :, ::-1].reshape(X.shape))
    np.testing.assert_allclose(both, (P + mirrored) / 2, rtol=1e-5, atol=1e-7)
    assert main(["evaluate", str(path), "--data", "sample", "--shifts", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    whole = Ensemble([network], shifts=True).predict(sample.test.X)
    assert result["shifts"] and not result["mirror"]
    assert result["accuracy"] == pytest.approx(np.mean(whole == sample.test.y))
    out = tmp_path / "submission.csv"
    assert main(["predict", str(path), "--data", "sample", "--shifts", "--out", str(out)]) == 0
    assert [int(line.split(",")[1]) for line in out.read_text().splitlines()[1:]] == whole.tolist()


def test_mirror_reading_of_inputs_that_are_not_pictures_is_refused(tmp_path, capsys):
    with pytest.raises(ConfigError, match="mirroring reads 28x28 pictures, but the networks take 64 inputs"):
        Ensemble([Network([64, 5, 10])], mirror=True)
    other = tmp_path / "small.safetensors"
    save_model(Network([64, 5, 10]), other)
    assert main(["evaluate", str(other), "--data", "sample", "--mirror"]) == 4
    error = capsys.readouterr().err.strip()
    assert "mirroring reads 28x28 pictures" in error and "\n" not in error
    with pytest.raises(ConfigError, match="shifting reads 28x28 pictures, but the networks take 64 inputs"):
        Ensemble([Network([64, 5, 10])], shifts=True)


def test_an_ensemble_of_models_of_different_data_is_refused(cnn_run, tmp_path, capsys):
    other = tmp_path / "twelve.safetensors"
    save_model(Network([784, 5, 12]), other)
    assert main(["evaluate", str(cnn_run / "model.safetensors"), str(other), "--data", "sample"]) == 4
    error = capsys.readouterr().err.strip()
    assert "the networks disagree on (inputs, classes): [(784, 10), (784, 12)]" in error and "\n" not in error


def test_the_drawing_page_shows_a_conv_nets_feature_maps(cnn_run, tmp_path, sample):
    from fastapi.testclient import TestClient

    from digitnet.web import serve

    app = serve.create_app(cnn_run / "model.safetensors", tmp_path / "corrections.csv")
    with TestClient(app) as client:
        response = client.post("/api/predict", json={"pixels": sample.test.X[0].reshape(28, 28).tolist()})
    assert response.status_code == 200
    body = response.json()
    assert [block["size"] for block in body["maps"]] == [[28, 28, 8], [12, 12, 8]]
    assert np.array(body["maps"][0]["channels"]).shape == (serve.MAP_CHANNELS, 28, 28)
    assert [len(A) for A in body["hidden"]] == [32] and body["strongest"] == []


def test_concurrent_readings_give_the_same_answers_as_one_at_a_time(cnn_run, sample):
    network, _ = load_model(cnn_run / "model.safetensors")
    digits = sample.test.X[:48]
    alone = [read(network, d).probabilities for d in digits]
    together = [None] * len(digits)

    def reader(i):
        for j in range(i, len(digits), 8):
            together[j] = read(network, digits[j]).probabilities

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.array_equal(a, b) for a, b in zip(alone, together, strict=True))


def test_a_conv_run_stopped_and_resumed_ends_with_the_same_weights(sample, tmp_path):
    network, _, _ = experiment.run(CONFIG, sample)
    stop, steps = threading.Event(), []

    def on_step(step, steps_per_epoch):
        steps.append(step)
        if len(steps) == 37:  # mid-way through the second epoch of 25 steps
            stop.set()

    experiment.run(CONFIG, sample, tmp_path, on_step=on_step, stop=stop)
    resumed, summary, _ = experiment.run(CONFIG, sample, tmp_path, resume=load_checkpoint(tmp_path / CHECKPOINT_FILE))
    assert summary["stopped"] == "finished"
    expected = network.state_dict()
    assert resumed.state_dict().keys() == expected.keys()
    assert all(np.array_equal(v, expected[k]) for k, v in resumed.state_dict().items())  # running statistics too


def test_precise_bn_sets_each_batch_norms_statistics_to_its_inputs_over_all_the_examples(sample):
    network = Network("conv3x3x4-bn-pool-conv3x3x4:valid-bn-pool-10", seed=1)
    for _, layer in network.named_layers()[1::2]:  # stale statistics, far from the data's
        layer.running_mean[...], layer.running_var[...] = 5.0, 9.0
    X = sample.train.X[:300]
    network.recalibrate_batch_norm(X, batch_size=7)  # in batches, one of them short
    A = network.inputs(X).reshape(len(X), 28, 28, 1)
    for layer in network.layers:  # each statistic must be the one of its input as inference computes it
        if isinstance(layer, BatchNorm):
            values = A.reshape(-1, A.shape[-1]).astype(np.float64)
            assert np.allclose(layer.running_mean, values.mean(axis=0), rtol=1e-5, atol=1e-6)
            assert np.allclose(layer.running_var, values.var(axis=0, ddof=1), rtol=1e-4, atol=1e-6)
        A = layer.forward(A)
    with pytest.raises(ConfigError, match="at least one example"):
        network.recalibrate_batch_norm(X[:0])


def test_a_precise_bn_run_trains_the_same_weights_and_measures_the_statistics_on_its_training_digits(sample):
    plain, plain_summary, _ = experiment.run(CONFIG, sample)
    plain_dev = plain_summary["dev_accuracy"]
    precise, summary, trainer = experiment.run(CONFIG.replace(precise_bn=True), sample)
    bn = [name for name, layer in plain.named_layers() if name.startswith("bn")]
    weights = {k: v for k, v in plain.state_dict().items() if not k.startswith(tuple(bn))}
    assert all(np.array_equal(v, precise.state_dict()[k]) for k, v in weights.items())
    assert not np.allclose(plain.named_layers()[1][1].running_var, precise.named_layers()[1][1].running_var)
    train, dev = experiment.run_dev_split(sample.train.X, sample.train.y, CONFIG.dev_size, CONFIG.seed)
    plain.recalibrate_batch_norm(train.X)  # undistorted: the distortions are for the steps only
    assert all(np.allclose(v, precise.state_dict()[k]) for k, v in plain.state_dict().items())
    assert summary["dev_accuracy"] == precise.evaluate(dev.X, dev.y)[1]  # the summary reads the recalibrated network
    assert trainer.history[-1].dev_accuracy == plain_dev  # the last epoch's record, before it


def test_swa_measures_batch_norms_statistics_for_the_averaged_weights(sample):
    after = []  # each epoch's weights and statistics as it ends
    network, summary, _ = experiment.run(
        CONFIG.replace(swa_epochs=2), sample, on_epoch=lambda trainer: after.append(trainer.network.state_dict())
    )
    mean = Network(SPEC, seed=CONFIG.seed)
    mean.load_state_dict({k: np.mean([epoch[k] for epoch in after[-2:]], axis=0) for k in after[-1]})
    train, dev = experiment.run_dev_split(sample.train.X, sample.train.y, CONFIG.dev_size, CONFIG.seed)
    mean.recalibrate_batch_norm(train.X)  # the averaged weights' own statistics, on the undistorted digits
    assert all(np.allclose(v, mean.state_dict()[k], rtol=1e-5, atol=1e-6) for k, v in network.state_dict().items())
    assert not np.allclose(network.named_layers()[1][1].running_var, after[-1]["bn0.running_var"])
    assert summary["dev_accuracy"] == network.evaluate(dev.X, dev.y)[1]


def test_precise_bn_without_a_batch_norm_layer_is_refused(capsys):
    with pytest.raises(ConfigError, match="no bn layer"):
        TrainConfig(sizes=(784, 10, 10), precise_bn=True)
    assert main(["train", "--data", "sample", "--sizes", "784,10,10", "--precise-bn", "--quiet"]) != 0
    error = capsys.readouterr().err.strip()
    assert "precise_bn" in error and "\n" not in error


def test_a_model_file_of_digitnet_0_1_still_loads(tmp_path):
    net = Network([784, 16, 10], seed=1)
    metadata = {  # exactly what 0.1 wrote: format version 1, sizes all widths
        "format": "digitnet-model", "format_version": "1", "sizes": "[784, 16, 10]", "dropout": "0.0",
        "activation": "relu", "output": "softmax", "preprocessing": "{}", "classes": json.dumps(list("0123456789")),
        "summary": "{}",
    }  # fmt: skip
    save_file(net.state_dict(), str(tmp_path / "old.safetensors"), metadata=metadata)
    loaded, meta = load_model(tmp_path / "old.safetensors")
    assert meta["format_version"] == 1 and loaded.sizes == (784, 16, 10)
    X = np.random.default_rng(0).integers(0, 256, (5, 784), dtype=np.uint8)
    assert np.array_equal(loaded.predict_proba(X), net.predict_proba(X))


def test_a_conv_net_predicts_in_batches_small_enough_for_its_patches():
    # The cnn preset's second convolution makes 76,800 patch values for each digit: in 1,000 rows at once, 307 MB.
    network = Network(PRESETS["cnn"].sizes, seed=0)
    X = np.random.default_rng(0).integers(0, 256, (1000, 784), dtype=np.uint8)
    tracemalloc.start()
    P = network.predict_proba(X)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 64 * 2**20  # the batches are bounded at 16 MB of patches
    assert network.inference_rows < 1000 and Network([784, 800, 10]).inference_rows == 4096  # dense: as before
    np.testing.assert_allclose(P, network.predict_proba(X, batch_size=1000), rtol=1e-4, atol=1e-6)
    with pytest.raises(ConfigError, match="batch_size 0 must be at least 1"):
        network.predict(X, batch_size=0)
