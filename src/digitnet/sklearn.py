"""scikit-learn's estimator API: ``DigitnetClassifier`` trains a digitnet network inside any scikit-learn workflow.

    >>> from digitnet.sklearn import DigitnetClassifier          # doctest: +SKIP
    >>> from sklearn.model_selection import cross_val_score
    >>> cross_val_score(DigitnetClassifier(sizes=(784, 128, 10), epochs=5), X, y, cv=3)

Its parameters are ``TrainConfig``'s fields, with ``TrainConfig``'s defaults (one place for defaults) but one:
``dev_size`` is 0, since in scikit-learn the caller holds out data (``cross_val_score``, ``GridSearchCV``), and
a dev split of 5000 rows would not fit most data sets. ``get_params`` and ``set_params`` therefore see exactly the
options of ``digitnet train``; ``GridSearchCV(..., {"learning_rate": [0.05, 0.2]})`` searches one of them.

The data decides the two ends of ``sizes``: at ``fit`` time the first size becomes the number of features of ``X``
and the last the number of classes in ``y``; the sizes between are the hidden layers. ``sizes=(784, 800, 10)``
therefore means "one hidden layer of 800" on any data. A convolutional spec (``"conv5x5x32-pool-128-10"``, see
``digitnet.spec``) reads each row as a 28x28 image (or the image its first entry names), so ``X`` must have that
many features; its last entry, too, becomes the number of classes.

``X`` may be uint8 pixels, which are scaled to [0, 1] as everywhere in digitnet, or any other numbers, which are
used as they are (scale them first, e.g. with ``StandardScaler`` in a ``Pipeline``). Labels may be of any kind
``numpy.unique`` sorts (digits, strings...); ``classes_`` lists them and ``predict`` returns them.

A fitted classifier holds the trained ``network_`` (a ``digitnet.Network``) and its training ``history_``.
"""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import spec
from .config import TrainConfig
from .data import dev_split
from .network import Network
from .train import train

# The estimator's parameters: TrainConfig's fields and defaults, dev_size excepted (see the module docstring).
DEFAULTS = {f.name: f.default for f in dataclasses.fields(TrainConfig)} | {"dev_size": 0}


class DigitnetClassifier(ClassifierMixin, BaseEstimator):
    """A digitnet network as a scikit-learn classifier; every keyword is a ``TrainConfig`` field.

    ``fit(X, y)`` trains from scratch on (n, n_features) rows; ``predict``, ``predict_proba`` and ``score``
    (accuracy) follow scikit-learn's conventions.
    """

    def __init__(self, **params):
        # scikit-learn reads the parameters from __init__'s signature (set from DEFAULTS below) and wants them
        # stored untouched; they are checked, as TrainConfig, when fit is called.
        unknown = sorted(set(params) - set(DEFAULTS))
        if unknown:
            raise TypeError(f"DigitnetClassifier got unknown parameters {unknown}; it takes {', '.join(DEFAULTS)}")
        for name, default in DEFAULTS.items():
            setattr(self, name, params.get(name, default))

    def _config(self, n_features: int, n_classes: int) -> TrainConfig:
        params = {name: getattr(self, name) for name in DEFAULTS}
        sizes = spec.normalize(params["sizes"])
        # The ends come from the data; an image input (28x28x1, before a convolution) keeps its shape.
        first = sizes[0] if isinstance(sizes[0], str) else n_features
        params["sizes"] = (first, *sizes[1:-1], n_classes)
        config = TrainConfig(**params)
        if spec.input_width(config.sizes) != n_features:
            raise ValueError(
                f"sizes {spec.to_text(config.sizes)} reads each row as a {first} image of "
                f"{spec.input_width(config.sizes)} values, but X has {n_features} features"
            )
        return config

    def fit(self, X, y) -> DigitnetClassifier:
        # uint8 pixels stay uint8 (the network scales them); any other numbers become floats.
        X, y = validate_data(self, X, y, dtype=None if getattr(X, "dtype", None) == np.uint8 else "numeric")
        check_classification_targets(y)
        self.classes_, y_index = np.unique(y, return_inverse=True)  # labels of any kind -> 0..k-1
        config = self._config(X.shape[1], len(self.classes_))
        if config.dev_size:
            train_split, dev = dev_split(X, y_index, config.dev_size, np.random.default_rng([config.seed, 0]))
            X, y_index, X_dev, y_dev = train_split.X, train_split.y, dev.X, dev.y
        else:
            X_dev = y_dev = None
        network = Network(config.sizes, seed=config.seed, dtype=np.dtype(config.dtype), dropout=config.dropout)
        self.history_ = train(network, X, y_index, config, X_dev, y_dev).history
        self.network_ = network
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities (n, classes), columns in the order of ``classes_``; float64, each row summing to 1."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=None if getattr(X, "dtype", None) == np.uint8 else "numeric")
        P = self.network_.predict_proba(X).astype(np.float64)  # (n, k)
        return P / P.sum(axis=1, keepdims=True)  # float32 rows sum to 1 within 1e-7; scikit-learn checks tighter

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row, as one of ``classes_``."""
        check_is_fitted(self)
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False  # the same seed gives the same network
        return tags


# Give __init__ the signature scikit-learn reads its parameter names and defaults from: one keyword per field.
DigitnetClassifier.__init__.__signature__ = inspect.Signature(
    [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    + [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=value) for name, value in DEFAULTS.items()]
)
