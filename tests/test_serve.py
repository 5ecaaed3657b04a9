"""The drawing page's server, through FastAPI's test client: the page, the JSON API and every kind of bad request."""

import base64
import io
import re
import socket

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from digitnet.cli import main
from digitnet.data import load, read_csv
from digitnet.errors import ConfigError, ModelFileError
from digitnet.io import load_model, save_model
from digitnet.network import Network
from digitnet.web import serve
from live import live_server
from strokes import DIGITS, render


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def data_url(image: Image.Image) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode()


@pytest.fixture
def corrections_path(tmp_path):
    return tmp_path / "corrections.csv"


@pytest.fixture
def client(reader_model, corrections_path):
    app = serve.create_app(reader_model, corrections_path, allowed_hosts=["127.0.0.1", "localhost", "testserver"])
    with TestClient(app) as client:
        yield client


# ------------------------------------------------------------------------------------------------ the page
def test_the_page_and_its_files_come_from_this_server_alone(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<canvas id="pad"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name in ("app.js", "style.css"):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200
    # offline: nothing from another host, in any of the page's files
    for path in serve.STATIC.iterdir():
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", path.read_text()), path.name


@pytest.mark.parametrize("path", ["/static/../io.py", "/static/%2e%2e/io.py", "/static/..%2fio.py", "/io.py"])
def test_nothing_outside_the_static_folder_is_served(client, path):
    assert client.get(path).status_code == 404


def test_the_interactive_docs_are_off_but_the_schema_describes_the_api(client):
    assert client.get("/docs").status_code == 404  # they load scripts from a CDN
    schema = client.get("/openapi.json").json()
    assert {"/api/predict", "/api/corrections", "/api/model"} <= set(schema["paths"])
    drawing = schema["components"]["schemas"]["Drawing"]["properties"]
    assert {"png", "pixels", "prepared"} <= set(drawing)
    label = schema["components"]["schemas"]["Correction"]["properties"]["label"]
    assert (label["minimum"], label["maximum"]) == (0, 9)
    refusal = schema["paths"]["/api/predict"]["post"]["responses"]["422"]["content"]["application/json"]["schema"]
    assert refusal == {"$ref": "#/components/schemas/Problem"}  # {"detail": "one line"}, as the API answers


def test_model_info(client):
    info = client.get("/api/model").json()
    assert info["sizes"] == [784, 128, 10] and info["corrections"] == 0
    assert 0.8 < info["test_accuracy"] <= 1


# ------------------------------------------------------------------------------------------------ predict
@pytest.mark.parametrize("digit", sorted(DIGITS))
def test_a_drawn_digit_is_read(client, digit):
    response = client.post("/api/predict", json={"png": data_url(render(DIGITS[digit]))})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["digit"] == digit
    assert len(answer["probabilities"]) == 10 and sum(answer["probabilities"]) == pytest.approx(1, abs=1e-5)
    pixels = np.array(answer["pixels"])
    assert pixels.shape == (28, 28) and pixels.max() == 255 and pixels.min() == 0
    assert [len(layer) for layer in answer["hidden"]] == [128]
    strongest = answer["strongest"]
    assert len(strongest) == serve.STRONGEST
    assert strongest[0]["activation"] == pytest.approx(max(answer["hidden"][0]), abs=1e-3)
    assert np.array(strongest[0]["weights"]).shape == (28, 28)


def test_base64_without_the_data_url_prefix_works_too(client):
    plain = base64.b64encode(png_bytes(render(DIGITS[1]))).decode()
    assert client.post("/api/predict", json={"png": plain}).json()["digit"] == 1


def test_prepared_mnist_pixels_reach_the_network_unchanged(client, reader_model):
    network, _ = load_model(reader_model)
    X = load("sample").test.X[:5]
    for x in X:
        answer = client.post("/api/predict", json={"pixels": x.tolist(), "prepared": True}).json()
        assert answer["pixels"] == x.reshape(28, 28).tolist()
        assert np.allclose(answer["probabilities"], network.predict_proba(x[None])[0], atol=1e-6)


def test_pixels_as_rows_or_flat_and_unprepared_are_prepared(client):
    canvas = np.zeros((28, 28), dtype=int)
    canvas[2:9, 20:23] = 255  # a small mark in a corner
    as_rows = client.post("/api/predict", json={"pixels": canvas.tolist()}).json()
    flat = client.post("/api/predict", json={"pixels": canvas.ravel().tolist()}).json()
    assert as_rows == flat
    pixels = np.array(as_rows["pixels"])
    rows, cols = np.nonzero(pixels)
    assert rows.max() - rows.min() + 1 == 20  # scaled up to fit 20x20 and moved to the centre
    assert (cols.min(), cols.max()) == (10, 18)  # 3 columns become 9, centred on column 14


# ------------------------------------------------------------------------------------------------ correct me
def test_a_correction_is_stored_where_training_reads_it(client, corrections_path):
    drawing = data_url(render(DIGITS[7]))
    shown = client.post("/api/predict", json={"png": drawing}).json()
    first = client.post("/api/corrections", json={"pixels": shown["pixels"], "prepared": True, "label": 1})
    assert first.status_code == 200, first.text
    assert first.json() == {"label": 1, "count": 1, "path": str(corrections_path)}
    second = client.post("/api/corrections", json={"png": drawing, "label": 7}).json()
    assert second["count"] == 2
    split = read_csv(corrections_path, require_labels=True)
    assert split.y.tolist() == [1, 7]
    assert np.array_equal(split.X[0], np.array(shown["pixels"]).ravel())  # exactly what the page showed
    assert np.array_equal(split.X[0], split.X[1])  # the drawing, prepared the same way both times
    assert client.get("/api/model").json()["corrections"] == 2


def test_a_correction_that_cannot_be_written_gets_500_and_says_why(reader_model, tmp_path):
    folder = tmp_path / "mine"
    app = serve.create_app(reader_model, folder / "corrections.csv")
    folder.rmdir()  # gone while the server runs
    with TestClient(app) as client:
        response = client.post("/api/corrections", json={"png": data_url(render(DIGITS[7])), "label": 7})
    assert response.status_code == 500
    assert response.json()["detail"].startswith(f"cannot save to {folder / 'corrections.csv'} (No such file")


# ------------------------------------------------------------------------------------------------ bad requests
def pixels_with(value, row=3, col=5):
    grid = [[0] * 28 for _ in range(28)]
    grid[row][col] = value
    return grid


GOOD_PNG = data_url(render(DIGITS[7]))
BLANK_PNG = data_url(Image.new("RGBA", (280, 280)))
NOT_A_PNG = base64.b64encode(b"GIF89a" + bytes(100)).decode()
TRUNCATED_PNG = base64.b64encode(png_bytes(render(DIGITS[7]))[:200]).decode()
WIDE_PNG = data_url(Image.new("L", (serve.MAX_PNG_SIDE + 1, 4)))


@pytest.mark.parametrize(
    "path, body, message",
    [
        ("/api/predict", {}, "send exactly one of `png` and `pixels`"),
        ("/api/predict", {"png": GOOD_PNG, "pixels": pixels_with(1)}, "exactly one of"),
        ("/api/predict", {"png": GOOD_PNG, "prepared": True}, "a PNG drawing is always prepared"),
        ("/api/predict", {"png": GOOD_PNG, "colour": "red"}, "colour is not a field; send `png`"),
        ("/api/predict", [1, 2, 3], "the request body must be a JSON object"),
        ("/api/predict", {"png": 12}, "png: Input should be a valid string (got 12)"),
        ("/api/predict", {"png": "not base64!"}, "png is not valid base64"),
        ("/api/predict", {"png": "data:image/gif;base64,R0lG"}, "send base64, or a data:image/png;base64, URL"),
        ("/api/predict", {"png": NOT_A_PNG}, "the image is not a PNG file"),
        ("/api/predict", {"png": TRUNCATED_PNG}, "the PNG is damaged"),
        ("/api/predict", {"png": WIDE_PNG}, f"at most {serve.MAX_PNG_SIDE} pixels on each side"),
        ("/api/predict", {"png": "A" * (serve.MAX_PNG_BASE64 + 4)}, "png: String should have at most"),
        ("/api/predict", {"png": BLANK_PNG}, "the drawing is blank"),
        ("/api/predict", {"pixels": [0] * 783}, "pixels has 783 entries; send 28 rows of 28"),
        ("/api/predict", {"pixels": [[0] * 28] * 27 + [[0] * 27]}, "row 27 of pixels has 27 entries"),
        ("/api/predict", {"pixels": "0" * 784}, "pixels: Input should be a valid list"),
        ("/api/predict", {"pixels": pixels_with(256)}, "pixel at row 3, column 5 is 256; every pixel is an integer"),
        ("/api/predict", {"pixels": pixels_with(-1)}, "pixel at row 3, column 5 is -1"),
        ("/api/predict", {"pixels": pixels_with(0.5)}, "is 0.5"),
        ("/api/predict", {"pixels": pixels_with(True)}, "is True"),
        ("/api/predict", {"pixels": pixels_with("7")}, "is '7'"),
        ("/api/predict", {"pixels": pixels_with(None)}, "is None"),
        ("/api/predict", {"pixels": [[0] * 28] * 28}, "the drawing is blank"),
        ("/api/predict", {"pixels": [[0] * 28] * 28, "prepared": "yes"}, "prepared: Input should be a valid boolean"),
        ("/api/corrections", {"png": GOOD_PNG}, "label: Field required"),
        ("/api/corrections", {"png": GOOD_PNG, "label": 10}, "label: Input should be less than or equal to 9 (got 10)"),
        ("/api/corrections", {"png": GOOD_PNG, "label": -1}, "label: Input should be greater than or equal to 0"),
        ("/api/corrections", {"png": GOOD_PNG, "label": "7"}, "label: Input should be a valid integer (got '7')"),
        ("/api/corrections", {"png": GOOD_PNG, "label": 7.5}, "label: Input should be a valid integer"),
        ("/api/corrections", {"png": BLANK_PNG, "label": 7}, "the drawing is blank"),
    ],
)
def test_a_bad_request_gets_422_and_one_line_saying_what_to_fix(client, corrections_path, path, body, message):
    response = client.post(path, json=body)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail
    assert message in detail
    assert not corrections_path.exists()  # nothing stored


@pytest.mark.parametrize(
    "content, headers, message",
    [
        (b"", {"content-type": "application/json"}, "the request has no body"),
        (b"{not json", {"content-type": "application/json"}, "the request body is not valid JSON"),
        (b'{"png": "x"}', {"content-type": "text/plain"}, "sent as application/json"),  # no form posts from other sites
    ],
)
def test_a_body_that_is_not_json_gets_422(client, content, headers, message):
    response = client.post("/api/predict", content=content, headers=headers)
    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_an_oversized_body_gets_413_before_it_is_parsed(client):
    response = client.post(
        "/api/predict",
        content=b'{"png": "' + b"A" * serve.MAX_BODY + b'"}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert f"over {serve.MAX_BODY} bytes" in response.json()["detail"]


def test_an_oversized_body_without_a_length_gets_413_too(client):
    def chunks():
        for _ in range(20):
            yield b"A" * (serve.MAX_BODY // 10)

    response = client.post("/api/predict", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_the_wrong_method_or_a_foreign_host_is_refused(client):
    assert client.get("/api/predict").status_code == 405
    assert client.get("/api/model", headers={"host": "attacker.example"}).status_code == 400


# ------------------------------------------------------------------------------------------------ startup
def test_a_missing_or_unsuitable_model_is_refused_at_startup(tmp_path):
    with pytest.raises(ModelFileError, match="no model file at"):
        serve.create_app(tmp_path / "missing.safetensors", tmp_path / "c.csv")
    save_model(Network([100, 16, 10]), tmp_path / "small.safetensors")
    with pytest.raises(ConfigError, match="maps 100 inputs to 10 classes; the drawing page needs"):
        serve.create_app(tmp_path / "small.safetensors", tmp_path / "c.csv")


def test_serve_without_a_model_says_how_to_get_one(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["serve"]) == 4
    err = capsys.readouterr().err
    assert "no model at runs/fast/model.safetensors, where `digitnet train` puts one" in err
    assert err.count("\n") == 1


def test_serve_refuses_a_busy_or_impossible_port(reader_model, tmp_path, capsys):
    [busy] = serve.open_sockets("127.0.0.1", 0)
    port = busy.getsockname()[1]
    try:
        args = [str(reader_model), "--corrections", str(tmp_path / "c.csv")]
        assert main(["serve", *args, "--port", str(port)]) == 2
        assert f"port {port} on 127.0.0.1 is already in use; pass another --port" in capsys.readouterr().err
    finally:
        busy.close()
    assert main(["serve", *args, "--port", "70000"]) == 2
    assert "--port 70000 is out of range" in capsys.readouterr().err
    assert main(["serve", *args, "--host", "no-such-host.invalid"]) == 2
    assert "--host 'no-such-host.invalid' is not an address" in capsys.readouterr().err


def test_localhost_resolving_to_ipv6_first_answers_on_both_loopbacks(reader_model, tmp_path, monkeypatch):
    real = socket.getaddrinfo

    def ipv6_first(host, port, *args, **kwargs):  # as on machines whose /etc/hosts lists ::1 localhost first
        if host == "localhost":
            return real("::1", port, *args, **kwargs) + real("127.0.0.1", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", ipv6_first)
    sockets = serve.open_sockets("localhost", 0)
    assert [sock.family for sock in sockets] == [socket.AF_INET6, socket.AF_INET]
    port = sockets[0].getsockname()[1]
    assert sockets[1].getsockname()[1] == port
    assert serve.url(sockets[0]) == f"http://[::1]:{port}/"  # what `digitnet serve` prints
    assert serve.is_loopback("localhost")
    app = serve.create_app(reader_model, tmp_path / "c.csv", allowed_hosts=serve.LOOPBACK_HOSTS)
    with live_server(app, sockets):
        for base in (serve.url(sockets[0]), f"http://127.0.0.1:{port}/", f"http://localhost:{port}/"):
            response = httpx.get(base + "api/model", timeout=10)
            assert response.status_code == 200, (base, response.text)
        assert httpx.get(f"http://127.0.0.1:{port}/api/model", headers={"host": "evil.example"}).status_code == 400


@pytest.mark.parametrize(
    "host, loopback",
    [("localhost", True), ("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("[::1]", True),
     ("0.0.0.0", False), ("::", False), ("192.168.1.5", False), ("example.com", False)],
)  # fmt: skip
def test_only_this_machines_own_names_count_as_loopback(host, loopback):
    assert serve.is_loopback(host) is loopback


def test_the_drawing_pages_modules_moved_into_its_room_and_keep_their_old_names():
    import digitnet.corrections
    import digitnet.drawing
    import digitnet.export.web
    import digitnet.serve
    from digitnet import web

    assert digitnet.serve is web.serve and digitnet.drawing is web.drawing
    assert digitnet.corrections is web.corrections and digitnet.export.web is web.export
    assert (web.serve.STATIC / "index.html").is_file() and web.export.STATIC == web.serve.STATIC.resolve()


def test_the_server_reads_single_digits_with_one_blas_thread(monkeypatch):
    # One row per request: a second BLAS thread would only spin beside the server (benchmarks/serve_load.py).
    from threadpoolctl import threadpool_info, threadpool_limits

    seen = []
    monkeypatch.setattr(serve.uvicorn.Server, "run", lambda self, sockets: seen.append(threadpool_info()))
    with threadpool_limits(limits=2, user_api="blas"):  # as on any machine of two cores or more
        serve.run(serve.FastAPI(), [])
    blas = [pool["num_threads"] for pool in seen[0] if pool["user_api"] == "blas"]
    assert blas and set(blas) == {1}
