"""Web export: the drawing page as a folder of static files that runs the network in the browser.

    DIR/index.html     the page `digitnet serve` serves, with one tag added: <meta name="digitnet-model">
    DIR/static/        app.js, offline.js and style.css, the very files the server serves
    DIR/model.json     the layers, the class names and the run's summary; where each array lies in model.bin
    DIR/model.bin      every weight, float32 little-endian, each array row by row (W is (n_in, n_out))

Any static file host serves it (``python -m http.server`` in DIR will do), and the page loads nothing from anywhere
else. The page finds the tag, loads the weights and does in JavaScript what the server does in Python
(``static/offline.js``): the MNIST-style preparation of the drawing, step by step, and the forward pass.

Why a forward pass written by hand rather than onnxruntime-web: each layer is a short loop that a reader can
follow beside ``layers.py`` (about 120 lines in all, convolutions and batch norm included), and one digit is a
small job for any of them. onnxruntime-web would add about 10 MB of WebAssembly to every export, and npm at export
time, to run the same few operations.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..layers import BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU
from ..network import PIXEL_SCALE, Network

STATIC = Path(__file__).resolve().parent / "static"
PAGE_FILES = ("app.js", "offline.js", "style.css")
FORMAT = "digitnet-web"
MODEL_TAG = '<meta name="digitnet-model" content="model.json">'


def bundle(network: Network) -> tuple[list[dict[str, Any]], np.ndarray]:
    """The layers as model.json lists them, and every weight in one float32 array (what model.bin holds)."""
    layers, arrays, offset = [], [], 0

    def place(array: np.ndarray) -> list[int]:
        nonlocal offset
        flat = np.ascontiguousarray(array, dtype="<f4").ravel()  # row by row
        arrays.append(flat)
        offset += flat.size
        return [offset - flat.size, flat.size]  # [first float, how many]

    for layer in network.layers:
        if isinstance(layer, Dense):
            n_in, n_out = layer.W.shape
            layers.append({"type": "dense", "n_in": n_in, "n_out": n_out, "W": place(layer.W), "b": place(layer.b)})
        elif isinstance(layer, Conv2D):
            k, _, c_in, c_out = layer.W.shape  # (k, k, c_in, c_out), channels-last like the page's images
            entry = {"type": "conv", "k": k, "pad": layer.pad, "c_in": c_in, "c_out": c_out}
            layers.append(entry | {"W": place(layer.W), "b": place(layer.b)})
        elif isinstance(layer, BatchNorm):
            statistics = ("gamma", "beta", "running_mean", "running_var")
            layers.append({"type": "bn", "eps": layer.eps} | {key: place(getattr(layer, key)) for key in statistics})
        elif isinstance(layer, MaxPool2D | Flatten | ReLU):
            layers.append({"type": {MaxPool2D: "pool", Flatten: "flatten", ReLU: "relu"}[type(layer)]})
        elif isinstance(layer, Dropout):
            continue  # the identity at inference
        else:
            raise ConfigError(f"the web page cannot run a {type(layer).__name__} layer yet")
    return layers, np.concatenate(arrays) if arrays else np.empty(0, "<f4")


def save_web(network: Network, out_dir: str | os.PathLike, meta: dict[str, Any]) -> Path:
    """Write the page and the model into ``out_dir`` (new, empty, or an earlier web export, which is replaced)."""
    if network.n_inputs != 784 or network.n_classes != 10:
        raise ConfigError(
            f"the drawing page needs a model of 28x28 digits (784 inputs, 10 classes), not {list(network.sizes)}"
        )
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not _is_web_export(out))):
        raise ConfigError(f"{out} exists and is not an earlier web export; choose a new or empty folder with --out")
    layers, weights = bundle(network)
    summary = meta.get("summary") or {}
    model = {
        "format": FORMAT,
        "version": 1,
        "input_scale": PIXEL_SCALE,  # pixels 0-255 -> inputs in [0, 1]
        "input_shape": list(network.input_shape),  # (784,), or (28, 28, 1) when each row is read as an image
        "weights": "model.bin",
        "layers": layers,
        "classes": list(meta.get("classes", [str(d) for d in range(10)])),
        "info": {
            "sizes": list(network.sizes),
            "test_accuracy": summary.get("test_accuracy"),
            "data": summary.get("data"),
        },
    }
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    page = page.replace('<meta charset="utf-8">\n', f'<meta charset="utf-8">\n  {MODEL_TAG}\n', 1)

    # Build the folder beside its target and move it into place whole: a failure leaves nothing half-written.
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial"))
    except OSError as error:
        raise ConfigError(f"cannot write {out} ({error.strerror or error}); choose another folder with --out") from None
    try:
        (building / "static").mkdir()
        for name in PAGE_FILES:
            shutil.copyfile(STATIC / name, building / "static" / name)
        (building / "index.html").write_text(page, encoding="utf-8")
        (building / "model.json").write_text(json.dumps(model) + "\n", encoding="utf-8")
        (building / "model.bin").write_bytes(weights.tobytes())
        os.chmod(building, 0o755)  # mkdtemp makes it private; a web server must read it
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".old"))
            os.replace(out, old / "previous")
        os.replace(building, out)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return out


def _is_web_export(folder: Path) -> bool:
    try:
        return json.loads((folder / "model.json").read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False
