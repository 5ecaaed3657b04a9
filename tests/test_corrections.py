"""The corrections file: each correction a labelled digit in a Kaggle CSV that training reads."""

import threading

import numpy as np
import pytest

from digitnet.data import load, read_csv
from digitnet.errors import ConfigError, DataError
from digitnet.web.corrections import HEADER, Corrections


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


# ------------------------------------------------------------------------------------ under concurrency
BURST = 200


def burst_bodies() -> list[dict]:
    """BURST distinct prepared digits, each with its label: pixel 0 carries the request's number."""
    rng = np.random.default_rng(0)
    bodies = []
    for i in range(BURST):
        pixels = rng.integers(0, 256, 784)
        pixels[0], pixels[1] = i % 256, i // 256
        bodies.append({"pixels": pixels.tolist(), "prepared": True, "label": i % 10})
    return bodies


def parses(path) -> int:
    """Rows in the corrections file, after checking it is whole: the header, then complete rows of 785 numbers."""
    text = path.read_text(encoding="utf-8")
    assert text.startswith(HEADER + "\n") and text.endswith("\n")
    rows = text.splitlines()[1:]
    assert all(len(row.split(",")) == 785 for row in rows)
    return len(rows)


async def post_all(url: str, bodies: list[dict], on_response=None) -> list[int]:
    """POST every body to /api/corrections at once; the status of each (0 when the connection failed)."""
    import asyncio

    import httpx

    limits = httpx.Limits(max_connections=len(bodies))
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:

        async def post(body):
            try:
                response = await client.post("/api/corrections", json=body)
            except httpx.TransportError:
                return 0
            if on_response is not None:
                on_response()
            return response.status_code

        return await asyncio.gather(*(post(body) for body in bodies))


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    from digitnet.io import save_model
    from digitnet.network import Network

    path = tmp_path_factory.mktemp("model") / "model.safetensors"
    save_model(Network([784, 16, 10], seed=0), path)
    return path


def test_200_concurrent_posts_give_200_rows_and_the_file_parses_after_every_write(model_path, tmp_path):
    import asyncio

    from digitnet.web import serve
    from live import live_server

    path = tmp_path / "corrections.csv"
    app = serve.create_app(model_path, path)
    seen, done = [], threading.Event()

    def watch():  # reads the file over and over while the burst lands: every read must be a whole file
        while not done.is_set():
            if path.exists():
                seen.append(parses(path))

    watcher = threading.Thread(target=watch)
    sockets = serve.open_sockets("127.0.0.1", 0)
    with live_server(app, sockets):
        watcher.start()
        try:
            statuses = asyncio.run(post_all(serve.url(sockets[0]), burst_bodies()))
        finally:
            done.set()
            watcher.join()
    assert statuses == [200] * BURST
    assert parses(path) == BURST
    split = read_csv(path, require_labels=True)
    numbers = sorted((split.X[:, 0].astype(int) + 256 * split.X[:, 1].astype(int)).tolist())
    assert numbers == list(range(BURST))  # each request's digit exactly once
    assert seen == sorted(seen) and len(seen) > 1  # the file only ever grew, whole at every look
    assert [p.name for p in tmp_path.iterdir()] == ["corrections.csv"]


def test_a_server_killed_mid_burst_leaves_a_whole_file(model_path, tmp_path):
    import asyncio
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    path = tmp_path / "corrections.csv"
    src = Path(__file__).resolve().parents[1] / "src"
    command = [sys.executable, "-m", "digitnet", "serve", str(model_path), "--port", "0", "--corrections", str(path)]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(src)}
    )
    try:
        line = process.stdout.readline()
        url = line.split(" at ", 1)[1].split()[0]
        answered = []

        def kill_after_some():
            answered.append(1)
            if len(answered) == 20:
                process.send_signal(signal.SIGKILL)  # in the middle of the burst, writes under way

        statuses = asyncio.run(post_all(url, burst_bodies(), kill_after_some))
    finally:
        process.kill()
        process.communicate()
    assert process.returncode == -signal.SIGKILL
    ok = statuses.count(200)
    assert 20 <= ok < BURST  # the kill landed mid-burst
    rows = parses(path)  # whole: no torn row, however the kill fell
    assert ok <= rows <= BURST  # every answered write is there (more may have landed unanswered)
    split = read_csv(path, require_labels=True)
    numbers = (split.X[:, 0].astype(int) + 256 * split.X[:, 1].astype(int)).tolist()
    assert len(set(numbers)) == len(numbers) == rows  # each a whole request, none twice
    assert Corrections(path).count == rows  # the next session carries on from it, and its debris is gone
    assert [p.name for p in tmp_path.iterdir()] == ["corrections.csv"]
