"""One place for defaults: the training configuration and its named presets.

Every command-line option of ``digitnet train`` is a field here (``--learning-rate`` sets ``learning_rate``), and a
preset is nothing but a named instance of this dataclass.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from . import spec
from .errors import ConfigError

OPTIMIZERS = ("gd", "momentum", "adam")
SCHEDULES = ("constant", "step", "cosine")


@dataclass(frozen=True)
class TrainConfig:
    sizes: tuple[int | str, ...] = field(
        default=(784, 800, 10),
        metadata={"help": "the layers, input first, classes last: 784,800,10 or conv5x5x32-pool-800-10 (spec.py)"},
    )
    epochs: int = field(default=16, metadata={"help": "passes over the training data (full batch: iterations)"})
    batch_size: int = field(default=512, metadata={"help": "examples per step; 0 = the whole training set"})
    optimizer: str = field(default="momentum", metadata={"help": "gd, momentum or adam"})
    learning_rate: float = field(default=0.2, metadata={"help": "step size at the start of the schedule"})
    momentum: float = field(default=0.9, metadata={"help": "momentum coefficient (momentum optimiser)"})
    nesterov: bool = field(default=True, metadata={"help": "Nesterov momentum"})
    weight_decay: float = field(default=0.0, metadata={"help": "L2 penalty on weights (not biases)"})
    schedule: str = field(default="cosine", metadata={"help": "learning-rate schedule: constant, step or cosine"})
    step_every: int = field(default=10, metadata={"help": "step schedule: epochs between decays"})
    step_gamma: float = field(default=0.1, metadata={"help": "step schedule: factor applied at each decay"})
    dev_size: int = field(default=5000, metadata={"help": "training rows held out to choose and stop on"})
    patience: int = field(
        default=0, metadata={"help": "stop after this many reports without a better dev loss; 0 = off"}
    )
    report_every: int = field(default=1, metadata={"help": "epochs (full batch: iterations) between reports"})
    # Regularisation (0 = off)
    dropout: float = field(default=0.0, metadata={"help": "fraction of hidden units dropped each step (inverted)"})
    max_norm: float = field(default=0.0, metadata={"help": "largest length of a unit's incoming weights; 0 = off"})
    label_smoothing: float = field(default=0.0, metadata={"help": "share of the target spread over all classes"})
    warmup_epochs: float = field(default=0.0, metadata={"help": "epochs of linear learning-rate warm-up from 0"})
    # Augmentation: each batch is distorted afresh; each value is the largest change drawn either way (0 = off)
    rotate: float = field(default=0.0, metadata={"help": "random rotation, degrees"})
    scale: float = field(default=0.0, metadata={"help": "random scaling of each axis, fraction (0.1 = 0.9 to 1.1)"})
    shear: float = field(default=0.0, metadata={"help": "random shear, degrees"})
    shift: float = field(default=0.0, metadata={"help": "random translation, pixels"})
    elastic_alpha: float = field(default=0.0, metadata={"help": "elastic distortion strength, pixels (Simard: 34)"})
    elastic_sigma: float = field(default=4.0, metadata={"help": "smoothness of the elastic distortion, pixels"})
    seed: int = field(
        default=0, metadata={"help": "seeds the weights, dropout, the dev split, the shuffling and the augmentation"}
    )
    dtype: str = field(default="float32", metadata={"help": "float32, or float64 for exact checks"})

    def __post_init__(self):
        object.__setattr__(self, "sizes", spec.normalize(self.sizes))  # one spelling of each spec: ("28x28x1", ...)
        check_config(self)

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **changes)


def check_config(config: TrainConfig) -> None:
    """Refuse out-of-range values with a message that names the field and the value."""
    positive = {"epochs": config.epochs, "report_every": config.report_every, "learning_rate": config.learning_rate}
    for name, value in positive.items():
        if not value > 0:
            raise ConfigError(f"{name} must be greater than 0, got {value}; pass --{name.replace('_', '-')} N")
    non_negative = {
        "batch_size": config.batch_size,
        "dev_size": config.dev_size,
        "patience": config.patience,
        "weight_decay": config.weight_decay,
        "seed": config.seed,
        "max_norm": config.max_norm,
        "warmup_epochs": config.warmup_epochs,
        "rotate": config.rotate,
        "scale": config.scale,
        "shear": config.shear,
        "shift": config.shift,
        "elastic_alpha": config.elastic_alpha,
    }
    for name, value in non_negative.items():
        if value < 0:
            raise ConfigError(f"{name} must be 0 or more, got {value}; pass --{name.replace('_', '-')} N")
    if not 0 <= config.momentum < 1:
        raise ConfigError(f"momentum must be in [0, 1), got {config.momentum}")
    for name in ("dropout", "label_smoothing"):
        value = getattr(config, name)
        if not 0 <= value < 1:
            raise ConfigError(
                f"{name} must be at least 0 and below 1, got {value}; e.g. --{name.replace('_', '-')} 0.1"
            )
    if not config.elastic_sigma > 0:
        raise ConfigError(f"elastic_sigma must be greater than 0, got {config.elastic_sigma}; e.g. --elastic-sigma 4")
    if config.scale >= 1:
        raise ConfigError(f"scale must be below 1 (a fraction: 0.1 scales by 0.9 to 1.1), got {config.scale}")
    spec.plan(config.sizes)  # every layer's shapes, or an error naming the layer
    for name, value, allowed in [
        ("optimizer", config.optimizer, OPTIMIZERS),
        ("schedule", config.schedule, SCHEDULES),
        ("dtype", config.dtype, ("float32", "float64")),
    ]:
        if value not in allowed:
            raise ConfigError(f"{name} {value!r} is not one of {', '.join(allowed)}")


PRESETS: dict[str, TrainConfig] = {
    # The notebook "Simple MNIST NN from scratch", bugs fixed: [784, 10, 10], full-batch gradient descent at
    # learning rate 0.1 for 500 iterations, accuracy every 10, 1000 training rows held out as the dev set.
    "seed": TrainConfig(
        sizes=(784, 10, 10),
        epochs=500,
        batch_size=0,
        optimizer="gd",
        learning_rate=0.1,
        nesterov=False,
        schedule="constant",
        dev_size=1000,
        report_every=10,
    ),
    # The default: [784, 800, 10] for 16 epochs at batch 512, about half a minute on two cores. Batch 512 at learning
    # rate 0.2 reached the dev accuracy of batch 128 at 0.05 in as many epochs, each about 1.6x faster: the update
    # runs a quarter as often (benchmarks/ACCURACY-NOTES.md).
    "fast": TrainConfig(),
    # Past the published records for fully connected networks, in about 22 minutes on two cores: two hidden layers
    # of 1024, and every batch freshly distorted by a small random rotation and scaling plus an elastic distortion
    # (Simard et al. 2003, with the smoother field of Ciresan et al. 2010). No shift or shear: a fully connected
    # network has to learn every position separately, and they slowed learning more than they helped. Chosen on
    # the dev split (benchmarks/RESULTS.md says how).
    "best": TrainConfig(
        sizes=(784, 1024, 1024, 10),
        epochs=150,
        batch_size=256,
        learning_rate=0.1,
        rotate=10.0,
        scale=0.1,
        elastic_alpha=36.0,
        elastic_sigma=6.0,
    ),
    # A convolutional network (spec.py): two 5×5 convolutions of 32 and 64 channels without padding, each batch
    # normalised and 2×2 max-pooled, then 256 units with dropout: LeNet-5's shape with its widths of today, the
    # "32C5-P2-64C5-P2-128" that Kaggle's Digit Recognizer notebooks converged on. Every batch is freshly rotated,
    # scaled and shifted, which a convolution, sharing its kernels across positions, learns from far better than a
    # fully connected network does. benchmarks/ACCURACY-NOTES.md says how it was chosen and what it reaches.
    "cnn": TrainConfig(
        sizes=("28x28x1", "conv5x5x32:valid", "bn", "pool", "conv5x5x64:valid", "bn", "pool", 256, 10),
        epochs=20,
        batch_size=128,
        learning_rate=0.05,
        weight_decay=5e-4,
        dropout=0.4,
        rotate=10.0,
        scale=0.1,
        shift=2.0,
    ),
}
DEFAULT_PRESET = "fast"
