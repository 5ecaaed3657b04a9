"""The errors digitnet raises at its boundaries, one class per kind of bad input.

Each message is one line that names the bad value and says how to fix it. The command line prints the message
and exits with the class's ``exit_code`` (documented in the README); nothing else in the library catches them.
"""


class DigitnetError(Exception):
    """Base class: a problem the user can fix, with a one-line message."""

    exit_code = 1


class ConfigError(DigitnetError):
    """An option or constructor argument out of range."""

    exit_code = 2


class DataError(DigitnetError):
    """A data file or source that cannot be read as digits."""

    exit_code = 3


class ModelFileError(DigitnetError):
    """A model or checkpoint file that is missing, damaged, or not a digitnet model."""

    exit_code = 4


class DivergenceError(DigitnetError):
    """The loss became NaN or infinite; the network keeps its last good weights."""

    exit_code = 5
