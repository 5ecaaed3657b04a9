"""The `cnn` preset's network in digitnet and in PyTorch, side by side in one run, on real MNIST digits.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/cnn_speed.py           # about 4 minutes
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/cnn_speed.py --quick   # about a minute

Both sides train the same network from the same initial weights on the same batches, in turns (A B A B ...,
medians), at the preset's batch size, with the preset's optimiser (Nesterov momentum, weight decay on the weights
only), dropout and label smoothing, digitnet as the preset trains (``data_parallel``: two copies of the network,
each taking half of every batch on its own thread with a one-thread BLAS), and without the preset's augmentation
(the distortions are digitnet's own NumPy code and cost the same whichever library trains; ``augment_speed.py``
times them). PyTorch runs its own layout, channels first, as its users write it (``nn.Conv2d``,
``nn.BatchNorm2d``, ``nn.MaxPool2d``, ``nn.CrossEntropyLoss``, ``torch.optim.SGD``).

It reports training examples/s, inference examples/s on the 10,000 test digits, GFLOP/s as a share of the float32
matrix-multiply peak measured in the same run, the peak resident memory of a ``cnn`` run in a fresh process (MNIST
loaded, 200 steps, the test set evaluated as a run ends), and a profile of a digitnet copy's step by layer beside
the time of its matrix products alone; and adds them, dated, to ``benchmarks/RESULTS.md`` (``--no-write`` to skip
that).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))  # measure the digitnet next to this file, not an installed one

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import speed  # noqa: E402
from digitnet import PRESETS, Network, Trainer, data, spec  # noqa: E402
from digitnet.layers import Conv2D, Dense  # noqa: E402
from digitnet.network import pixels_to_inputs  # noqa: E402
from speed import clock, interleave, machine_info, matmul_peak, median, spread  # noqa: E402

CONFIG = PRESETS["cnn"].replace(rotate=0.0, scale=0.0, shift=0.0, epochs=1)  # the network and its optimiser
MARK = "<!-- cnn-speed: new sections go below this line -->"


def flop_per_example(network: Network) -> tuple[int, int]:
    """(training, inference) FLOP of one example: 2 per multiply-add of every product; training does each layer's
    forward product, its dW product, and its dX product except in the first layer."""
    forward = backward = 0
    products = [p for p in spec.plan(network.sizes)[1] if p.kind in ("dense", "conv")]
    for i, plan in enumerate(products):
        if plan.kind == "dense":
            macs = plan.shape_in[0] * plan.units
        else:
            h, w, c_out = plan.shape_out
            macs = h * w * plan.kernel**2 * plan.shape_in[2] * c_out
        forward += 2 * macs
        backward += 2 * macs * (1 if i == 0 else 2)  # dW, and dX but in the first layer
    return forward + backward, forward


# ------------------------------------------------------------------------------------------------ the twin
def torch_twin(network: Network):
    """The same network in PyTorch, channels first, with the very same weights."""
    import torch
    from torch import nn

    modules = []
    layers = network.layers
    for i, layer in enumerate(layers):
        kind = type(layer).__name__
        if kind == "Conv2D":
            k, _, c_in, c_out = layer.W.shape
            conv = nn.Conv2d(c_in, c_out, k, padding=layer.pad)
            with torch.no_grad():
                conv.weight.copy_(torch.from_numpy(layer.W.transpose(3, 2, 0, 1).copy()))  # (c_out, c_in, k, k)
                conv.bias.copy_(torch.from_numpy(layer.b))
            modules.append(conv)
        elif kind == "BatchNorm":
            twin = nn.BatchNorm2d if isinstance(layers[i - 1], Conv2D) else nn.BatchNorm1d
            modules.append(twin(len(layer.gamma), eps=layer.eps, momentum=1 - layer.momentum))
        elif kind == "ReLU":
            modules.append(nn.ReLU())
        elif kind == "MaxPool2D":
            modules.append(nn.MaxPool2d(2))
        elif kind == "Flatten":
            modules.append(nn.Flatten())
        elif kind == "Dropout":
            modules.append(nn.Dropout(layer.rate))
        elif kind == "Dense":
            linear = nn.Linear(*layer.W.shape)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(layer.W.T.copy()))  # PyTorch keeps W as (n_out, n_in)
                linear.bias.copy_(torch.from_numpy(layer.b))
            modules.append(linear)
    model = nn.Sequential(*modules)
    _reorder_after_flatten(model, network)
    return model


def _reorder_after_flatten(model, network: Network) -> None:
    """digitnet flattens (h, w, c), PyTorch (c, h, w): permute the inputs of the dense layer after the flatten."""
    import torch

    _, plans = spec.plan(network.sizes)
    flatten = next(p for p in plans if p.kind == "flatten")
    h, w, c = flatten.shape_in
    linear = next(m for m in model if isinstance(m, torch.nn.Linear))
    with torch.no_grad():
        W = linear.weight.numpy()  # (n_out, h * w * c), columns in digitnet's order
        linear.weight.copy_(torch.from_numpy(W.reshape(-1, h, w, c).transpose(0, 3, 1, 2).reshape(len(W), -1).copy()))


class TorchRecipe:
    """PyTorch's side: the twin, SGD with the preset's settings, one epoch over the same batches per call."""

    def __init__(self, network: Network, X: np.ndarray, y: np.ndarray, seed: int):
        import torch

        self.torch = torch
        self.model = torch_twin(network)
        decayed = [p for m in self.model for name, p in m.named_parameters() if name == "weight" and p.dim() > 1]
        other = [p for p in self.model.parameters() if all(p is not q for q in decayed)]
        c = CONFIG
        self.optimizer = torch.optim.SGD(
            [{"params": decayed, "weight_decay": c.weight_decay}, {"params": other, "weight_decay": 0.0}],
            lr=c.learning_rate, momentum=c.momentum, nesterov=c.nesterov,
        )  # fmt: skip
        self.X = torch.from_numpy(X.reshape(-1, 1, 28, 28))  # (n, 1, 28, 28): PyTorch's channels-first images
        self.y = torch.from_numpy(y)
        self.loss = torch.nn.CrossEntropyLoss(label_smoothing=CONFIG.label_smoothing)
        self.rng = np.random.default_rng([seed, 1])

    def epoch(self) -> float:
        torch, n, b = self.torch, len(self.X), CONFIG.batch_size
        order = torch.from_numpy(self.rng.permutation(n))
        self.model.train()
        start = clock()
        for i in range(math.ceil(n / b)):
            rows = order[i * b : (i + 1) * b]
            X, y = self.X[rows], self.y[rows]
            Z = self.model(X)
            loss = self.loss(Z, y)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            _ = (loss.item(), int((Z.argmax(1) == y).sum()))  # the same bookkeeping as digitnet's Trainer
        return clock() - start

    def inference(self, X: np.ndarray) -> float:
        torch = self.torch
        self.model.eval()
        images = torch.from_numpy(X.reshape(-1, 1, 28, 28))
        start = clock()
        with torch.no_grad():
            for i in range(0, len(images), 4096):
                self.model(images[i : i + 4096]).softmax(1)
        return clock() - start


# ------------------------------------------------------------------------------------------- digitnet's side
def profile(network: Network, X: np.ndarray, y: np.ndarray, steps: int) -> tuple[list[tuple[str, float]], float]:
    """Median seconds of each layer's forward and backward in one copy's training step, as the preset trains it (its
    part of the batch, with a one-thread BLAS when there are several copies), and of the step's products alone."""
    with threadpool_limits(1 if CONFIG.data_parallel > 1 else None, user_api="blas"):
        return profile_steps(Trainer(network, CONFIG, X, y), X, y, steps)


def profile_steps(trainer: Trainer, X: np.ndarray, y: np.ndarray, steps: int) -> tuple[list[tuple[str, float]], float]:
    network = trainer.network
    b = CONFIG.batch_size // CONFIG.data_parallel
    rng = np.random.default_rng(0)
    parts: dict[str, list[float]] = {}
    products = []
    for _ in range(steps):
        rows = rng.choice(len(X), b, replace=False)
        A = trainer.inputs[rows].reshape(b, *network.input_shape)
        for i, layer in enumerate(network.layers):
            start = clock()
            A = layer.forward(A, training=True)
            parts.setdefault(f"{i} {describe(layer)} forward", []).append(clock() - start)
        start = clock()
        network.loss.forward(A, y[rows])
        dA = network.loss.backward()
        parts.setdefault("loss forward and backward", []).append(clock() - start)
        caches = [(getattr(layer, "cols", None), getattr(layer, "X", None)) for layer in network.layers]
        for i, layer in reversed(list(enumerate(network.layers))):
            start = clock()
            dA = layer.backward(dA)
            parts.setdefault(f"{i} {describe(layer)} backward", []).append(clock() - start)
        start = clock()
        trainer.optimizer.step()
        parts.setdefault("optimiser step", []).append(clock() - start)
        products.append(matrix_products(network, caches))
    return [(name, median(parts[name])) for name in parts], median(products)


def describe(layer) -> str:
    if isinstance(layer, Conv2D):
        k, _, c_in, c_out = layer.W.shape
        return f"Conv2D {k}×{k}, {c_in}→{c_out}"
    return speed.describe(layer)  # Dense and the rest, as the MLP benchmark names them


def matrix_products(network: Network, caches) -> float:
    """Seconds for the step's products alone, on arrays of the layers' own shapes: forward, dW, and dX but in the
    first layer (for a convolution: ``cols @ W``, ``cols.T @ dZ`` and ``dZ @ W.T``)."""
    arrays = []
    for layer, (cols, X) in zip(network.layers, caches, strict=True):
        if isinstance(layer, Conv2D | Dense):
            A = cols if isinstance(layer, Conv2D) else X
            W = layer.W.reshape(-1, layer.W.shape[-1])
            arrays.append((A, W, np.ones((len(A), W.shape[1]), A.dtype), layer.input_grad))
    start = clock()
    for A, W, dZ, input_grad in arrays:
        A @ W
        A.T @ dZ
        if input_grad:
            dZ @ W.T
    return clock() - start


def memory_run(threads: int) -> float:
    """Peak resident MB of a fresh process that loads MNIST, takes 200 steps of the cnn preset (augmentation on) and
    evaluates the 10,000 test digits, as a run ends."""
    code = (
        "import threading, json, sys; sys.path.insert(0, sys.argv[1]); from speed import peak_resident_mb; "
        "from digitnet import PRESETS, experiment; from digitnet.data import load; stop = threading.Event(); "
        "steps = []; on_step = lambda s, n: (steps.append(s), len(steps) >= 200 and stop.set()); "
        "mnist = load('mnist'); network, _, _ = experiment.run(PRESETS['cnn'], mnist, on_step=on_step, stop=stop); "
        "network.evaluate(mnist.test.X, mnist.test.y); "
        "print(json.dumps(peak_resident_mb()))"
    )
    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "src"), "OPENBLAS_NUM_THREADS": str(threads)}
    out = subprocess.run([sys.executable, "-c", code, str(HERE)], capture_output=True, text=True, env=env, check=True)
    return float(out.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------------- the run
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer digits and repeats: a smoke run")
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--no-write", action="store_true", help="print the report only")
    cores = len(os.sched_getaffinity(0))
    parser.add_argument("--threads", type=int, default=cores, help=f"threads for each library (default {cores})")
    args = parser.parse_args(argv)
    rows, rounds, steps = (4096, 2, 5) if args.quick else (16384, 3, 20)
    threadpool_limits(args.threads, user_api="blas")
    machine = machine_info(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    mnist = data.load("mnist")
    X, y = mnist.train.X[:rows], mnist.train.y[:rows]
    inputs = pixels_to_inputs(X)
    test = pixels_to_inputs(mnist.test.X)
    peak_start = max(matmul_peak(10))

    network = Network(CONFIG.sizes, seed=0, dropout=CONFIG.dropout)
    twin = TorchRecipe(network, inputs, y, seed=0)  # built from the initial weights, before digitnet trains
    twin.model.eval()
    with torch.no_grad():
        agree = float(np.abs(twin.model(torch.from_numpy(test[:256].reshape(-1, 1, 28, 28))).numpy()
                             - network.forward(test[:256])).max())  # fmt: skip
    trainer = Trainer(network, CONFIG, X, y)

    def digitnet_epoch() -> float:
        trainer.config = trainer.config.replace(epochs=trainer.epoch + 1)
        start = clock()
        trainer.run()
        return clock() - start

    def digitnet_inference() -> float:
        start = clock()
        network.predict_proba(test)
        return clock() - start

    train_seconds = interleave({"digitnet": digitnet_epoch, "PyTorch": twin.epoch}, rounds)
    infer_seconds = interleave({"digitnet": digitnet_inference, "PyTorch": lambda: twin.inference(test)}, rounds)
    parts, products = profile(Network(CONFIG.sizes, seed=1, dropout=CONFIG.dropout), X, y, steps)
    peak = max(peak_start, *matmul_peak(10))
    memory = memory_run(args.threads)
    load_after = os.getloadavg()[0]

    train_flop, infer_flop = flop_per_example(network)
    lines = [
        f"## {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC · the cnn preset's network · "
        f"{machine['cpu']} · {args.threads} threads · commit {machine['commit']}",
        "",
        f"`{spec.to_text(network.sizes)}`, batch {CONFIG.batch_size}, Nesterov momentum, weight decay, dropout "
        f"{CONFIG.dropout}, label smoothing {CONFIG.label_smoothing:g}, no augmentation, digitnet with data_parallel "
        f"{CONFIG.data_parallel}; {rows:,} MNIST digits per epoch, {rounds} epochs each in turns. "
        f"NumPy {machine['numpy']}, {machine['blas']} kernel {machine['blas_kernel']}, "
        f"{machine['blas_threads']} BLAS threads; PyTorch {torch.__version__} with {torch.get_num_threads()} threads. "
        f"Float32 matmul peak {peak:.0f} GFLOP/s (NumPy, 2048²). {train_flop / 1e6:.1f} MFLOP per training example, "
        f"{infer_flop / 1e6:.1f} per inference. Load average {load_before:.2f} before, {load_after:.2f} after. "
        f"At the start the two networks' logits agreed to {agree:.1e}. {machine['environment']}",
        "",
        "| | digitnet | PyTorch | digitnet / PyTorch |",
        "|---|---:|---:|---:|",
    ]
    measured = [
        ("training", train_seconds, rows, train_flop),
        ("inference, 10,000 test digits", infer_seconds, len(test), infer_flop),
    ]
    for name, seconds, count, flop in measured:
        rate = {side: count / median(s) for side, s in seconds.items()}
        lines.append(
            f"| {name}: examples/s (spread) | {rate['digitnet']:,.0f} ({spread(seconds['digitnet']):.0%}) | "
            f"{rate['PyTorch']:,.0f} ({spread(seconds['PyTorch']):.0%}) | {rate['digitnet'] / rate['PyTorch']:.2f}× |"
        )
        lines.append(
            f"| {name}: share of the matmul peak | {rate['digitnet'] * flop / 1e9 / peak:.0%} | "
            f"{rate['PyTorch'] * flop / 1e9 / peak:.0%} | |"
        )
    run = "MNIST loaded, 200 steps, the test set evaluated"
    lines.append(f"| peak resident memory of a `cnn` run ({run}) | {memory:,.0f} MB | | |")
    step = sum(seconds for _, seconds in parts)
    lines += [
        "",
        f"The step of one of the {CONFIG.data_parallel} data-parallel copies, as the preset trains it (the profile "
        f"below: {CONFIG.batch_size // CONFIG.data_parallel} of the batch's {CONFIG.batch_size} digits, BLAS on one "
        f"thread; the copies run side by side): {1e3 * step:.1f} ms, of which the matrix products alone take "
        f"{1e3 * products:.1f} ms ({products / step:.0%}). A whole step of training above took "
        f"{1e3 * median(train_seconds['digitnet']) / math.ceil(rows / CONFIG.batch_size):.1f} ms.",
        "",
        "| part | ms | share |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {1e3 * seconds:.2f} | {seconds / step:.0%} |" for name, seconds in parts]
    report = "\n".join(lines) + "\n"
    print(report)
    print(json.dumps({"train": train_seconds, "inference": infer_seconds}), file=sys.stderr)
    if not args.no_write:
        speed.add_section(args.results, MARK, "# Convolutional network speed (`cnn_speed.py`)", report)


if __name__ == "__main__":
    main()
