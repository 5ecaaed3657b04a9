"""The corrections file: each correction a labelled digit in a Kaggle CSV that training reads."""

import threading

import numpy as np
import pytest

from digitnet.corrections import HEADER, Corrections
from digitnet.data import load, read_csv
from digitnet.errors import ConfigError, DataError


def test_corrections_are_a_csv_that_training_reads(tmp_path):
    X = load("sample").test.X[:3]
    corrections = Corrections(tmp_path / "mine" / "corrections.csv")  # the folder is made as needed
    assert corrections.count == 0 and not corrections.path.exists()
    for label, pixels in zip([4, 0, 9], X, strict=True):
        corrections.add(pixels.reshape(28, 28), label)
    assert corrections.count == 3
    split = read_csv(corrections.path, require_labels=True)
    assert np.array_equal(split.X, X) and split.y.tolist() == [4, 0, 9]
    assert Corrections(corrections.path).count == 3  # a new session finds them


def test_concurrent_corrections_all_land(tmp_path):
    corrections = Corrections(tmp_path / "corrections.csv")
    digits = np.arange(20 * 784, dtype=np.int64).reshape(20, 784).astype(np.uint8)

    def add(i):
        corrections.add(digits[i], i % 10)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    split = read_csv(corrections.path)
    assert corrections.count == 20 and len(split.y) == 20
    assert sorted(split.X[:, 0].tolist()) == sorted(digits[:, 0].tolist())
    assert [p.name for p in tmp_path.iterdir()] == ["corrections.csv"]  # no temporary files left behind


def test_a_file_that_is_not_a_corrections_file_is_refused(tmp_path):
    other = tmp_path / "notes.csv"
    other.write_text("name,score\nada,3\n")
    with pytest.raises(ConfigError, match=r"notes\.csv is not a corrections file"):
        Corrections(other)
    assert other.read_text() == "name,score\nada,3\n"


def test_a_file_replaced_by_something_else_is_not_appended_to(tmp_path):
    corrections = Corrections(tmp_path / "corrections.csv")
    corrections.path.write_text("name,score\n")
    with pytest.raises(ConfigError, match="is no longer a corrections file"):
        corrections.add(np.zeros(784, np.uint8), 3)
    assert corrections.path.read_text() == "name,score\n"


def test_an_unwritable_place_is_refused_at_once(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="cannot write corrections file"):
        Corrections(blocker / "corrections.csv")


@pytest.mark.parametrize(
    "pixels, label, message",
    [
        (np.zeros(784, np.uint8), 10, "label 10 is not a digit"),
        (np.zeros(784, np.uint8), "3", "label '3' is not a digit"),
        (np.zeros(783, np.uint8), 3, "784 uint8 pixels"),
        (np.zeros(784, np.float32), 3, "784 uint8 pixels"),
    ],
)
def test_a_bad_correction_is_refused(tmp_path, pixels, label, message):
    corrections = Corrections(tmp_path / "corrections.csv")
    with pytest.raises(DataError, match=message):
        corrections.add(pixels, label)
    assert corrections.count == 0


def test_the_header_is_kaggles():
    assert HEADER.split(",")[:3] == ["label", "pixel0", "pixel1"] and HEADER.endswith("pixel783")
