"""Property: no byte string fed to the file readers ends in anything but digitnet's own one-line error."""

import gzip

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digitnet.data import read_csv, read_idx
from digitnet.errors import DataError

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Byte strings that start like the real thing reach deeper into the parsers than uniform noise does.
CSV_PREFIXES = st.sampled_from([b"", b"label,", b"label,pixel0\n", b"\xef\xbb\xbflabel," + b"pixel0," * 5])
IDX_PREFIXES = st.sampled_from([b"", b"\x00\x00\x08\x03", b"\x00\x00\x08\x03\x00\x00\x00\x01\x00\x00\x00\x1c"])


def check_only_data_errors(read, path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        read(path)
    except DataError as error:
        assert "\n" not in str(error)
    except Exception as error:  # pragma: no cover - a failure shows the stray exception
        pytest.fail(f"{type(error).__name__} escaped for input {data[:60]!r}: {error}")


@SETTINGS
@given(prefix=CSV_PREFIXES, body=st.binary(max_size=400), compress=st.booleans())
def test_random_bytes_to_the_csv_reader(tmp_path, prefix, body, compress):
    data = prefix + body
    check_only_data_errors(read_csv, tmp_path / "fuzz.csv", gzip.compress(data) if compress else data)


@SETTINGS
@given(text=st.text(alphabet="0123456789,.-\n\r labelpix", max_size=300))
def test_random_csv_like_text_to_the_csv_reader(tmp_path, text):
    check_only_data_errors(read_csv, tmp_path / "fuzz.csv", text.encode())


@SETTINGS
@given(prefix=IDX_PREFIXES, body=st.binary(max_size=400), compress=st.booleans())
def test_random_bytes_to_the_idx_reader(tmp_path, prefix, body, compress):
    data = prefix + body
    check_only_data_errors(read_idx, tmp_path / "fuzz-idx3-ubyte", gzip.compress(data) if compress else data)
