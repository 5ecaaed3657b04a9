"""The drawing page's server under load: ``POST /api/predict`` from 1, 8 and 32 concurrent clients, loopback only.

    PYTHONPATH=src python benchmarks/serve_load.py              # profile, then 10 s per client count
    PYTHONPATH=src python benchmarks/serve_load.py --seconds 3 --clients 1 8

Each request is what the page sends for a digit drawn on its 280x280 pad: the page prepares the drawing itself
(``offline.js``, as ``drawing.prepare`` does) and posts the 28x28 digit with ``"prepared": true``. First a profile:
one request's work, part by part, in this process (validating the JSON body, checking the pixels, the forward
pass, the strongest units, building the response and encoding it as JSON; and, for comparison, what a PNG of the
whole pad would cost to decode and prepare), so that the time is known to go where it goes before anything is
changed. Then the load: ``digitnet serve`` in a subprocess on 127.0.0.1, with the default network's shape
``[784, 800, 10]`` (untrained weights: the work per request is the same), and an asyncio client keeping N
requests in flight for a fixed time. Reported per client count: requests per second, p50 and p99 latency, the
server process's CPU time per request (all its threads) and the client's, and the count of each status code (the
goal: no 5xx at all). Client and server share the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
sys.path.insert(0, str(SRC))
sys.path.insert(0, str(HERE.parent / "tests"))

from digitnet.io import save_model  # noqa: E402
from digitnet.network import Network  # noqa: E402
from digitnet.web import drawing, serve  # noqa: E402
from speed import machine_info  # noqa: E402
from strokes import DIGITS, render  # noqa: E402  (the tests' digits drawn like the page's brush)


def page_png(digit: int = 3) -> str:
    """The page's 280x280 pad as a data URL (transparent background, dark ink)."""
    buffer = io.BytesIO()
    render(DIGITS[digit]).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def page_body(digit: int = 3) -> str:
    """What the page posts for a digit drawn on its pad: the drawing prepared as a 28x28 MNIST-style digit."""
    ink = drawing.ink_from_png(base64.b64decode(page_png(digit).split(",", 1)[1]))
    return json.dumps({"pixels": drawing.prepare(ink).tolist(), "prepared": True})


def prepare_png(png: bytes):
    return drawing.prepare(drawing.ink_from_png(png))


def profile(model: Path, repeats: int) -> list[tuple[str, float]]:
    """Median milliseconds of each part of one /api/predict request, in the order the server does them."""
    from fastapi.testclient import TestClient
    from pydantic import TypeAdapter

    body = page_body()
    png = serve._decode_png(serve.Drawing.model_validate_json(json.dumps({"png": page_png()})).png)
    app = serve.create_app(model, Path(tempfile.mkdtemp()) / "corrections.csv")
    network = serve.load_model(model)[0]
    parts: dict[str, list[float]] = {}

    def timed(name, work, *args):
        start = time.perf_counter()
        result = work(*args)
        parts.setdefault(name, []).append(1000 * (time.perf_counter() - start))
        return result

    with TestClient(app) as client:
        for _ in range(repeats):
            drawing_in = timed("JSON body parsed and validated", serve.Drawing.model_validate_json, body)
            pixels = timed("pixels checked", serve._check_pixels, drawing_in.pixels)
            timed("(a PNG of the pad instead: decoded and prepared)", prepare_png, png)
            reading = timed("forward pass (drawing.read)", drawing.read, network, pixels)
            units = timed("strongest units", drawing.strongest_units, network, reading, serve.STRONGEST)
            response = timed("response built (lists, rounding)", serve.prediction_response, reading, units)
            checked = timed("response checked against its model", serve.Prediction.model_validate, response)
            # FastAPI serialises a declared response model with pydantic, in Rust, not with json.dumps
            encode = TypeAdapter(serve.Prediction).dump_json
            timed("response encoded as JSON (pydantic, as FastAPI does)", encode, checked)
            timed("whole request through the app (TestClient)", lambda: client.post("/api/predict", content=body))
    return [(name, statistics.median(times)) for name, times in parts.items()]


async def load(url: str, body: bytes, clients: int, seconds: float) -> dict:
    """``clients`` keep-alive connections, each posting ``body`` again as soon as its answer has arrived.

    The client is plain asyncio streams speaking HTTP/1.1, not an HTTP library: it shares the two cores with the
    server, and httpx spent more CPU per request than the server did (1.5 against 1.1 ms at 32 clients), so the
    benchmark measured the client. Each answer is read whole (its Content-Length), as a browser would."""
    host, port = url.split("//", 1)[1].rstrip("/").rsplit(":", 1)
    request = (
        f"POST /api/predict HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    connections = [await asyncio.open_connection(host, int(port)) for _ in range(clients)]  # before the clock
    deadline = time.perf_counter() + seconds

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            length = next(int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:"))
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            status = int(lines[0].split()[1])
            statuses[status] = statuses.get(status, 0) + 1
        writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker(*connection) for connection in connections))
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "clients": clients,
        "requests": len(latencies),
        "per_second": len(latencies) / elapsed,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "statuses": statuses,
        "server_errors": sum(n for code, n in statuses.items() if code >= 500),
    }


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds a process has used so far, all its threads together (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime and stime, in clock ticks


def start_server(model: Path, folder: Path) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "digitnet", "serve", str(model), "--port", "0"]
    command += ["--corrections", str(folder / "corrections.csv")]
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = process.stdout.readline()  # "digitnet: serving MODEL at http://127.0.0.1:PORT/ (Ctrl-C to stop)"
    if " at http" not in line:
        process.kill()
        raise SystemExit(f"the server did not start: {line}{process.stderr.read()}")
    return process, line.split(" at ", 1)[1].split()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", nargs="+", type=int, default=[1, 8, 32])
    parser.add_argument("--seconds", type=float, default=10.0, help="time per client count")
    parser.add_argument("--repeats", type=int, default=200, help="requests in the profile")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="digitnet-load-"))
    model = folder / "model.safetensors"
    save_model(Network([784, 800, 10], seed=0), model)

    rows = profile(model, args.repeats)
    print(f"## Where one /api/predict request's time goes (median of {args.repeats}, ms)\n")
    print("| part | ms |\n|---|---|")
    for name, ms in rows:
        print(f"| {name} | {ms:.2f} |")

    body = page_body().encode()
    process, url = start_server(model, folder)
    results = []
    try:
        for clients in args.clients:
            cpu_before, client_before = cpu_seconds(process.pid), time.process_time()
            result = asyncio.run(load(url, body, clients, args.seconds))
            result["server_cpu_ms"] = 1000 * (cpu_seconds(process.pid) - cpu_before) / max(result["requests"], 1)
            result["client_cpu_ms"] = 1000 * (time.process_time() - client_before) / max(result["requests"], 1)
            results.append(result)
    finally:
        process.terminate()
        process.wait(timeout=30)
    load_average = os.getloadavg()
    cpu = machine_info(os.cpu_count())["cpu"]
    print(f"\n## Load: {args.seconds:g} s per client count, {cpu}, {os.cpu_count()} cores, ", end="")
    print(f"load average {load_average[0]:.1f} at the end, {datetime.date.today()}\n")
    print(
        "| clients | requests/s | p50 ms | p99 ms | server CPU ms per request | client CPU ms per request | requests "
        "| status codes | 5xx |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        codes = ", ".join(f"{code}: {n}" for code, n in sorted(r["statuses"].items()))
        print(
            f"| {r['clients']} | {r['per_second']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} "
            f"| {r['server_cpu_ms']:.1f} | {r['client_cpu_ms']:.1f} | {r['requests']} | {codes} "
            f"| {r['server_errors']} |"
        )
    if args.json:
        args.json.write_text(json.dumps({"profile": rows, "load": results}, indent=2))
    if any(r["server_errors"] for r in results):
        raise SystemExit("server errors under load")


if __name__ == "__main__":
    main()
