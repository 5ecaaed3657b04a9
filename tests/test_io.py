"""Model files: what is saved comes back, and anything else is refused without running a byte of it."""

import json
import pickle
import struct

import numpy as np
import pytest
from safetensors.numpy import save_file

from digitnet import Network, TrainConfig, experiment
from digitnet.data import FASHION_CLASSES, Dataset, load
from digitnet.errors import ModelFileError
from digitnet.io import FORMAT_VERSION, load_model, read_metadata, save_model


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "model.safetensors"
    save_model(Network([784, 16, 10], seed=3), path, {"test_accuracy": 0.5})
    return path


def raw_metadata(path) -> dict:
    header_length = struct.unpack("<Q", path.read_bytes()[:8])[0]
    return json.loads(path.read_bytes()[8 : 8 + header_length])["__metadata__"]


def test_round_trip_keeps_weights_and_metadata(model_file):
    network, meta = load_model(model_file)
    original = Network([784, 16, 10], seed=3)
    for name, array in original.state_dict().items():
        assert np.array_equal(network.state_dict()[name], array)
    assert meta["sizes"] == [784, 16, 10]
    assert meta["classes"] == [str(d) for d in range(10)]
    assert meta["preprocessing"]["scale"] == pytest.approx(1 / 255)
    assert meta["summary"] == {"test_accuracy": 0.5}
    assert raw_metadata(model_file)["format"] == "digitnet-model"


def rewrite(path, tensors=None, **metadata_changes):
    """Write a model file like ``path`` with some tensors or metadata changed."""
    network, _ = load_model(path)
    meta = {**raw_metadata(path), **metadata_changes}
    save_file(tensors if tensors is not None else network.state_dict(), str(path), metadata=meta)


class Boom:
    """Unpickling this would create a file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_dropout_is_recorded_and_comes_back(tmp_path):
    path = tmp_path / "model.safetensors"
    trained = Network([784, 16, 10], seed=3, dropout=0.25)
    save_model(trained, path)
    network, meta = load_model(path)
    assert meta["dropout"] == 0.25
    assert network.dropout == 0.25
    X = np.random.default_rng(0).random((5, 784))
    assert np.array_equal(network.predict_proba(X), trained.predict_proba(X))  # dropout is off at inference


def test_a_hostile_pickle_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.safetensors"
    path.write_bytes(pickle.dumps(Boom(marker)))
    with pytest.raises(ModelFileError, match="is not a readable safetensors model file"):
        load_model(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda p: p.write_bytes(p.read_bytes()[:-100]), "could not be read|not a readable"),
        (lambda p: p.write_bytes(p.read_bytes()[:20]), "not a readable safetensors model file"),
        (lambda p: p.write_bytes(b""), "not a readable safetensors model file"),
        (lambda p: rewrite(p, format_version=str(FORMAT_VERSION + 1)), "newer than this digitnet reads"),
        (lambda p: rewrite(p, format="something-else"), "not a digitnet model"),
        (lambda p: rewrite(p, sizes="[784, 16"), "damaged metadata"),
        (lambda p: rewrite(p, sizes="[784, 0, 10]"), "impossible architecture"),
        (lambda p: rewrite(p, sizes="[784, 17, 10]"), r"dense0.W is float32\[784, 16\], expected float32\[784, 17\]"),
        (
            lambda p: rewrite(p, {"dense0.W": np.zeros((784, 16), np.float32), "dense0.b": np.zeros(16, np.float32)}),
            r"missing tensors \['dense1.W', 'dense1.b'\]",
        ),
        (
            lambda p: rewrite(p, {**load_model(p)[0].state_dict(), "extra": np.zeros(1, np.float32)}),
            r"extra tensors \['extra'\]",
        ),
        (
            lambda p: rewrite(p, {**load_model(p)[0].state_dict(), "dense1.b": np.full(10, np.nan, np.float32)}),
            "NaN or infinite",
        ),
        (
            lambda p: rewrite(p, {**load_model(p)[0].state_dict(), "dense1.b": np.zeros(10, np.int32)}),
            "dense1.b is int32",
        ),
    ],
    ids=[
        "truncated",
        "cut-header",
        "empty",
        "newer",
        "not-digitnet",
        "bad-json",
        "bad-sizes",
        "wrong-shape",
        "missing",
        "extra",
        "nan",
        "dtype",
    ],
)
def test_damaged_files_are_refused(model_file, damage, message):
    damage(model_file)
    with pytest.raises(ModelFileError, match=message):
        load_model(model_file)


def test_missing_file_says_how_to_get_one(tmp_path):
    with pytest.raises(ModelFileError, match=r"no model file at .*train one with `digitnet train --out DIR`"):
        load_model(tmp_path / "nothing.safetensors")


def test_a_run_names_the_classes_of_its_dataset(tmp_path):
    # Fashion-MNIST's labels are clothes: experiment.run writes the dataset's own class names into the model file.
    sample = load("sample")
    clothes = Dataset("fashion-like", sample.train, sample.test, FASHION_CLASSES)
    config = TrainConfig(sizes=(784, 8, 10), epochs=1, dev_size=500)
    experiment.run(config, clothes, tmp_path / "clothes")
    experiment.run(config, sample, tmp_path / "digits")
    assert read_metadata(tmp_path / "clothes" / "model.safetensors")["classes"] == list(FASHION_CLASSES)
    assert read_metadata(tmp_path / "digits" / "model.safetensors")["classes"] == [str(d) for d in range(10)]
