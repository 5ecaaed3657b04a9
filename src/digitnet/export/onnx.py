"""ONNX export: the network as a standard graph that any ONNX runtime can run.

The graph takes ``input``, float32 (n, 784) with each pixel already scaled to [0, 1] (``pixel / 255``, as
``network.pixels_to_inputs`` does), and gives ``probabilities``, float32 (n, classes), each row summing to 1, and
``logits`` before the softmax. Taking floats keeps the graph to the network's own math: the runtime that calls it
divides by 255, exactly as digitnet's own ``predict_proba`` does for uint8 pixels.

Each layer becomes the ONNX operator that computes the same thing:

    Dense    Z = X @ W + b     -> Gemm(X, W, b)            W stays (n_in, n_out): rows are examples here too
    ReLU     max(Z, 0)         -> Relu
    Dropout  identity at inference -> nothing
    (end)    softmax over classes -> Softmax(axis=-1)

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
from ..layers import Dense, Dropout, ReLU
from ..network import PIXEL_SCALE, Network

OPSET = 17
IR_VERSION = 8
INPUT, OUTPUT, LOGITS = "input", "probabilities", "logits"


def to_onnx(network: Network, metadata: dict[str, Any] | None = None):
    """The network as an ``onnx.ModelProto`` (checked with ``onnx.checker``); ``metadata`` goes into its properties.

    Weights are written as float32 whatever the network's dtype: every runtime runs float32, and a float64 network
    rounds to within 1e-7 of itself.
    """
    nodes, initializers = [], []
    current = INPUT  # the name of the tensor that the next node reads

    def constant(name: str, value: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(np.asarray(value, np.float32), name))
        return name

    def add(op: str, inputs: list[str], name: str, **attributes) -> str:
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attributes))
        return name

    dense = 0
    for layer in network.layers:
        if isinstance(layer, Dense):
            W, b = constant(f"dense{dense}.W", layer.W), constant(f"dense{dense}.b", layer.b)
            current = add("Gemm", [current, W, b], f"dense{dense}")  # Z = X @ W + b, (n, n_out)
            dense += 1
        elif isinstance(layer, ReLU):
            current = add("Relu", [current], f"{current}.relu")
        elif isinstance(layer, Dropout):
            continue  # the identity at inference
        else:
            raise ConfigError(f"cannot export a {type(layer).__name__} layer to ONNX yet; export an MLP")
    logits = add("Identity", [current], LOGITS)
    add("Softmax", [logits], OUTPUT, axis=-1)

    n_inputs, n_classes = network.sizes[0], network.sizes[-1]
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


def save_onnx(network: Network, path: str | os.PathLike, metadata: dict[str, Any] | None = None) -> Path:
    """Write the network's ONNX graph to ``path`` (atomically); returns the path."""
    model = to_onnx(network, metadata)
    path = Path(path)
    with atomic_path(path) as tmp:
        onnx.save_model(model, str(tmp))
    return path
