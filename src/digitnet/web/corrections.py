"""Your own digits: a Kaggle-format CSV that grows by one labelled digit each time you correct the network.

The file is ``label,pixel0,...,pixel783`` with one prepared 28x28 digit per row, exactly what ``data.read_csv``
reads, so ``digitnet train --data corrections.csv`` trains on it. Every addition rewrites the whole file
atomically (``files.write_text``): a crash leaves the old file or the new one, never a torn row. A lock makes
additions from concurrent requests of one process take turns; two processes must not share one file.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

import numpy as np

from ..data import PIXELS
from ..errors import ConfigError, DataError
from ..files import remove_stale_partials, write_text

HEADER = "label," + ",".join(f"pixel{i}" for i in range(PIXELS))


class Corrections:
    """The corrections file at ``path``, which may not exist yet; refuses a file that is not one."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._count = self._check()

    def _check(self) -> int:
        # Fail now, before anyone draws, if the file is something else or cannot be written.
        path = self.path
        remove_stale_partials(path)  # a server killed while writing leaves its temporary file; the file is whole
        if path.exists():
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                raise ConfigError(f"cannot read corrections file {path} ({error}); pass another path") from None
            if text.split("\n", 1)[0].strip() != HEADER:
                raise ConfigError(
                    f"{path} is not a corrections file (its first line is not label,pixel0,...,pixel783); "
                    "pass another path"
                )
            return _rows(text)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=path.parent):
                pass
        except OSError as error:
            raise ConfigError(
                f"cannot write corrections file {path} ({error.strerror or error}); pass another path"
            ) from None
        return 0

    @property
    def count(self) -> int:
        """How many digits the file holds."""
        return self._count

    def add(self, pixels: np.ndarray, label: int) -> int:
        """Append one prepared digit (28, 28) or (784,) uint8 with its ``label`` 0-9; returns the new count."""
        pixels = np.asarray(pixels)
        if pixels.size != PIXELS or pixels.dtype != np.uint8:
            raise DataError(f"a correction is 784 uint8 pixels, got {pixels.dtype}{list(pixels.shape)}")
        if not (isinstance(label, int | np.integer) and not isinstance(label, bool) and 0 <= label <= 9):
            raise DataError(f"label {label!r} is not a digit; pass an integer from 0 to 9")
        row = f"{int(label)}," + ",".join(map(str, pixels.ravel().tolist())) + "\n"
        with self._lock:
            text = self.path.read_text(encoding="utf-8") if self.path.exists() else HEADER + "\n"
            if not text.startswith(HEADER):
                raise ConfigError(f"{self.path} is no longer a corrections file (its header changed); move it away")
            if not text.endswith("\n"):
                text += "\n"
            text += row
            write_text(self.path, text)
            self._count = _rows(text)
            return self._count


def _rows(text: str) -> int:
    return sum(1 for line in text.splitlines()[1:] if line.strip())
