"""digitnet against PyTorch on the same networks and recipes, side by side in one run, on real MNIST.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/speed.py           # about 5 minutes
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/speed.py --quick   # about 1 minute, a smoke run

It measures the digitnet in this checkout (``../src``), turn and turn about with PyTorch (A B A B ..., medians), and
prints a Markdown report that it also adds, dated, to ``benchmarks/RESULTS.md`` (``--no-write`` to skip that):

- training throughput of ``[784, 800, 10]`` with momentum SGD at batch 64, 128, 256 and 512, and the notebook's
  ``[784, 10, 10]`` with 500 full-batch iterations of gradient descent on 41,000 digits;
- inference throughput on the 10,000 test digits;
- achieved GFLOP/s as a fraction of the float32 matrix-multiply peak measured here with NumPy;
- time to 98.0% test accuracy and peak resident memory of a full run of the ``fast`` preset, each library in a
  fresh process;
- a profile of one digitnet training step, part by part, next to the time of its matrix products alone;
- the machine, the NumPy and PyTorch builds, their matrix libraries, the BLAS kernel in use and the thread counts.

PyTorch (``pip install -e '.[bench]'``, version 2.13.0) is optional: ``--no-torch`` measures digitnet alone. The
OpenBLAS variables are read when NumPy loads, so unset them on the command line as above; the report records them.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))  # measure the digitnet next to this file, not an installed one

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

import digitnet  # noqa: E402
from digitnet import PRESETS, Network, TrainConfig, Trainer, data  # noqa: E402
from digitnet.layers import Dense, order_of  # noqa: E402
from digitnet.network import pixels_to_inputs  # noqa: E402
from digitnet.train import gather_rows  # noqa: E402

BLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
PAUSE = 0.3  # seconds between turns, so that the other library's idle worker threads stop spinning
NOTEBOOK_ROWS = 41_000  # the notebook trained on Kaggle's 42,000 digits less 1,000 held out
TARGET_ACCURACY = 0.98


def clock() -> float:
    """Wall-clock seconds; with ``--threads 1``, this process's CPU seconds instead (see ``use_cpu_time``)."""
    return CLOCK()


CLOCK = time.perf_counter


def use_cpu_time() -> None:
    """Time by CPU seconds: with one thread per library, a busy machine disturbs them much less than wall time."""
    global CLOCK
    CLOCK = time.process_time


@dataclass(frozen=True)
class Plan:
    """How much of each measurement to do: the full run and ``--quick``."""

    throughput_rounds: int = 3  # epochs per library and batch size, taken in turns
    throughput_rows: int | None = None  # None: the fast preset's 55,000 training digits
    notebook_rounds: int = 2
    notebook_iterations: int = 500
    inference_rounds: int = 7
    profile_steps: int = 40
    recipe_rounds: int = 1  # full runs of the fast preset per library, each in a fresh process
    recipe_epochs: int | None = None  # None: the preset's
    peak_repeats: int = 10


FULL = Plan()
QUICK = Plan(
    throughput_rounds=2,
    throughput_rows=15_000,
    notebook_rounds=1,
    notebook_iterations=50,
    inference_rounds=3,
    profile_steps=10,
    recipe_epochs=2,
    peak_repeats=5,
)


def training_flop(sizes) -> int:
    """Floating-point operations per example for one training step: forward, dW for every layer, dX for all but
    the first (whose input is the data). ``[784, 800, 10]``: 2,556,800."""
    products = [n_in * n_out for n_in, n_out in pairwise(sizes)]
    return 2 * sum(products) + 2 * sum(products) + 2 * sum(products[1:])


def inference_flop(sizes) -> int:
    return 2 * sum(n_in * n_out for n_in, n_out in pairwise(sizes))


# ---------------------------------------------------------------------------------------------------------- timing


def interleave(sides: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Call each side once per round, in turn (A B A B ...), collecting the seconds each one reports."""
    seconds: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(rounds):
        for name, run in sides.items():
            time.sleep(PAUSE)
            seconds[name].append(run())
    return seconds


def timed(function: Callable[[], object]) -> Callable[[], float]:
    def run() -> float:
        start = clock()
        function()
        return clock() - start

    return run


def repeated(work: Callable[[], object], repeats: int) -> list[float]:
    """Seconds of each of ``repeats`` calls of ``work``, after one call to warm up."""
    work()
    return [timed(work)() for _ in range(repeats)]


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def add_section(path: Path, mark: str, title: str, section: str) -> None:
    """Put ``section`` first under ``mark`` in ``path``; the first time, add ``title`` and the mark at the end."""
    text = path.read_text() if path.is_file() else "# digitnet benchmark results\n"
    if mark not in text:
        text = text.rstrip("\n") + f"\n\n{title}\n\n{mark}\n"
    path.write_text(text.replace(mark, f"{mark}\n\n{section.rstrip()}\n", 1))


def median(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float]) -> float:
    """(max - min) / median: how far apart the repeats of one measurement landed."""
    return (max(values) - min(values)) / median(values) if len(values) > 1 else 0.0


def matmul_peak(repeats: int, n: int = 2048) -> list[float]:
    """GFLOP/s of NumPy's float32 (n, n) @ (n, n), once per repeat."""
    rng = np.random.default_rng(0)
    A, B = rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)
    C = np.empty_like(A)
    np.matmul(A, B, out=C)
    rates = []
    for _ in range(repeats):
        start = clock()
        np.matmul(A, B, out=C)
        rates.append(2 * n**3 / (clock() - start) / 1e9)
    return rates


# ------------------------------------------------------------------------------------------------- the machine


def machine_info(threads: int) -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    numpy_blas = blas[0] if blas else {}
    try:
        commit = subprocess.run(
            ["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(HERE), "status", "--porcelain"], capture_output=True, text=True)
        commit += "+changes" if dirty.stdout.strip() else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {
        "cpu": cpu,
        "cores": threads,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": f"{numpy_blas.get('internal_api', '?')} {numpy_blas.get('version', '?')}",
        "blas_kernel": numpy_blas.get("architecture", "?"),
        "blas_threads": numpy_blas.get("num_threads", "?"),
        "digitnet": f"{digitnet.__version__} ({Path(digitnet.__file__).parent}, commit {commit})",
        "commit": commit,
        "environment": {name: os.environ.get(name, "unset") for name in BLAS_VARIABLES},
    }


# -------------------------------------------------------------------------------------------- the measurements


def throughput(config: TrainConfig, X, y, inputs, rounds: int, torch_side) -> dict[str, list[float]]:
    """Seconds per epoch, digitnet and PyTorch in turns, each carrying on from its previous epoch."""
    trainer = Trainer(Network(config.sizes, seed=config.seed), config.replace(epochs=1), X, y)

    def digitnet_epoch() -> float:
        trainer.config = trainer.config.replace(epochs=trainer.epoch + 1)  # one more epoch, then run() returns
        start = clock()
        trainer.run()
        return clock() - start

    sides = {"digitnet": digitnet_epoch}
    if torch_side is not None:
        recipe = torch_side.Recipe(Network(config.sizes, seed=config.seed), config, inputs, y)
        sides["PyTorch"] = timed(recipe.epoch)
    return interleave(sides, rounds)


def notebook(X, y, iterations: int, rounds: int, torch_side) -> tuple[dict[str, list[float]], dict[str, float]]:
    """The notebook's recipe: [784, 10, 10], full-batch gradient descent at learning rate 0.1."""
    config = PRESETS["seed"].replace(epochs=iterations, report_every=iterations)
    accuracy: dict[str, float] = {}  # of the final weights, on the training digits

    def digitnet_run() -> float:
        network = Network(config.sizes, seed=config.seed)
        trainer = Trainer(network, config, X, y)
        start = clock()
        trainer.run()
        seconds = clock() - start
        accuracy["digitnet"] = network.evaluate(X, y)[1]
        return seconds

    sides = {"digitnet": digitnet_run}
    if torch_side is not None:
        import torch

        inputs = pixels_to_inputs(X)

        def torch_run() -> float:
            recipe = torch_side.Recipe(Network(config.sizes, seed=config.seed), config, inputs, y)
            start = clock()
            for _ in range(iterations):
                recipe.epoch()
            seconds = clock() - start
            accuracy["PyTorch"] = torch_side.accuracy(recipe.model, recipe.X, torch.from_numpy(y))
            return seconds

        sides["PyTorch"] = torch_run
    return interleave(sides, rounds), accuracy


def inference(sizes, inputs, rounds: int, torch_side) -> dict[str, list[float]]:
    network = Network(sizes, seed=0)
    sides = {"digitnet": timed(lambda: network.predict(inputs))}
    if torch_side is not None:
        import torch

        model, X = torch_side.build(network), torch.from_numpy(inputs)
        sides["PyTorch"] = timed(lambda: torch_side.predict(model, X))
    return interleave(sides, rounds)


def profile(config: TrainConfig, X, y, steps: int) -> tuple[list[tuple[str, float]], float]:
    """Median seconds of each part of one digitnet training step, calling the layers one at a time as
    ``Network.train_step`` does; and the median seconds of the step's matrix products alone, on the same arrays."""
    network = Network(config.sizes, seed=config.seed)
    trainer = Trainer(network, config, X, y)  # its inputs, layout, batch buffers and optimiser
    n = trainer.batch_size
    rng = np.random.default_rng(0)
    names = ["gather the batch"] if n < len(X) else []
    for layer in network.layers:
        names.append(f"{describe(layer)} forward")
    names += ["loss forward (softmax, cross-entropy)", "loss backward ((P - Y) / n)"]
    for layer in reversed(network.layers):
        names.append(f"{describe(layer)} backward")
    names.append(f"optimiser step ({config.optimizer})")
    parts: dict[str, list[float]] = {name: [] for name in names}
    products: list[float] = []
    for _ in range(steps):
        rows = rng.choice(len(X), n, replace=False)
        marks = [clock()]
        if n < len(X):
            X_batch, y_batch = gather_rows(trainer.inputs, rows, trainer.X_batch), y[rows]
            marks.append(clock())
        else:
            X_batch, y_batch = trainer.inputs, y
        A = X_batch
        for layer in network.layers:
            A = layer.forward(A, training=True)
            marks.append(clock())
        network.loss.forward(A, y_batch)
        marks.append(clock())
        dA = network.loss.backward()
        marks.append(clock())
        for layer in reversed(network.layers):
            dA = layer.backward(dA)
            marks.append(clock())
        trainer.optimizer.step()
        marks.append(clock())
        for name, (start, end) in zip(names, pairwise(marks), strict=True):
            parts[name].append(end - start)
        products.append(matrix_products(network))
    return [(name, median(seconds)) for name, seconds in parts.items()], median(products)


def describe(layer) -> str:
    if isinstance(layer, Dense):
        return f"Dense {layer.W.shape[0]}→{layer.W.shape[1]}"
    return type(layer).__name__


def matrix_products(network: Network) -> float:
    """Seconds for the step's products alone (Z = X @ W, dW = X.T @ dZ, dX = dZ @ W.T), laid out as the layers
    lay them out, with the layers' own inputs and weights."""
    arrays = []
    for layer in network.dense_layers:
        X, W = layer.X, layer.W
        dZ = np.ones((len(X), W.shape[1]), X.dtype, order=order_of(X))
        arrays.append((X, W, dZ, layer.input_grad))
    start = clock()
    for X, W, dZ, input_grad in arrays:
        np.matmul(X, W, order=order_of(X))
        np.matmul(X.T, dZ)
        if input_grad:
            np.matmul(dZ, W.T, order=order_of(dZ))
    return clock() - start


def recipe_runs(rounds: int, epochs: int | None, with_torch: bool, threads: int) -> dict[str, list[dict]]:
    """The fast preset from start to finish, each library in a fresh process (for an honest peak memory)."""
    runs: dict[str, list[dict]] = {"digitnet": []}
    if with_torch:
        runs["PyTorch"] = []
    for _ in range(rounds):
        for side in runs:
            command = [sys.executable, __file__, "--recipe-run", side, "--threads", str(threads)]
            if epochs is not None:
                command += ["--epochs", str(epochs)]
            time.sleep(PAUSE)
            out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            runs[side].append(json.loads(out.strip().splitlines()[-1]))
    return runs


def recipe_run(side: str, epochs: int | None, threads: int) -> dict:
    """(In the child process.) Train the fast preset, measuring test accuracy after every epoch, untimed."""
    config = PRESETS["fast"]
    if epochs is not None:
        config = config.replace(epochs=epochs)
    dataset = data.load("mnist")
    train_split, _ = data.dev_split(
        dataset.train.X, dataset.train.y, config.dev_size, np.random.default_rng([config.seed, 0])
    )  # the rows experiment.run trains on
    network = Network(config.sizes, seed=config.seed)
    test = dataset.test
    curve = []  # (epoch, training seconds so far, test accuracy)
    if side == "digitnet":
        evaluating = 0.0

        def on_report(record) -> None:
            nonlocal evaluating
            now = clock()
            accuracy = network.evaluate(test.X, test.y)[1]
            curve.append((record.epoch, now - started - evaluating, accuracy))
            evaluating += clock() - now

        trainer = Trainer(network, config, train_split.X, train_split.y, on_report=on_report)
        started = clock()
        trainer.run()
    else:
        import torch

        import torch_side

        torch.set_num_threads(threads)
        recipe = torch_side.Recipe(network, config, pixels_to_inputs(train_split.X), train_split.y)
        X_test, y_test = torch.from_numpy(pixels_to_inputs(test.X)), torch.from_numpy(test.y)
        seconds = 0.0
        for epoch in range(1, config.epochs + 1):
            start = clock()
            recipe.epoch()
            seconds += clock() - start
            curve.append((epoch, seconds, torch_side.accuracy(recipe.model, X_test, y_test)))
    return {"curve": curve, "epochs": config.epochs, "peak_rss_mb": peak_resident_mb()}


def peak_resident_mb() -> float:
    """This process's peak resident memory. Linux's ``ru_maxrss`` would also count the parent's memory at the
    moment it started this process (it survives ``exec``), so read the high-water mark of this process's own."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**10  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


# ---------------------------------------------------------------------------------------------------- the report


def plural(count, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def say(text: str) -> None:
    """Progress, on standard error; the report goes to standard output."""
    print(text, file=sys.stderr, flush=True)


def fmt_rate(examples: float) -> str:
    return f"{examples:,.0f}"


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}×" if a and b else "–"


def cell(values: list[float], digits: int = 3) -> str:
    """The median, with the spread of the repeats when it is large enough to matter."""
    text = f"{median(values):.{digits}f}"
    return text + (f" (±{spread(values) / 2:.0%})" if spread(values) >= 0.1 else "")


def time_to(curve: list, accuracy: float) -> tuple[float, int] | None:
    for epoch, seconds, reached in curve:
        if reached >= accuracy:
            return seconds, epoch
    return None


def report(results: dict) -> tuple[str, dict]:
    """The Markdown section for RESULTS.md, and the summary row."""
    m, peak = results["machine"], results["peak"]
    torch_info = results.get("torch")
    lines = [
        f"## {results['date']} · {m['cpu']} · {m['cores']} cores · commit {m['commit']}",
        "",
        f"`{results['command']}`{' (quick: a smoke run, not a result)' if results['quick'] else ''}; "
        f"{results['minutes']:.1f} minutes; load average {results['load'][0]:.2f} before, "
        f"{results['load'][1]:.2f} after (on {m['cores']} cores; above about 0.3 the machine was not quiet); "
        + ("timed in CPU seconds, each library on one thread." if results["cpu_time"] else "timed by the wall clock."),
        "",
        f"- Python {m['python']}, NumPy {m['numpy']} with {m['blas']}, kernel **{m['blas_kernel']}**, "
        f"{plural(m['blas_threads'], 'thread')}",
    ]
    if torch_info:
        lines.append(
            f"- PyTorch {torch_info['version']} with {torch_info['blas']}, {plural(torch_info['threads'], 'thread')} "
            f"(`torch.set_num_threads`)"
        )
    env = ", ".join(f"{k}={v}" for k, v in m["environment"].items())
    lines += [
        f"- environment: {env}",
        f"- float32 matrix-multiply peak (NumPy, 2048×2048, the best of {results['peak_repeats']} at the start and as "
        "many at the end): "
        f"**{peak['numpy']:.0f} GFLOP/s**"
        + (f"; PyTorch's `torch.mm` on the same: {peak['torch']:.0f} GFLOP/s" if peak.get("torch") else ""),
        "",
    ]

    targets = results["targets"]
    lines += ["### Targets", ""]
    if results["threads"] != m["cores"]:
        note = f"The targets are set for all {m['cores']} cores; this run gave each library {results['threads']}."
        lines += [note, ""]
    lines += ["| target | measured | met |", "|---|---|---|"]
    for name, measured, met in targets:
        lines.append(f"| {name} | {measured} | {'yes' if met else ('–' if met is None else '**no**')} |")
    lines.append("")

    tp = results["throughput"]
    lines += [
        f"### Training throughput: [784, 800, 10], momentum SGD, {tp['rows']:,} digits",
        "",
        "The fast preset's recipe (Nesterov momentum 0.9, cosine schedule), its learning rate in proportion to the "
        f"batch ({tp['learning_rate_128']:g} at batch 128), float32; median of {tp['rounds']} epochs each, taken in "
        "turns; "
        "GFLOP/s counts 2,556,800 FLOP per example.",
        "",
        "| batch | digitnet examples/s | s/epoch | % of peak | PyTorch examples/s | s/epoch | % of peak | ratio |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for batch, seconds in tp["seconds"].items():
        row = [str(batch)]
        rates = {}
        for side in ("digitnet", "PyTorch"):
            if side in seconds:
                rates[side] = tp["rows"] / median(seconds[side])
                gflops = rates[side] * training_flop((784, 800, 10)) / 1e9
                row += [fmt_rate(rates[side]), cell(seconds[side]), f"{gflops / peak['numpy']:.0%}"]
            else:
                row += ["–", "–", "–"]
        row.append(ratio(rates.get("digitnet"), rates.get("PyTorch")))
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "digitnet alone (not in turns) at batch 128 with each optimiser, each at its own default rate:", ""]
    lines += ["| optimiser | examples/s | s/epoch | % of peak |", "|---|---:|---:|---:|"]
    for name, seconds in tp["optimisers"].items():
        examples = tp["rows"] / median(seconds)
        share = examples * training_flop((784, 800, 10)) / 1e9 / peak["numpy"]
        lines.append(f"| {name} | {fmt_rate(examples)} | {cell(seconds)} | {share:.0%} |")
    lines.append("")

    nb = results["notebook"]
    scale = 500 / nb["iterations"]
    flop = training_flop((784, 10, 10)) * NOTEBOOK_ROWS * nb["iterations"]
    lines += [
        f"### The notebook's recipe: [784, 10, 10], full-batch gradient descent, {NOTEBOOK_ROWS:,} digits",
        "",
        f"Learning rate 0.1, {nb['iterations']} iterations"
        + (" (times below scaled to 500)" if scale != 1 else "")
        + f", median of {nb['rounds']} runs each. Both start from the same weights and take the same steps, so the "
        "accuracy of their final weights on the training digits should agree.",
        "",
        "| | s per 500 iterations | GFLOP/s | % of peak | training accuracy |",
        "|---|---:|---:|---:|---:|",
    ]
    for side, seconds in nb["seconds"].items():
        gflops = flop / median(seconds) / 1e9
        lines.append(
            f"| {side} | {cell([s * scale for s in seconds], 2)} | {gflops:.0f} | {gflops / peak['numpy']:.0%} "
            f"| {nb['accuracy'][side]:.4f} |"
        )
    lines.append("")

    inf = results["inference"]
    lines += [
        f"### Inference: the {inf['rows']:,} test digits, in batches of 4096",
        "",
        "| | examples/s | ms | GFLOP/s | % of peak |",
        "|---|---:|---:|---:|---:|",
    ]
    for side, seconds in inf["seconds"].items():
        rate = inf["rows"] / median(seconds)
        gflops = rate * inference_flop((784, 800, 10)) / 1e9
        lines.append(
            f"| {side} | {fmt_rate(rate)} | {cell([s * 1e3 for s in seconds], 1)} | {gflops:.0f} "
            f"| {gflops / peak['numpy']:.0%} |"
        )
    lines.append("")

    rr = results["recipe"]
    lines += [
        f"### The fast preset from start to finish, in a fresh process each ({rr['epochs']} epochs)",
        "",
        "Training time excludes the test evaluations after each epoch; peak memory is the process's maximum "
        "resident set, loading MNIST included.",
        "",
        f"| | time to {TARGET_ACCURACY:.1%} test accuracy | at epoch | final test accuracy | training s | "
        "peak memory MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for side, runs in rr["runs"].items():
        reached = [time_to(run["curve"], TARGET_ACCURACY) for run in runs]
        when = [r[0] for r in reached if r]
        epoch = [r[1] for r in reached if r]
        lines.append(
            f"| {side} | {cell(when, 1) if len(when) == len(runs) else 'not reached'} "
            f"| {median(epoch) if len(epoch) == len(runs) else '–'} "
            f"| {median([run['curve'][-1][2] for run in runs]):.4f} "
            f"| {cell([run['curve'][-1][1] for run in runs], 1)} "
            f"| {median([run['peak_rss_mb'] for run in runs]):.0f} |"
        )
    lines.append("")

    lines += [
        "### Where a digitnet training step spends its time",
        "",
        f"Each part timed on its own (median of {results['profile_steps']} steps); the last rows time the step's "
        "matrix products alone, on the same arrays, which is as fast as the step could be with this BLAS.",
        "",
    ]
    for title, (parts, products, sizes, n) in results["profiles"].items():
        total = sum(seconds for _, seconds in parts)
        step_flop = training_flop(sizes) * n
        lines += [f"**{title}**", "", "| part | ms | share |", "|---|---:|---:|"]
        lines += [f"| {name} | {seconds * 1e3:.3f} | {seconds / total:.0%} |" for name, seconds in parts]
        lines += [
            f"| **whole step** | **{total * 1e3:.3f}** | {step_flop / total / 1e9:.0f} GFLOP/s, "
            f"{step_flop / total / 1e9 / peak['numpy']:.0%} of peak |",
            f"| matrix products alone | {products * 1e3:.3f} | {step_flop / products / 1e9:.0f} GFLOP/s, "
            f"{step_flop / products / 1e9 / peak['numpy']:.0%} of peak |",
            "",
        ]
    summary = results["summary"]
    return "\n".join(lines) + "\n", summary


RESULTS_HEADER = """# Benchmark results

Each run of `benchmarks/speed.py` adds a dated section below, newest first, and a line to this summary; compare a
new line with the ones under it to see a regression. `--quick` runs are smoke tests, not results. See
`benchmarks/README.md` for what is measured and how.

| date | commit | machine | peak GFLOP/s | digitnet b128 ex/s | PyTorch b128 ex/s | ratio | b256 % of peak | \
notebook s | inference ratio | to 98% s (PyTorch) | peak MB |
|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
<!-- summary: new rows go below this line -->

<!-- runs: new sections go below this line -->
"""


def write_results(path: Path, section: str, summary: dict) -> None:
    text = path.read_text() if path.exists() else RESULTS_HEADER
    row = "| " + " | ".join(str(summary[k]) for k in SUMMARY_KEYS) + " |"
    summary_mark, runs_mark = (
        "<!-- summary: new rows go below this line -->",
        "<!-- runs: new sections go below this line -->",
    )
    if summary_mark not in text or runs_mark not in text:  # a file that other benchmarks began: put ours on top
        text = RESULTS_HEADER + "\n" + text
    text = text.replace(summary_mark, summary_mark + "\n" + row, 1)
    text = text.replace(runs_mark, runs_mark + "\n\n" + section.rstrip() + "\n", 1)
    path.write_text(text)


SUMMARY_KEYS = (
    "date",
    "commit",
    "machine",
    "peak",
    "digitnet_b128",
    "torch_b128",
    "ratio_b128",
    "b256_peak",
    "notebook",
    "inference_ratio",
    "to98",
    "peak_mb",
)


# ------------------------------------------------------------------------------------------------------- the run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of about a minute (less of everything)")
    parser.add_argument("--no-torch", action="store_true", help="measure digitnet alone")
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md", help="the file to add the results to")
    parser.add_argument("--no-write", action="store_true", help="print the report only")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parser.add_argument(
        "--threads", type=int, default=cores, help=f"threads for each library's BLAS and PyTorch (default: {cores})"
    )
    parser.add_argument("--recipe-run", choices=["digitnet", "PyTorch"], help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    threads = args.threads
    if threads == 1:
        use_cpu_time()
    if args.recipe_run:  # the child process of recipe_runs
        threadpool_limits(threads, user_api="blas")
        print(json.dumps(recipe_run(args.recipe_run, args.epochs, threads)))
        return

    plan = QUICK if args.quick else FULL
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    threadpool_limits(threads, user_api="blas")  # as many BLAS threads as torch.set_num_threads below
    machine = machine_info(cores)  # before torch is imported, so that the BLAS found is NumPy's
    torch_side = None
    if not args.no_torch:
        import torch

        import torch_side

        torch.set_num_threads(threads)
    say(
        f"digitnet {machine['digitnet']}; NumPy {machine['numpy']}, {machine['blas']} kernel {machine['blas_kernel']} "
        f"with {machine['blas_threads']} threads; {cores} cores; {machine['environment']}"
    )

    if load_before > 0.3 * cores:
        say(f"warning: the load average is {load_before:.2f} on {cores} cores; the timings will be noisy")
    say("peak: float32 2048x2048 matrix multiply")
    peaks = matmul_peak(plan.peak_repeats)
    peak_torch = None
    if torch_side is not None:
        A = torch.rand(2048, 2048)
        torch.mm(A, A)
        rates = []
        for _ in range(plan.peak_repeats):
            start = clock()
            torch.mm(A, A)
            rates.append(2 * 2048**3 / (clock() - start) / 1e9)
        peak_torch = max(rates)

    dataset = data.load("mnist")
    fast = PRESETS["fast"]
    train_split, _ = data.dev_split(dataset.train.X, dataset.train.y, fast.dev_size, np.random.default_rng([0, 0]))
    X, y = train_split.X, train_split.y
    if plan.throughput_rows:
        X, y = X[: plan.throughput_rows], y[: plan.throughput_rows]
    inputs = pixels_to_inputs(X)

    tp_seconds = {}
    for batch in (64, 128, 256, 512):
        say(f"training throughput, batch {batch}")
        # the fast preset's recipe, its learning rate in proportion to the batch (0.1 at 128), as it was chosen
        config = fast.replace(batch_size=batch, learning_rate=fast.learning_rate * batch / fast.batch_size)
        tp_seconds[batch] = throughput(config, X, y, inputs, plan.throughput_rounds, torch_side)
    optimiser_seconds = {}  # batch 128 with each optimiser, digitnet alone: the step's target holds for any of them
    for optimizer in ("gd", "momentum", "adam"):
        say(f"training throughput, batch 128, {optimizer}")
        config = fast.replace(batch_size=128, learning_rate=fast.learning_rate * 128 / fast.batch_size)
        config = config.with_optimizer(optimizer)
        optimiser_seconds[optimizer] = throughput(config, X, y, inputs, plan.throughput_rounds, None)["digitnet"]

    say(f"the notebook's recipe, {plan.notebook_iterations} iterations")
    X_nb, y_nb = dataset.train.X[:NOTEBOOK_ROWS], dataset.train.y[:NOTEBOOK_ROWS]
    nb_seconds, nb_accuracy = notebook(X_nb, y_nb, plan.notebook_iterations, plan.notebook_rounds, torch_side)

    say("inference")
    test_inputs = pixels_to_inputs(dataset.test.X)
    inf_seconds = inference(fast.sizes, test_inputs, plan.inference_rounds, torch_side)

    say("profile")
    profiles = {}
    for title, config, Xp, yp in [
        ("[784, 800, 10], batch 128", fast.replace(batch_size=128), X, y),
        ("[784, 800, 10], batch 256", fast.replace(batch_size=256), X, y),
        (f"[784, 10, 10], full batch of {NOTEBOOK_ROWS:,}", PRESETS["seed"], X_nb, y_nb),
    ]:
        parts, products = profile(config, Xp, yp, plan.profile_steps)
        n = len(Xp) if config.batch_size == 0 else config.batch_size
        profiles[title] = (parts, products, config.sizes, n)

    say("the fast preset from start to finish, in fresh processes")
    runs = recipe_runs(plan.recipe_rounds, plan.recipe_epochs, torch_side is not None, threads)

    peaks += matmul_peak(plan.peak_repeats)
    peak = max(peaks)  # the best the BLAS did: a peak, which noise can lower but not raise
    load_after = os.getloadavg()[0]

    # the targets of issue 15, then the two of issue 3 that it kept
    def rate(batch, side):
        seconds = tp_seconds[batch].get(side)
        return len(X) / median(seconds) if seconds else None

    def share(examples_per_second: float) -> float:
        return examples_per_second * training_flop(fast.sizes) / 1e9 / peak

    b128 = rate(128, "digitnet"), rate(128, "PyTorch")
    b128_shares = {name: share(len(X) / median(seconds)) for name, seconds in optimiser_seconds.items()}
    b256_fraction = share(rate(256, "digitnet"))
    ratios = {batch: rate(batch, "digitnet") / rate(batch, "PyTorch") for batch in tp_seconds if rate(batch, "PyTorch")}
    inf_rate = {side: len(test_inputs) / median(s) for side, s in inf_seconds.items()}
    nb_500 = median(nb_seconds["digitnet"]) * 500 / plan.notebook_iterations
    to98 = {side: [time_to(run["curve"], TARGET_ACCURACY) for run in r] for side, r in runs.items()}
    to98_median = {
        side: median([t[0] for t in ts]) if all(ts) else None for side, ts in to98.items()
    }  # None: not reached in some run
    peak_mb = median([run["peak_rss_mb"] for run in runs["digitnet"]])
    with_torch = torch_side is not None
    t_d, t_p = to98_median["digitnet"], to98_median.get("PyTorch")
    targets = [
        ("notebook recipe (500 iterations, 41,000 digits) < 5 s", f"{nb_500:.2f} s", nb_500 < 5),
        (
            "training [784, 800, 10] at batch 128 ≥ 60% of the matmul peak, with any optimiser",
            ", ".join(f"{name} {value:.0%}" for name, value in b128_shares.items()),
            min(b128_shares.values()) >= 0.6,
        ),
        ("training at batch 256 ≥ 70% of the matmul peak", f"{b256_fraction:.0%}", b256_fraction >= 0.7),
        (
            "training never below PyTorch's throughput (every batch size)",
            ", ".join(f"{batch}: {value:.2f}×" for batch, value in ratios.items()) or "–",
            min(ratios.values()) >= 1 if ratios else None,
        ),
        (
            "inference ≥ 2× PyTorch",
            ratio(inf_rate["digitnet"], inf_rate.get("PyTorch")),
            inf_rate["digitnet"] / inf_rate["PyTorch"] >= 2 if with_torch else None,
        ),
        (
            f"time to {TARGET_ACCURACY:.1%} test accuracy < PyTorch's and < 15 s",
            (f"{t_d:.1f} s" if t_d else "not reached") + (f" (PyTorch {t_p:.1f} s)" if t_p else ""),
            (t_d is not None and t_d < 15 and (not with_torch or t_p is None or t_d < t_p)) if not args.quick else None,
        ),
        ("peak memory of a full-MNIST training run < 600 MB", f"{peak_mb:.0f} MB", peak_mb < 600),
    ]
    date = utc_now()
    results = {
        "date": date,
        "command": "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/speed.py"
        + (" --quick" if args.quick else "")
        + (" --no-torch" if args.no_torch else "")
        + (f" --threads {threads}" if threads != cores else ""),
        "quick": args.quick,
        "cpu_time": CLOCK is time.process_time,
        "threads": threads,
        "minutes": (time.perf_counter() - started) / 60,
        "load": (load_before, load_after),
        "machine": machine,
        "torch": {"version": torch.__version__, "blas": torch_side.blas_info(), "threads": torch.get_num_threads()}
        if with_torch
        else None,
        "peak": {"numpy": peak, "torch": peak_torch},
        "targets": targets,
        "throughput": {
            "rows": len(X),
            "rounds": plan.throughput_rounds,
            "seconds": tp_seconds,
            "optimisers": optimiser_seconds,
            "learning_rate_128": fast.learning_rate * 128 / fast.batch_size,
        },
        "notebook": {
            "iterations": plan.notebook_iterations,
            "rounds": plan.notebook_rounds,
            "seconds": nb_seconds,
            "accuracy": nb_accuracy,
        },
        "inference": {"rows": len(test_inputs), "seconds": inf_seconds},
        "recipe": {"epochs": runs["digitnet"][0]["epochs"], "runs": runs},
        "profiles": profiles,
        "profile_steps": plan.profile_steps,
        "peak_repeats": plan.peak_repeats,
        "summary": {
            "date": date + (" (quick)" if args.quick else ""),
            "commit": machine["commit"],
            "machine": f"{machine['cpu']}, {cores} cores, {plural(threads, 'thread')}, {machine['blas_kernel']}",
            "peak": f"{peak:.0f}",
            "digitnet_b128": fmt_rate(b128[0]),
            "torch_b128": fmt_rate(b128[1]) if b128[1] else "–",
            "ratio_b128": ratio(*b128),
            "b256_peak": f"{b256_fraction:.0%}",
            "notebook": f"{nb_500:.1f}",
            "inference_ratio": ratio(inf_rate["digitnet"], inf_rate.get("PyTorch")),
            "to98": (f"{t_d:.1f}" if t_d else "–") + (f" ({t_p:.1f})" if t_p else ""),
            "peak_mb": f"{peak_mb:.0f}",
        },
    }
    section, summary = report(results)
    print(section)
    if not args.no_write:
        write_results(args.results, section, summary)
        say(f"added to {args.results}")


if __name__ == "__main__":
    main()
