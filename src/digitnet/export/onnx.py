"""ONNX export: the network as a standard graph that any ONNX runtime can run.

The graph takes ``input``, float32 (n, 784) with each pixel already scaled to [0, 1] (``pixel / 255``, as
``network.pixels_to_inputs`` does), and gives ``probabilities``, float32 (n, classes), each row summing to 1, and
``logits`` before the softmax. Taking floats keeps the graph to the network's own math: the runtime that calls it
divides by 255, exactly as digitnet's own ``predict_proba`` does for uint8 pixels.

Each layer becomes the ONNX operator that computes the same thing:

    Dense      Z = X @ W + b        -> Gemm(X, W, b)       W stays (n_in, n_out): rows are examples here too
    ReLU       max(Z, 0)            -> Relu
    Dropout    identity at inference -> nothing
    Conv2D     correlation + b      -> Conv                W (k, k, c_in, c_out) -> (c_out, c_in, k, k)
    MaxPool2D  2x2, stride 2        -> MaxPool             odd sizes floored, as ONNX's default does
    BatchNorm  running statistics   -> BatchNormalization  inference form, the layer's own epsilon
    Flatten    (n, h, w, c) rows    -> Transpose + Flatten
    (end)      softmax over classes -> Softmax(axis=-1)

Layout: digitnet's images are channels-last, (n, h, w, c); ONNX's Conv, MaxPool and BatchNormalization work on
channels-first, (n, c, h, w). So the input rows are reshaped to (n, h, w, c) and transposed once to (n, c, h, w),
the image layers run channels-first, and a Transpose back to (n, h, w, c) comes before Flatten: the flattened row
then has digitnet's order (row by row, channel fastest), and the Dense weights after it stay as they are.

Versions: opset 17 and IR version 8. Every operator used exists unchanged since opset 13 or 15; 17 with IR 8 is
what onnxruntime 1.12 (2022) and every later release, onnxruntime-web included, read, while the newest IR versions
are refused by runtimes a year or two old.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..errors import ConfigError
from ..files import atomic_path
from ..layers import BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU
from ..network import PIXEL_SCALE, Network

OPSET = 17
IR_VERSION = 8
INPUT, OUTPUT, LOGITS = "input", "probabilities", "logits"
NHWC_TO_NCHW, NCHW_TO_NHWC = [0, 3, 1, 2], [0, 2, 3, 1]


def to_onnx(network: Network, metadata: dict[str, Any] | None = None):
    """The network as an ``onnx.ModelProto`` (checked with ``onnx.checker``); ``metadata`` goes into its properties.

    Weights are written as float32 whatever the network's dtype: every runtime runs float32, and a float64 network
    rounds to within 1e-7 of itself.
    """
    nodes, initializers = [], []
    current = INPUT  # the name of the tensor that the next node reads

    def constant(name: str, value: np.ndarray, dtype=np.float32) -> str:
        initializers.append(numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def add(op: str, inputs: list[str], name: str, **attributes) -> str:
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attributes))
        return name

    if len(network.input_shape) == 3:  # each row is an image: (n, 784) -> (n, h, w, c) -> (n, c, h, w)
        shape = constant("image_shape", [-1, *network.input_shape], np.int64)
        current = add("Reshape", [current, shape], "image")  # (n, h, w, c)
        current = add("Transpose", [current], "image.nchw", perm=NHWC_TO_NCHW)  # (n, c, h, w)
    for name, layer in _named(network):
        if isinstance(layer, Dense):
            W, b = constant(f"{name}.W", layer.W), constant(f"{name}.b", layer.b)
            current = add("Gemm", [current, W, b], name)  # Z = X @ W + b, (n, n_out)
        elif isinstance(layer, Conv2D):
            W = constant(f"{name}.W", layer.W.transpose(3, 2, 0, 1))  # (k, k, c_in, c_out) -> (c_out, c_in, k, k)
            b = constant(f"{name}.b", layer.b)
            k, pad = layer.k, layer.pad
            current = add("Conv", [current, W, b], name, kernel_shape=[k, k], pads=[pad] * 4, strides=[1, 1])
        elif isinstance(layer, BatchNorm):
            arrays = [constant(f"{name}.{key}", getattr(layer, key)) for key in ("gamma", "beta")]
            arrays += [constant(f"{name}.{key}", getattr(layer, key)) for key in ("running_mean", "running_var")]
            current = add("BatchNormalization", [current, *arrays], name, epsilon=float(layer.eps))
        elif isinstance(layer, MaxPool2D):
            current = add("MaxPool", [current], f"{current}.pool", kernel_shape=[2, 2], strides=[2, 2])
        elif isinstance(layer, Flatten):
            current = add("Transpose", [current], f"{current}.nhwc", perm=NCHW_TO_NHWC)  # back to (n, h, w, c)
            current = add("Flatten", [current], f"{current}.flat", axis=1)  # (n, h * w * c), digitnet's order
        elif isinstance(layer, ReLU):
            current = add("Relu", [current], f"{current}.relu")
        elif isinstance(layer, Dropout):
            continue  # the identity at inference
        else:
            raise ConfigError(f"cannot export a {type(layer).__name__} layer to ONNX yet")
    logits = add("Identity", [current], LOGITS)
    add("Softmax", [logits], OUTPUT, axis=-1)

    n_inputs, n_classes = network.n_inputs, network.n_classes
    graph = helper.make_graph(
        nodes,
        "digitnet",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["n", n_inputs])],
        [
            helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["n", n_classes]),
            helper.make_tensor_value_info(LOGITS, TensorProto.FLOAT, ["n", n_classes]),
        ],
        initializer=initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="digitnet",
        doc_string=f"{INPUT}: float32 (n, {n_inputs}), pixels 0-255 scaled by {PIXEL_SCALE!r} to [0, 1]",
    )
    model.ir_version = IR_VERSION
    properties = {"input_scale": repr(PIXEL_SCALE), "sizes": json.dumps(list(network.sizes))}
    for key, value in (metadata or {}).items():
        properties[key] = value if isinstance(value, str) else json.dumps(value)
    helper.set_model_props(model, properties)
    onnx.checker.check_model(model, full_check=True)
    return model


def _named(network: Network):
    """Every layer with the name its weights have in model files (dense0, conv1, bn0...); None for the others."""
    names = {id(layer): name for name, layer in network.named_layers()}
    return [(names.get(id(layer)), layer) for layer in network.layers]


def save_onnx(network: Network, path: str | os.PathLike, metadata: dict[str, Any] | None = None) -> Path:
    """Write the network's ONNX graph to ``path`` (atomically); returns the path."""
    model = to_onnx(network, metadata)
    path = Path(path)
    with atomic_path(path) as tmp:
        onnx.save_model(model, str(tmp))
    return path
