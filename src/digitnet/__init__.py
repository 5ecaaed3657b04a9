"""digitnet: a neural network written from scratch in NumPy that learns handwritten digits.

Shapes, once for the whole package: **rows are examples**. A batch of digits ``X`` is (n, 784), a layer's weights
``W`` are (n_in, n_out), its bias ``b`` is (n_out,), and a layer computes ``Z = X @ W + b`` (n, n_out).

- Coming from the notebook "Simple MNIST NN from scratch": it stores one example per *column* (``X`` is (784, n),
  ``W1`` is (10, 784), ``Z1 = W1 @ X + b1``). digitnet's arrays are the transposes of the notebook's.
- Coming from Nielsen's "Neural Networks and Deep Learning": his ``w`` is (n_out, n_in) and works on one column
  vector at a time; digitnet handles a whole batch of rows in one matrix product.

    >>> from digitnet import Network
    >>> net = Network([784, 10, 10], seed=0)

Modules: ``layers`` (Dense, ReLU, Dropout), ``gradcheck`` (your own layer, loss or network against central
differences), ``losses`` (softmax cross-entropy, with label smoothing), ``network``,
``optim`` (gradient descent, momentum, Adam, schedules with warm-up, max-norm), ``augment`` (random affine and
elastic distortions of a batch), ``config`` (TrainConfig and presets), ``train`` (the training loop), ``data``
(every source of digits), ``io`` (model files), ``experiment`` (a whole run), ``metrics`` (confusion matrix,
precision, recall, calibration), ``plots`` (figures), ``report`` (a run's figures and report.html), ``progress``
(the command line's progress bars), ``cli``, and the drawing page's room ``web`` (``web.drawing``, a drawing
prepared as MNIST was; ``web.corrections``, your own labelled digits; ``web.serve``, the web app; ``web.export``, the
page as static files). Beyond digitnet, each an optional extra: ``export`` (``export.onnx``, an ONNX graph), ``sklearn``
(``DigitnetClassifier``, scikit-learn's estimator API) and ``sweep`` (searches on Optuna, on one machine or many).
"""

from .config import PRESETS, TrainConfig
from .errors import ConfigError, DataError, DigitnetError, DivergenceError, ModelFileError
from .gradcheck import GradientError, assert_gradients, check_gradients
from .layers import Dense, Dropout, ReLU
from .losses import SoftmaxCrossEntropy
from .network import Network
from .optim import Adam, GradientDescent, Momentum
from .train import Trainer, train

__version__ = "0.1.0"
__all__ = [
    "PRESETS",
    "Adam",
    "ConfigError",
    "DataError",
    "Dense",
    "DigitnetError",
    "DivergenceError",
    "Dropout",
    "GradientDescent",
    "GradientError",
    "ModelFileError",
    "Momentum",
    "Network",
    "ReLU",
    "SoftmaxCrossEntropy",
    "TrainConfig",
    "Trainer",
    "assert_gradients",
    "check_gradients",
    "train",
]
