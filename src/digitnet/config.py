"""One place for defaults: the training configuration and its named presets.

Every command-line option of ``digitnet train`` is a field here (``--learning-rate`` sets ``learning_rate``), and a
preset is nothing but a named instance of this dataclass.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from . import spec
from .errors import ConfigError

OPTIMIZERS = ("gd", "momentum", "adam")
# The learning rate an optimiser starts from when it is chosen without one (``with_optimizer``): Adam divides each
# step by the gradient's running size, so it wants steps hundreds of times smaller than momentum SGD; plain gradient
# descent has no velocity to lengthen its steps (momentum 0.9 makes them up to 10x longer), so it wants larger ones.
# Measured on the fast recipe's dev accuracy (benchmarks/ACCURACY-NOTES.md).
LEARNING_RATES = {"adam": 0.003, "gd": 2.0}
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
    precise_bn: bool = field(
        default=False, metadata={"help": "after training, batch norm's statistics from the undistorted training set"}
    )
    swa_epochs: int = field(
        default=0, metadata={"help": "end on the mean of the weights after each of the last this many epochs (SWA)"}
    )
    # Augmentation: each batch is distorted afresh; each value is the largest change drawn either way (0 = off)
    rotate: float = field(default=0.0, metadata={"help": "random rotation, degrees"})
    scale: float = field(default=0.0, metadata={"help": "random scaling of each axis, fraction (0.1 = 0.9 to 1.1)"})
    shear: float = field(default=0.0, metadata={"help": "random shear, degrees"})
    shift: float = field(default=0.0, metadata={"help": "random translation, pixels"})
    elastic_alpha: float = field(default=0.0, metadata={"help": "elastic distortion strength, pixels (Simard: 34)"})
    elastic_sigma: float = field(default=4.0, metadata={"help": "smoothness of the elastic distortion, pixels"})
    flip: float = field(default=0.0, metadata={"help": "chance of a left-right mirror (clothes, not digits)"})
    crop: int = field(default=0, metadata={"help": "random translation by whole pixels, which keeps images sharp"})
    erase: float = field(default=0.0, metadata={"help": "chance of a random rectangle erased (Zhong et al. 2017)"})
    seed: int = field(
        default=0, metadata={"help": "seeds the weights, dropout, the dev split, the shuffling and the augmentation"}
    )
    dtype: str = field(default="float32", metadata={"help": "float32, or float64 for exact checks"})
    data_parallel: int = field(
        default=1, metadata={"help": "copies of the network, each taking a part of every batch on its own thread"}
    )

    def __post_init__(self):
        object.__setattr__(self, "sizes", spec.normalize(self.sizes))  # one spelling of each spec: ("28x28x1", ...)
        check_config(self)

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def with_optimizer(self, optimizer: str) -> TrainConfig:
        """This configuration with another optimiser, at that optimiser's own learning rate when it has one."""
        if optimizer == self.optimizer:
            return self
        return self.replace(optimizer=optimizer, learning_rate=LEARNING_RATES.get(optimizer, self.learning_rate))


@dataclass(frozen=True)
class Range:
    """The values a numeric field accepts: from ``low`` to ``high``, each end included or not. Never NaN."""

    low: float
    high: float = math.inf
    low_included: bool = True
    high_included: bool = False

    def __contains__(self, value: float) -> bool:
        above = value >= self.low if self.low_included else value > self.low
        below = value <= self.high if self.high_included else value < self.high
        return above and below  # both False for NaN

    def __str__(self) -> str:
        low = f"{self.low:g} or more" if self.low_included else f"greater than {self.low:g}"
        if self.high == math.inf:
            return low
        if self.low_included:
            low = f"at least {self.low:g}"
        return f"{low} and {'at most' if self.high_included else 'below'} {self.high:g}"


POSITIVE, NON_NEGATIVE, FRACTION = Range(0, low_included=False), Range(0), Range(0, 1)  # FRACTION: [0, 1)
RANGES: dict[str, Range] = {  # every numeric field of TrainConfig
    "epochs": POSITIVE,
    "batch_size": NON_NEGATIVE,
    "learning_rate": POSITIVE,
    "momentum": FRACTION,
    "weight_decay": NON_NEGATIVE,
    "step_every": POSITIVE,  # a division: 0 would end the first step in ZeroDivisionError
    "step_gamma": Range(0, 1, low_included=False, high_included=True),  # a decay: 1 keeps the rate, 0 stops it
    "dev_size": NON_NEGATIVE,
    "patience": NON_NEGATIVE,
    "report_every": POSITIVE,
    "dropout": FRACTION,
    "max_norm": NON_NEGATIVE,
    "label_smoothing": FRACTION,
    "warmup_epochs": NON_NEGATIVE,
    "swa_epochs": NON_NEGATIVE,
    "rotate": Range(0, 180, high_included=True),
    "scale": FRACTION,  # 1 would scale an axis down to nothing
    "shear": Range(0, 90),  # the slant is tan(shear): 90 degrees is infinite
    "shift": Range(0, 28, high_included=True),  # pixels; a shift of the whole image leaves it blank
    "elastic_alpha": NON_NEGATIVE,
    "elastic_sigma": Range(0, 28, low_included=False, high_included=True),  # the smoothing matrix is 28 wide
    "flip": Range(0, 1, high_included=True),  # a probability
    "crop": Range(0, 27, high_included=True),  # pixels; a crop of 28 could leave the image blank
    "erase": Range(0, 1, high_included=True),  # a probability
    "seed": NON_NEGATIVE,
    "data_parallel": Range(1, 16, high_included=True),
}
CHOICES = {"optimizer": OPTIMIZERS, "schedule": SCHEDULES, "dtype": ("float32", "float64")}
MAX_WIDTH = 1 << 16  # widest layer a TrainConfig accepts: [784, 65536] float32 weights are 200 MB


def check_config(config: TrainConfig) -> None:
    """Refuse a value of the wrong type or out of range, with one line that names the field, the value and a fix."""
    defaults = TrainConfig.__dataclass_fields__
    for name, allowed in RANGES.items():
        value, default = getattr(config, name), defaults[name].default
        whole = isinstance(default, int)  # a count or a seed; the rest are reals
        # Python's own int and float only (no bool, no NumPy scalars): checkpoints and summaries store them as JSON
        if isinstance(value, bool) or not isinstance(value, int if whole else int | float):
            kind = "a whole number" if whole else "a number"
            raise ConfigError(f"{name} must be {kind}, got {value!r}; e.g. {_flag(name)} {default}")
        if value not in allowed:
            raise ConfigError(f"{name} must be {allowed}, got {value!r}; e.g. {_flag(name)} {default}")
    for name, allowed in CHOICES.items():
        value = getattr(config, name)
        if not isinstance(value, str) or value not in allowed:
            raise ConfigError(f"{name} {value!r} is not one of {', '.join(allowed)}")
    for name in ("nesterov", "precise_bn"):
        value = getattr(config, name)
        if not isinstance(value, bool):
            flag = _flag(name)
            raise ConfigError(f"{name} must be True or False, got {value!r}; pass {flag} or --no-{flag[2:]}")
    _, plans = spec.plan(config.sizes)  # every layer's shapes, or an error naming the layer
    if config.precise_bn and not any(plan.kind == "bn" for plan in plans):
        raise ConfigError(
            f"precise_bn recalibrates batch norm, and sizes {spec.to_text(config.sizes)} has no bn layer; "
            "add one (e.g. conv5x5x32-bn-pool-800-10) or drop --precise-bn"
        )
    if config.swa_epochs > config.epochs:
        raise ConfigError(
            f"swa_epochs {config.swa_epochs} averages more epochs than the run's {config.epochs}; "
            f"e.g. --swa-epochs {max(1, config.epochs // 4)} (the last quarter)"
        )
    if config.swa_epochs and config.patience:
        raise ConfigError(
            "swa_epochs averages the last epochs and patience may stop before them; pass --patience 0 or --swa-epochs 0"
        )
    if any(isinstance(s, int) and s > MAX_WIDTH for s in config.sizes):
        raise ConfigError(
            f"sizes {spec.to_text(config.sizes)} has a layer wider than {MAX_WIDTH}; e.g. --sizes 784,800,10"
        )


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


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
    # The default: [784, 800, 10] for 10 epochs at batch 512, under 20 s of training on two cores. Twice the
    # learning rate of the 16-epoch recipe before it (0.4, reached by a linear warm-up over the first epoch) and
    # label smoothing 0.1 gave a higher dev accuracy in 10 epochs than that recipe in 16 (benchmarks/ACCURACY-NOTES.md).
    "fast": TrainConfig(epochs=10, learning_rate=0.4, warmup_epochs=1.0, label_smoothing=0.1),
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
    # A convolutional network (spec.py): two 5×5 convolutions of 48 and 96 channels without padding, each batch
    # normalised and 2×2 max-pooled, then 512 units with dropout: LeNet-5's shape, the "32C5-P2-64C5-P2-128" that
    # Kaggle's Digit Recognizer notebooks converged on, half as wide again. Every batch is freshly rotated,
    # scaled and shifted, which a convolution, sharing its kernels across positions, learns from far better than a
    # fully connected network does. Two copies of the network each take half of every batch on a thread of their
    # own (parallel.py): a step 1.6-1.8x faster, so 40 epochs take less time than 20 did on one copy. Label
    # smoothing 0.1 took seed 0's dev accuracy from 99.38% to 99.46%, in steps that cost the same. The recipe was
    # chosen with 5000 rows held out for 40 epochs (`--dev-size 5000 --epochs 40`); once chosen, the preset trains
    # on every training digit (scikit-learn's refit, and how the published MNIST results were trained), 37 epochs
    # of 60,000 digits for the same number of steps. benchmarks/ACCURACY-NOTES.md says how and what it reaches.
    "cnn": TrainConfig(
        sizes=("28x28x1", "conv5x5x48:valid", "bn", "pool", "conv5x5x96:valid", "bn", "pool", 512, 10),
        epochs=37,
        dev_size=0,
        batch_size=128,
        learning_rate=0.05,
        weight_decay=5e-4,
        dropout=0.4,
        label_smoothing=0.1,
        rotate=10.0,
        scale=0.1,
        shift=2.0,
        data_parallel=2,
    ),
}
# The same network for Fashion-MNIST's clothes, which have no handedness and come upright: every batch freshly
# mirrored left to right (half of the pictures) and shifted, neither rotated nor scaled. Chosen on its dev split
# (benchmarks/ACCURACY-NOTES.md): 93.22% dev accuracy on seed 0, where the digits' recipe had 91.62% (3 seeds).
# It keeps the narrower network it was chosen with: the cnn preset's wider one did not beat it there (93.16%
# against 93.22% dev accuracy on seed 0), and nor did whole-pixel shifts or random erasing. It trains for 80
# epochs, not 40 or 60: 93.70% dev accuracy on seed 0 (93.22% at 40, 93.28% at 60), dev loss 0.172 (0.182, 0.174).
# Its targets are not smoothed: label smoothing came to the digits' recipe after this one was chosen and measured,
# and it keeps its 5000 dev rows, as its three seeds were measured (the digits' refit came later too).
PRESETS["cnn-fashion"] = PRESETS["cnn"].replace(
    sizes=("28x28x1", "conv5x5x32:valid", "bn", "pool", "conv5x5x64:valid", "bn", "pool", 256, 10),
    epochs=80,
    dev_size=5000,
    label_smoothing=0.0,
    rotate=0.0,
    scale=0.0,
    flip=0.5,
)
DEFAULT_PRESET = "fast"
