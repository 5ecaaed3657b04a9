"""Check a layer, a loss or a whole network against central differences, and say what is off.

For a scalar function ``f`` and a small ``h``, ``(f(x + h) - f(x - h)) / 2h`` matches ``f'(x)`` up to ``O(h**2)``.
Nudging every entry of every array in turn, both ways, gives a numerical gradient that knows nothing of your
``backward``; comparing the two finds a wrong derivative and points at the entry where it is wrong.

    >>> import numpy as np
    >>> from digitnet.layers import Dense
    >>> layer = Dense(5, 3, rng=np.random.default_rng(0), dtype=np.float64)
    >>> result = check_gradients(layer, np.random.default_rng(1).standard_normal((4, 5)))
    >>> result.ok
    True

What is checked, for each kind of thing (``check_gradients`` tells them apart by their methods):

- a **layer** (``forward(X, training)``, ``backward(dA) -> dX``, ``parameters()``): the scalar is
  ``sum(forward(X) * R)`` for a fixed random ``R`` of the output's shape, so ``dA = R``; checked are ``dX`` and the
  gradient of every parameter.
- a **loss** (``forward(Z, y) -> float``, ``backward() -> dZ``): the scalar is the loss itself; checked is ``dZ``.
- a **network** (``train_step(X, y)``, ``forward``, ``loss``, ``parameters()``): the scalar is the training loss of
  the batch; checked is the gradient of every parameter of every layer.

Randomness is frozen: every ``numpy.random.Generator`` the layer (or the network and its layers) holds, and NumPy's
global generator, are put back to their starting state before each evaluation, so a Dropout layer draws the same
mask every time. The whole batch goes through every evaluation, so a layer whose training forward depends on the
batch (batch normalisation) is checked with that dependence included. Arrays the layer keeps for itself (running
statistics, caches) are put back as they were when the check ends.

Work in float64: float32 rounding (about 1e-7 relative) swamps the differences. Each entry costs two forward
passes, so check small layers and networks, or pass ``max_entries`` to check a random subset of each array.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

H = 1e-6  # the nudge: small enough for O(h**2) to vanish, large enough for float64 rounding to stay far below it
TOLERANCE = 1e-7  # relative error; float64 central differences reach about 1e-9 on digitnet's layers


class GradientError(AssertionError):
    """An analytic gradient that disagrees with central differences; the message names the array and the entry."""


@dataclass(frozen=True)
class ArrayCheck:
    """The comparison for one array: its name, how far off it is as a whole, and its worst entry."""

    name: str  # "W", "X" (the input), "layers[2].W" ...
    shape: tuple[int, ...]
    relative_error: float  # max |analytic - numerical| / max (|analytic| + |numerical|), over the entries checked
    index: tuple[int, ...]  # the entry with the largest absolute difference
    analytic: float  # what backward gave at that entry
    numerical: float  # what central differences gave there
    entries: int  # how many entries were checked
    tolerance: float
    analytic_max: float = 0.0  # the largest |entry| of backward's gradient
    numerical_max: float = 0.0  # and of the central differences
    noise: float = 0.0  # the rounding error central differences carry here (see _rounding_noise)
    kink: tuple[float, float] | None = None  # one-sided slopes at the worst entry, when they disagree

    @property
    def zero(self) -> bool:
        """Both gradients are 0 to within rounding (a bias just before batch normalisation has no effect)."""
        return self.analytic_max <= self.noise and self.numerical_max <= self.noise

    @property
    def ok(self) -> bool:
        # Relative error compares noise with noise when the true gradient is 0, so a zero gradient passes as such.
        return self.relative_error < self.tolerance or self.zero

    def describe(self) -> str:
        """``"W: ok (...)"``, or where ``W`` is off, what backward gave there and what it should have been."""
        numbers = f"relative error {self.relative_error:.1e}, tolerance {self.tolerance:.0e}"
        if self.zero:
            return f"{self.name}: ok, 0 within rounding (both gradients at most {self.noise:.0e})"
        if self.ok:
            return f"{self.name}: ok ({numbers})"
        where = f"{self.name}[{', '.join(map(str, self.index))}]"
        text = (
            f"the gradient of {self.name} is off, worst at {where}: backward gave {self.analytic:.6g}, "
            f"central differences {self.numerical:.6g} ({numbers})"
        )
        if self.kink is not None:
            text += (
                f"; but there the slope is {self.kink[0]:.6g} on the left and {self.kink[1]:.6g} on the right, a kink "
                "(ReLU at 0?): move the input off it, e.g. give the biases non-zero values"
            )
        return text


@dataclass(frozen=True)
class GradCheckResult:
    """Every array's comparison; ``ok`` when all of them are within the tolerance. ``str()`` is a readable report."""

    checked: str  # what was checked, e.g. "Dense layer"
    arrays: tuple[ArrayCheck, ...]

    @property
    def ok(self) -> bool:
        return all(a.ok for a in self.arrays)

    @property
    def failures(self) -> tuple[ArrayCheck, ...]:
        return tuple(a for a in self.arrays if not a.ok)

    def summary(self) -> str:
        """One line: the first array that is off and where, or that every array passed."""
        if self.ok:
            names = ", ".join(a.name for a in self.arrays) or "nothing"
            return f"{self.checked}: gradients match central differences ({names})"
        off = self.failures
        others = f" ({len(off) - 1} more arrays off: {', '.join(a.name for a in off[1:])})" if len(off) > 1 else ""
        return f"{self.checked}: {off[0].describe()}{others}"

    def __str__(self) -> str:
        head = f"{self.checked}: {'all gradients match' if self.ok else 'gradients are off'}"
        return "\n".join([head] + [f"  {a.describe()}" for a in self.arrays])


def check_gradients(
    thing,
    X: np.ndarray,
    y: np.ndarray | None = None,
    *,
    training: bool = True,
    h: float = H,
    tolerance: float = TOLERANCE,
    max_entries: int | None = None,
    seed: int = 0,
) -> GradCheckResult:
    """Compare the gradients of ``thing`` (a layer, a loss or a network) with central differences.

    ``X`` is the layer's input, the loss's logits ``Z`` or the network's batch; ``y`` the labels, for a loss or a
    network. ``training`` is the mode a layer runs in: True (the default) is the one whose backward training uses,
    and the only one in which digitnet's layers keep what backward needs; a network always checks its training step.
    ``max_entries`` checks that many random entries of each array instead of all; ``seed`` fixes those and ``R``.
    """
    if hasattr(thing, "train_step"):
        return check_network(thing, X, y, h=h, tolerance=tolerance, max_entries=max_entries, seed=seed)
    if y is not None:
        return check_loss(thing, X, y, h=h, tolerance=tolerance, max_entries=max_entries, seed=seed)
    return check_layer(thing, X, training=training, h=h, tolerance=tolerance, max_entries=max_entries, seed=seed)


def assert_gradients(thing, X: np.ndarray, y: np.ndarray | None = None, **options) -> GradCheckResult:
    """``check_gradients``, raising ``GradientError`` with a one-line message when an array is off."""
    result = check_gradients(thing, X, y, **options)
    if not result.ok:
        raise GradientError(result.summary())
    return result


def check_layer(
    layer,
    X: np.ndarray,
    *,
    training: bool = True,
    h: float = H,
    tolerance: float = TOLERANCE,
    max_entries: int | None = None,
    seed: int = 0,
) -> GradCheckResult:
    """Check ``dX`` and every parameter's gradient of ``layer`` for the input ``X``, with ``dA = R`` random."""
    _require_methods(layer, "layer", ("forward", "backward"))
    X = np.array(X, dtype=np.float64)  # our own copy: the checker nudges it
    parameters = _named_parameters(layer)
    frozen = _Frozen([layer])
    rng = _own_rng(seed)

    def forward() -> np.ndarray:
        frozen.rewind()
        return layer.forward(X.copy(), training)  # a copy: layers may work in place on their input

    A = forward()
    R = rng.standard_normal(np.shape(A))  # (shape of A): the upstream gradient dA of the scalar sum(A * R)
    dX = layer.backward(R.copy())
    analytic = [(name, value, np.array(grad, dtype=np.float64)) for name, value, grad in parameters]
    if dX is not None:
        if np.shape(dX) != X.shape:
            raise GradientError(
                f"{_kind(layer)}: backward returned dX of shape {np.shape(dX)} for an input of shape {X.shape}; "
                "dX must have the input's shape"
            )
        analytic.insert(0, ("X", X, np.array(dX, dtype=np.float64)))

    def scalar() -> float:
        return float(np.sum(forward() * R))

    try:
        arrays = _compare_all(analytic, scalar, h, tolerance, max_entries, rng)
    finally:
        frozen.restore()
    return GradCheckResult(f"{_kind(layer)} layer", arrays)


def check_loss(
    loss,
    Z: np.ndarray,
    y: np.ndarray,
    *,
    h: float = H,
    tolerance: float = TOLERANCE,
    max_entries: int | None = None,
    seed: int = 0,
) -> GradCheckResult:
    """Check ``dZ = loss.backward()`` against central differences of ``loss.forward(Z, y)``."""
    _require_methods(loss, "loss", ("forward", "backward"))
    Z = np.array(Z, dtype=np.float64)
    y = np.asarray(y)
    frozen = _Frozen([loss])

    def scalar() -> float:
        frozen.rewind()
        return float(loss.forward(Z.copy(), y))

    scalar()
    dZ = np.array(loss.backward(), dtype=np.float64)
    if dZ.shape != Z.shape:
        raise GradientError(f"{_kind(loss)}: backward returned dZ of shape {dZ.shape} for logits of shape {Z.shape}")
    try:
        arrays = _compare_all([("Z", Z, dZ)], scalar, h, tolerance, max_entries, _own_rng(seed))
    finally:
        frozen.restore()
    return GradCheckResult(f"{_kind(loss)} loss", arrays)


def check_network(
    network,
    X: np.ndarray,
    y: np.ndarray,
    *,
    h: float = H,
    tolerance: float = TOLERANCE,
    max_entries: int | None = None,
    seed: int = 0,
) -> GradCheckResult:
    """Check every parameter gradient that ``network.train_step(X, y)`` leaves, against its training loss."""
    _require_methods(network, "network", ("train_step", "forward", "parameters"))
    if y is None:
        raise GradientError("checking a network needs labels: pass y, one class index per row of X")
    layers = list(getattr(network, "layers", []))
    names = {}
    for i, layer in enumerate(layers):
        for name, value, _ in _named_parameters(layer):
            names[id(value)] = f"layers[{i}].{name}"
    parameters = [(names.get(id(v), f"parameter {k}"), v, g) for k, (v, g, _) in enumerate(network.parameters())]
    _require_float64(network, parameters)
    X = np.array(X, dtype=np.float64)
    y = np.asarray(y)
    frozen = _Frozen([network, *layers])

    def scalar() -> float:
        frozen.rewind()
        return float(network.loss.forward(network.forward(X.copy(), training=True), y))

    frozen.rewind()
    network.train_step(X.copy(), y)
    analytic = [(name, value, np.array(grad, dtype=np.float64)) for name, value, grad in parameters]
    try:
        arrays = _compare_all(analytic, scalar, h, tolerance, max_entries, _own_rng(seed))
    finally:
        frozen.restore()
    return GradCheckResult(f"{_kind(network)} ({len(layers)} layers)", arrays)


def numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float = H, entries=None) -> np.ndarray:
    """Central differences of the scalar ``f()`` with respect to each entry of ``x``, which is nudged in place.

    ``entries`` (index tuples) limits the work to those entries; the others stay 0.
    """
    grad = np.zeros(x.shape, dtype=np.float64)
    for i in np.ndindex(x.shape) if entries is None else entries:
        saved = x[i]
        x[i] = saved + h
        plus = f()
        x[i] = saved - h
        minus = f()
        x[i] = saved  # exactly as it was: the same float, not saved + h - h
        grad[i] = (plus - minus) / (2 * h)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """``max |a - b| / max (|a| + |b|)``: 0 for equal arrays, 1 for opposite ones, and scale-free."""
    return float(np.max(np.abs(a - b), initial=0.0) / max(np.max(np.abs(a) + np.abs(b), initial=0.0), 1e-12))


def _compare_all(analytic, scalar, h, tolerance, max_entries, rng) -> tuple[ArrayCheck, ...]:
    noise = _rounding_noise(scalar(), h)
    checks = []
    for name, value, grad in analytic:
        _require_float64_array(name, value)
        entries = _choose_entries(value.shape, max_entries, rng)
        numerical = numerical_gradient(scalar, value, h, entries)
        if entries is not None:  # compare only what was measured
            mask = np.zeros(value.shape, dtype=bool)
            mask[tuple(np.array(entries).T)] = True
            grad = np.where(mask, grad, 0.0)
        difference = np.abs(grad - numerical)
        index = np.unravel_index(np.argmax(difference), value.shape) if value.size else ()
        check = ArrayCheck(
            name=name,
            shape=value.shape,
            relative_error=relative_error(grad, numerical),
            index=tuple(int(i) for i in index),
            analytic=float(grad[index]) + 0.0 if value.size else 0.0,  # + 0.0: no -0
            numerical=float(numerical[index]) + 0.0 if value.size else 0.0,
            entries=value.size if entries is None else len(entries),
            tolerance=tolerance,
            analytic_max=float(np.max(np.abs(grad), initial=0.0)),
            numerical_max=float(np.max(np.abs(numerical), initial=0.0)),
            noise=noise,
        )
        if not check.ok:  # is it a wrong derivative, or no derivative at all?
            check = dataclasses.replace(check, kink=_kink(scalar, value, check.index, h, tolerance))
        checks.append(check)
    return tuple(checks)


def _rounding_noise(value: float, h: float) -> float:
    """How far central differences can be from the truth by rounding alone: float64 computes ``f`` to within a
    few hundred ulps of its size, and dividing the difference of two such values by ``2h`` magnifies that."""
    return 100 * np.finfo(np.float64).eps * max(abs(value), 1.0) / h


def _kink(scalar, x, i, h, tolerance) -> tuple[float, float] | None:
    """The one-sided slopes at ``x[i]`` when they disagree: there the function has no derivative to check."""
    saved = x[i]
    centre = scalar()
    x[i] = saved - h
    left = (centre - scalar()) / h
    x[i] = saved + h
    right = (scalar() - centre) / h
    x[i] = saved
    # One-sided slopes differ by O(h) times the curvature on a smooth function; a kink makes them differ outright.
    return (left, right) if abs(left - right) > 1e3 * max(tolerance, h) * max(abs(left) + abs(right), 1.0) else None


def _own_rng(seed: int) -> np.random.Generator:
    # A stream of its own: R drawn from default_rng(0) would repeat the very numbers of an X made the same way,
    # and an R that is a function of X can make the true gradient 0 (batch normalisation's, for one).
    return np.random.default_rng([seed, 0x67726164])


def _choose_entries(shape, max_entries, rng):
    size = int(np.prod(shape))
    if max_entries is None or size <= max_entries:
        return None
    flat = rng.choice(size, max_entries, replace=False)
    return [tuple(int(i) for i in np.unravel_index(f, shape)) for f in np.sort(flat)]


def _named_parameters(layer) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(name, value, gradient)`` for each parameter; the name is the attribute that holds the value (``W``)."""
    if not hasattr(layer, "parameters"):
        return []
    attributes = {id(v): k for k, v in vars(layer).items() if isinstance(v, np.ndarray)}
    named = []
    for k, (value, grad, *_) in enumerate(layer.parameters()):
        named.append((attributes.get(id(value), f"parameter {k}"), value, grad))
    _require_float64(layer, named)
    return named


def _require_float64(owner, named) -> None:
    for name, value, _ in named:
        if np.asarray(value).dtype != np.float64:
            raise GradientError(
                f"{_kind(owner)}: {name} is {np.asarray(value).dtype}; gradient checks need float64, "
                "e.g. build it with dtype=np.float64"
            )


def _require_float64_array(name, value) -> None:
    if value.dtype != np.float64:
        raise GradientError(f"{name} is {value.dtype}; gradient checks need float64, e.g. dtype=np.float64")


def _require_methods(thing, what: str, methods) -> None:
    missing = [m for m in methods if not callable(getattr(thing, m, None))]
    if missing:
        raise TypeError(f"{thing!r} is not a {what}: it has no {', '.join(missing)} method; see digitnet.gradcheck")


def _kind(thing) -> str:
    return type(thing).__name__


class _Frozen:
    """The random state and the private arrays of some objects, to rewind before each evaluation and restore after."""

    def __init__(self, objects):
        self.objects = objects
        self.generators = [(g, g.bit_generator.state) for g in _generators(objects)]
        self.global_state = np.random.get_state()
        self.arrays = [(o, k, v, v.copy()) for o in objects for k, v in _own_arrays(o)]

    def rewind(self) -> None:
        for generator, state in self.generators:
            generator.bit_generator.state = state
        np.random.set_state(self.global_state)

    def restore(self) -> None:
        self.rewind()
        for owner, name, original, saved in self.arrays:
            if getattr(owner, name, None) is original:
                original[...] = saved  # updated in place (running statistics): put the values back
            else:
                setattr(owner, name, saved)  # rebound: put the array back


def _generators(objects) -> list[np.random.Generator]:
    found: dict[int, np.random.Generator] = {}
    for o in objects:
        for value in vars(o).values() if hasattr(o, "__dict__") else ():
            if isinstance(value, np.random.Generator):
                found[id(value)] = value
    return list(found.values())


def _own_arrays(o) -> Iterator[tuple[str, np.ndarray]]:
    for name, value in list(vars(o).items()) if hasattr(o, "__dict__") else ():
        if isinstance(value, np.ndarray):
            yield name, value
