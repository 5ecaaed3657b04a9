"""ONNX export, checked by the standard's own tools: onnx.checker reads the file and onnxruntime runs it."""

import json

import numpy as np
import onnx
import onnxruntime as ort

from digitnet import experiment
from digitnet.cli import main
from digitnet.config import TrainConfig
from digitnet.data import load
from digitnet.export.onnx import IR_VERSION, OPSET, save_onnx
from digitnet.io import load_model
from digitnet.layers import BatchNorm
from digitnet.network import Network, pixels_to_inputs


def run_onnx(path, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, logits) from onnxruntime, for uint8 pixels scaled as the graph's input says."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    probabilities, logits = session.run(["probabilities", "logits"], {"input": pixels_to_inputs(pixels)})
    return probabilities, logits


def test_exported_model_gives_digitnets_predictions_in_onnxruntime(trained_run, tmp_path):
    model = trained_run / "model.safetensors"
    out = tmp_path / "model.onnx"
    assert main(["export", str(model), "--format", "onnx", "--out", str(out)]) == 0
    onnx.checker.check_model(str(out), full_check=True)
    graph = onnx.load(str(out))
    assert graph.ir_version == IR_VERSION and [o.version for o in graph.opset_import] == [OPSET]
    assert [n.op_type for n in graph.graph.node] == ["Gemm", "Relu", "Gemm", "Identity", "Softmax"]
    assert json.loads(dict((p.key, p.value) for p in graph.metadata_props)["classes"]) == [str(d) for d in range(10)]

    network, _ = load_model(model)
    test = load("sample").test
    probabilities, logits = run_onnx(out, test.X)
    assert probabilities.shape == (1000, 10)
    np.testing.assert_array_equal(probabilities.argmax(axis=1), network.predict(test.X))
    np.testing.assert_allclose(probabilities, network.predict_proba(test.X), rtol=0, atol=1e-5)
    np.testing.assert_allclose(logits, network.logits(test.X), rtol=1e-5, atol=1e-4)


def test_dropout_is_left_out_and_deeper_networks_export(tmp_path):
    # Untrained weights are as good a test of the arithmetic as trained ones; dropout must vanish from the graph.
    network = Network([784, 32, 16, 10], seed=3, dropout=0.3)
    pixels = np.random.default_rng(0).integers(0, 256, (50, 784), dtype=np.uint8)
    path = save_onnx(network, tmp_path / "deep.onnx")
    assert [n.op_type for n in onnx.load(str(path)).graph.node] == [
        "Gemm", "Relu", "Gemm", "Relu", "Gemm", "Identity", "Softmax"
    ]  # fmt: skip
    probabilities, _ = run_onnx(path, pixels)
    np.testing.assert_allclose(probabilities, network.predict_proba(pixels), rtol=0, atol=1e-5)


def test_a_float64_network_exports_as_float32(tmp_path):
    network = Network([784, 8, 10], seed=1, dtype=np.float64)
    pixels = np.random.default_rng(1).integers(0, 256, (20, 784), dtype=np.uint8)
    probabilities, _ = run_onnx(save_onnx(network, tmp_path / "f64.onnx"), pixels)
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities, network.predict_proba(pixels), rtol=0, atol=1e-5)


def test_export_refuses_a_missing_model_and_an_unwritable_path(trained_run, tmp_path, capsys):
    assert main(["export", str(tmp_path / "none.safetensors"), "--format", "onnx", "--out", "x.onnx"]) == 4
    assert "no model file" in capsys.readouterr().err
    out = tmp_path / "no-such-folder" / "model.onnx"
    assert main(["export", str(trained_run / "model.safetensors"), "--format", "onnx", "--out", str(out)]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert not out.parent.exists()


def test_a_convolutional_network_gives_digitnets_predictions_in_onnxruntime(tmp_path):
    # Trained briefly so that batch norm's running statistics are real ones; both paddings, pooling of an odd size.
    config = TrainConfig(sizes="conv3x3x4-bn-pool-conv3x3x6:valid-bn-pool-24-10", epochs=1, dev_size=500, batch_size=64)
    network, _, _ = experiment.run(config, load("sample"))
    path = save_onnx(network, tmp_path / "cnn.onnx")
    onnx.checker.check_model(str(path), full_check=True)
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert ops[:3] == ["Reshape", "Transpose", "Conv"] and ops.count("BatchNormalization") == 2
    assert ops.count("MaxPool") == 2 and ops[ops.index("Flatten") - 1] == "Transpose"
    test = load("sample").test
    probabilities, _ = run_onnx(path, test.X)
    np.testing.assert_array_equal(probabilities.argmax(axis=1), network.predict(test.X))
    np.testing.assert_allclose(probabilities, network.predict_proba(test.X), rtol=0, atol=1e-5)


def test_batch_norm_after_a_dense_layer_and_channels_laid_out_for_flatten(tmp_path):
    # Random statistics, so that a mix-up of mean, variance, scale or shift, or of the channel order, shows.
    network = Network("conv5x5x3-bn-pool-12-bn-10", seed=2)
    rng = np.random.default_rng(3)
    for _, layer in network.named_layers():
        if isinstance(layer, BatchNorm):
            for array in (layer.gamma, layer.beta, layer.running_mean):
                array[...] = rng.normal(0, 0.5, array.shape)
            layer.running_var[...] = rng.uniform(0.5, 2, layer.running_var.shape)
    pixels = rng.integers(0, 256, (30, 784), dtype=np.uint8)
    probabilities, _ = run_onnx(save_onnx(network, tmp_path / "bn.onnx"), pixels)
    np.testing.assert_allclose(probabilities, network.predict_proba(pixels), rtol=0, atol=1e-5)
