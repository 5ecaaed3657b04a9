"""The drawing page: a thin web shell over ``drawing`` (preparation, reading) and ``corrections``.

``create_app(model_path, corrections_path)`` builds a FastAPI app that serves the page from the package's
``static/`` folder and a JSON API, described at ``/openapi.json``:

- ``POST /api/predict``: a drawing in, the digit, ten probabilities, the 28x28 image the network received and
  its hidden activations out;
- ``POST /api/corrections``: a drawing and its right label, appended to the corrections CSV;
- ``GET /api/model``: what the page says about the model.

A drawing is a PNG (base64, as ``canvas.toDataURL()`` makes it) or 28x28 pixels, 0 = background, 255 = ink.
Everything a request carries is checked here, at the boundary: a body over ``MAX_BODY`` bytes gets 413, anything
else malformed or out of range 422, always as ``{"detail": "one line that names the problem and the fix"}``.
``open_sockets`` and ``run`` serve the app with uvicorn; the ``digitnet serve`` command calls them.
"""

from __future__ import annotations

import base64
import binascii
import errno
import ipaddress
import os
import socket
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import uvicorn
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    WithJsonSchema,
    model_validator,
)
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware
from threadpoolctl import threadpool_limits

from .. import __version__
from ..errors import ConfigError, DataError, DigitnetError
from ..io import load_model
from . import drawing
from .corrections import Corrections

STATIC = Path(__file__).parent / "static"
MAX_BODY = 1 << 20  # bytes in a request body; the page sends about 10 KB
MAX_PNG_BASE64 = 700_000  # characters of base64 PNG: about 512 KB of PNG
MAX_PNG_SIDE = drawing.MAX_PNG_SIDE  # pixels on each side of a PNG drawing: the limit ink_from_png enforces
STRONGEST = 6  # hidden units the page shows with their weights
MAP_CHANNELS = 8  # channels of each convolution block the page shows
# The page's only sources are this server: no CDN, no fonts, no inline script.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

# The JSON schema of `pixels`: 28 rows of 28, or 784 in a row (checked by hand in _check_pixels, for clear messages)
_PIXEL = {"type": "integer", "minimum": 0, "maximum": 255}
_ROW = {"type": "array", "items": _PIXEL, "minItems": 28, "maxItems": 28}
_ROWS = {"type": "array", "items": _ROW, "minItems": 28, "maxItems": 28}
_FLAT = {"type": "array", "items": _PIXEL, "minItems": 784, "maxItems": 784}
Pixels = Annotated[list | None, WithJsonSchema({"oneOf": [_ROWS, _FLAT]})]  # null refused (Drawing)


# ------------------------------------------------------------------------------------------- the API's types
def _one_source_schema(schema: dict[str, Any]) -> None:
    # What Drawing._one_source checks, said in the schema too, so that clients (and schemathesis) know it:
    # a png and no pixels, with `prepared` false or left out; or pixels and no png.
    schema["oneOf"] = [
        {"required": ["png"], "not": {"required": ["pixels"]}, "properties": {"prepared": {"const": False}}},
        {"required": ["pixels"], "not": {"required": ["png"]}},
    ]


class Drawing(BaseModel):
    """One drawing: exactly one of ``png`` and ``pixels``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_one_source_schema)
    png: Annotated[str | None, WithJsonSchema({"type": "string", "maxLength": MAX_PNG_BASE64})] = Field(
        None,
        max_length=MAX_PNG_BASE64,
        description="a PNG in base64, or a data:image/png;base64 URL; ink is its opacity when it has a varying "
        f"alpha channel, else whatever differs from the border; at most {MAX_PNG_SIDE}x{MAX_PNG_SIDE} pixels",
    )
    pixels: Pixels = Field(
        None, description="28 rows of 28 integers, or 784 integers row by row: 0 = background, 255 = ink"
    )
    prepared: StrictBool = Field(
        False,
        description="true when the pixels already are an MNIST-style digit (e.g. from MNIST itself): "
        "the network reads them as they are, without cropping, scaling and centring",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        # a field is sent or left out; null is neither, and the schema does not allow it
        if isinstance(data, dict):
            for name in ("png", "pixels"):
                if name in data and data[name] is None:
                    raise ValueError(f"`{name}` is null; leave it out, or send a value")
        return data

    @model_validator(mode="after")
    def _one_source(self):
        if (self.png is None) == (self.pixels is None):
            raise ValueError("send exactly one of `png` and `pixels`")
        if self.prepared and self.pixels is None:
            raise ValueError("`prepared` applies to 28x28 `pixels`; a PNG drawing is always prepared")
        return self


def _whole(value: Any) -> Any:
    # JSON Schema counts 3.0 as an integer: take it as 3 (anything else goes on to StrictInt to be refused)
    return int(value) if type(value) is float and value.is_integer() else value


class Correction(Drawing):
    label: Annotated[StrictInt, BeforeValidator(_whole)] = Field(
        ge=0, le=9, description="the digit the drawing really is"
    )


class Unit(BaseModel):
    unit: int = Field(description="index of the unit in the first hidden layer")
    activation: float
    weights: list[list[float]] = Field(description="its 28x28 input weights, divided by the largest magnitude")


class FeatureMaps(BaseModel):
    size: list[int] = Field(description="height, width and channels of the block's output")
    channels: list[list[list[int]]] = Field(
        description=f"its first {MAP_CHANNELS} channels, each an image scaled to 0-255 by its own largest value"
    )


class Prediction(BaseModel):
    digit: int = Field(description="the most probable digit")
    probabilities: list[float] = Field(description="ten probabilities, for digits 0 to 9; they sum to 1")
    pixels: list[list[int]] = Field(description="the 28x28 image the network received: 0 = background, 255 = ink")
    hidden: list[list[float]] = Field(description="each hidden dense layer's activations (after its ReLU)")
    maps: list[FeatureMaps] = Field(description="a convolutional network's feature maps, block by block; else empty")
    strongest: list[Unit] = Field(
        description=f"the {STRONGEST} most active units of the first hidden layer when it is dense; else empty"
    )


class Stored(BaseModel):
    label: int
    count: int = Field(description="digits now in the corrections file")
    path: str = Field(description="the corrections file, for `digitnet train --data PATH`")


class Problem(BaseModel):
    detail: str = Field(description="one line that names the problem and says how to fix it")


REFUSALS = {  # what the schema says about refused requests (FastAPI would describe its own list of errors)
    413: {"model": Problem, "description": f"the body is over {MAX_BODY} bytes"},
    422: {"model": Problem, "description": "the body is malformed, or a value is out of range"},
}


class ModelInfo(BaseModel):
    sizes: list[int | str]
    test_accuracy: float | None
    data: str | None
    corrections: int
    version: str


# ---------------------------------------------------------------------------------------------------- app
def create_app(
    model_path: str | os.PathLike, corrections_path: str | os.PathLike, *, allowed_hosts: list[str] | None = None
) -> FastAPI:
    """The app for one model; corrections go to ``corrections_path``.

    ``allowed_hosts`` lists the Host headers to answer (e.g. ``["127.0.0.1", "localhost"]``), which stops web
    pages elsewhere from reaching a local server through DNS rebinding; ``None`` answers any.
    """
    network, meta = load_model(model_path)
    if network.n_inputs != drawing.SIDE**2 or network.n_classes != 10:
        raise ConfigError(
            f"{model_path} maps {network.n_inputs} inputs to {network.n_classes} classes; the drawing page needs "
            "a model of 28x28 digits (784 inputs, 10 classes)"
        )
    corrections = Corrections(corrections_path)
    summary = meta.get("summary") or {}

    app = FastAPI(
        title="digitnet",
        version=__version__,
        description="Draw a digit and watch a from-scratch NumPy network read it.",
        docs_url=None,  # FastAPI's interactive docs load scripts from a CDN; the schema is at /openapi.json
        redoc_url=None,
    )
    app.add_middleware(SecurityHeaders)
    if allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    app.add_middleware(LimitBody, max_bytes=MAX_BODY)

    @app.exception_handler(DigitnetError)
    async def refuse(request: Request, error: DigitnetError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def refuse_unparsable(request: Request, error: StarletteHTTPException) -> Response:
        if error.status_code == 400:  # FastAPI's "error parsing the body": bytes that are not UTF-8 JSON at all
            return JSONResponse({"detail": _one_line([{"type": "json_invalid", "loc": ["body"]}])}, status_code=422)
        return await http_exception_handler(request, error)  # 404, 405 ... as FastAPI words them

    @app.exception_handler(RequestValidationError)
    async def refuse_invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _one_line(error.errors())}, status_code=422)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")  # refuses paths that leave the folder

    @app.get("/api/model", response_model=ModelInfo)
    def model_info() -> dict[str, Any]:
        """The model's architecture and test accuracy, and how many corrections are stored."""
        return {
            "sizes": list(network.sizes),
            "test_accuracy": summary.get("test_accuracy"),
            "data": summary.get("data"),
            "corrections": corrections.count,
            "version": __version__,
        }

    @app.post("/api/predict", response_model=Prediction, responses=REFUSALS)
    async def predict(body: Drawing) -> dict[str, Any]:
        """Prepare the drawing as MNIST was prepared, and return what the network reads in it."""
        # async: run on the event loop itself. The work is well under a millisecond of NumPy, and handing it to
        # a thread of the pool (a plain def) costs more than that under load (benchmarks/serve_load.py).
        pixels = _digit(body)
        reading = drawing.read(network, pixels)  # inference changes nothing in the network: no lock needed
        return prediction_response(reading, drawing.strongest_units(network, reading, STRONGEST))

    @app.post("/api/corrections", response_model=Stored, responses=REFUSALS)
    def correct(body: Correction) -> dict[str, Any] | JSONResponse:
        """Store the prepared drawing with its right label in the corrections CSV."""
        pixels = _digit(body)
        try:
            count = corrections.add(pixels, body.label)
        except OSError as error:  # the server's problem, not the request's
            detail = (
                f"cannot save to {corrections.path} ({error.strerror or error}); "
                "free some disk space, or restart with another --corrections PATH"
            )
            return JSONResponse({"detail": detail}, status_code=500)
        return {"label": body.label, "count": count, "path": str(corrections.path)}

    return app


def _digit(body: Drawing) -> np.ndarray:
    """The drawing in a request, as the (28, 28) uint8 digit the network will read."""
    if body.png is not None:
        return drawing.prepare(drawing.ink_from_png(_decode_png(body.png)))
    pixels = _check_pixels(body.pixels)
    return pixels if body.prepared else drawing.prepare(pixels)


def prediction_response(reading: drawing.Reading, strongest: list[tuple[int, float, np.ndarray]]) -> dict[str, Any]:
    """A ``Prediction`` as plain lists and numbers, ready for JSON."""
    return {
        "digit": reading.digit,
        "probabilities": reading.probabilities.tolist(),
        "pixels": reading.pixels.tolist(),
        "hidden": [_rounded(A, 4) for A in reading.hidden if A.ndim == 1],
        "maps": [_feature_maps(A) for A in reading.hidden if A.ndim == 3],
        "strongest": [
            {"unit": unit, "activation": activation, "weights": _rounded(weights, 2)}
            for unit, activation, weights in strongest
        ],
    }


def _feature_maps(A: np.ndarray) -> dict[str, Any]:
    """One block's (h, w, c) output as its size and its first channels, each scaled to 0-255 like a digit."""
    channels = A[:, :, :MAP_CHANNELS].transpose(2, 0, 1)  # (channels, h, w)
    top = np.maximum(channels.max(axis=(1, 2), keepdims=True), 1e-12)
    return {"size": list(A.shape), "channels": np.rint(255 * channels / top).astype(int).tolist()}


def _rounded(A: np.ndarray, decimals: int) -> list:
    # round in float64: a rounded float32 prints as 0.12300000339746475 once it becomes a Python float
    return np.round(A.astype(np.float64), decimals).tolist()


def _decode_png(text: str) -> bytes:
    _, comma, payload = text.partition(",")
    if comma and not text.startswith("data:image/png;base64,"):
        raise DataError(f"png starts with {text[:30]!r}; send base64, or a data:image/png;base64, URL")
    try:
        return base64.b64decode(payload if comma else text, validate=True)
    except (binascii.Error, ValueError):
        raise DataError("png is not valid base64; send the PNG file's bytes in standard base64") from None


def _check_pixels(value: list) -> np.ndarray:
    if len(value) == 784 and not any(isinstance(v, list) for v in value):
        rows = [value[r * 28 : (r + 1) * 28] for r in range(28)]
    elif len(value) == 28 and all(isinstance(row, list) and len(row) == 28 for row in value):
        rows = value
    else:
        problem = f"pixels has {len(value)} entries"
        if len(value) == 28:  # rows, one of them wrong
            r, row = next((r, row) for r, row in enumerate(value) if not isinstance(row, list) or len(row) != 28)
            found = f"has {len(row)} entries" if isinstance(row, list) else f"is {_short(row)}, not a list"
            problem = f"row {r} of pixels {found}"
        raise DataError(f"{problem}; send 28 rows of 28 integers, or 784 integers row by row")
    for r, row in enumerate(rows):
        for c, v in enumerate(row):
            # JSON Schema's integers include 3.0 (a number whose fraction is zero), so those are taken too; bool is
            # an int subclass in Python, but true and false are not integers in JSON: refuse them
            whole = type(v) is int or (type(v) is float and v.is_integer())
            if not whole or not 0 <= v <= 255:
                raise DataError(
                    f"pixel at row {r}, column {c} is {v!r}; every pixel is an integer from 0 (background) to 255 (ink)"
                )
    return np.array(rows, dtype=np.float64).astype(np.uint8)  # (28, 28), exact: every value is whole in 0-255


EXAMPLE = '{"png": "data:image/png;base64,..."}'
FIXES = {  # how to fix a bad field, after pydantic's description of the problem
    "png": "send a PNG drawing in base64",
    "pixels": "send 28 rows of 28 integers from 0 to 255",
    "prepared": "send true or false",
    "label": "send the right digit, an integer from 0 to 9",
}


def _one_line(errors: list[dict[str, Any]]) -> str:
    """Pydantic's list of errors as one line: where, what, the value found and the fix."""
    error = errors[0]
    where = [str(part) for part in error["loc"] if part != "body"]
    if error["type"] == "json_invalid":
        return f"the request body is not valid JSON; send a JSON object such as {EXAMPLE}"
    if error["type"] == "value_error":  # our own checks in Drawing._one_source, already worded in full
        return str(error["ctx"]["error"])
    if not where:
        if error["type"] == "missing":
            return f"the request has no body; send a JSON object such as {EXAMPLE}"
        return f"the request body must be a JSON object sent as application/json, such as {EXAMPLE}"
    if error["type"] == "extra_forbidden":
        return f"{where[0]} is not a field; send {', '.join(f'`{name}`' for name in FIXES)} only"
    message = f"{'.'.join(where)}: {error['msg']}"
    if error["type"] not in ("missing", "string_too_long"):
        message += f" (got {_short(error.get('input'))})"
    return f"{message}; {FIXES.get(where[0], 'see /openapi.json')}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# ------------------------------------------------------------------------------------------ middleware
class LimitBody:
    """Refuse a request body over ``max_bytes`` with 413, before any of it is parsed (pure ASGI)."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length", b"0")
        if not length.isdigit() or int(length) > self.max_bytes:
            return await self._refuse(scope, receive, send)
        chunks, size = [], 0
        while True:  # read the body ourselves, counting, since a chunked request has no length header
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await self._refuse(scope, receive, send)
            if not message.get("more_body", False):
                break
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, scope, receive, send):
        detail = f"the request body is over {self.max_bytes} bytes; send a smaller drawing (the page sends ~10 KB)"
        await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)


class SecurityHeaders:
    """Add the content security policy (only this server's files) and no-sniff to every response."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


# ---------------------------------------------------------------------------------------------- serving
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]"]  # the Host headers of this machine's own names


def is_loopback(host: str) -> bool:
    """Whether ``--host`` names this machine alone (127.0.0.1, ::1, localhost): then only its names are answered."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def open_sockets(host: str, port: int) -> list[socket.socket]:
    """Listening TCP sockets on every address ``host`` resolves to, all on one port (0 = any free port).

    A name can resolve to several addresses: ``localhost`` is often ``::1`` first and ``127.0.0.1`` second, and
    a browser may try either, so each gets a socket. The first address must work (else a ``ConfigError`` says
    why); a later one that cannot be bound (IPv6 switched off, say) is left out.
    """
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port {port} is out of range; pass a port from 1 to 65535, or 0 for any free port")
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise ConfigError(f"--host {host!r} is not an address or name this machine knows; try 127.0.0.1") from None
    addresses = list(dict.fromkeys((family, kind, proto, address[:2]) for family, kind, proto, _, address in found))
    sockets: list[socket.socket] = []
    for family, kind, proto, (ip, _) in addresses:
        at = sockets[0].getsockname()[1] if sockets else port  # with port 0 the first socket chooses the port
        try:
            sockets.append(_listen(family, kind, proto, ip, at))
        except OSError as error:
            if sockets:  # one address already listens: do without this one
                continue
            if error.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"port {port} on {host} is already in use; pass another --port, or --port 0 for any free one"
                ) from None
            reason = error.strerror or error
            raise ConfigError(f"cannot listen on {host} port {port} ({reason}); try another --port") from None
    return sockets


def _listen(family: int, kind: int, proto: int, ip: str, port: int) -> socket.socket:
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart at once after a stop
        if family == socket.AF_INET6:  # an IPv6 socket takes its own address only, not the IPv4 one of the port
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((ip, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def url(sock: socket.socket) -> str:
    """The address to open in a browser for a socket from ``open_sockets``."""
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"  # listening everywhere: this machine's own address works
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def run(app: FastAPI, sockets: list[socket.socket]) -> None:
    """Serve ``app`` on ``sockets`` until Ctrl-C; uvicorn logs only warnings and errors.

    The matrix library gets one thread: a request's products are a single row, too small to share out, and a
    second thread only spins beside the server's own work for the same two cores (measured on two cores: the
    server's CPU time per request fell from 12.9 to 7.1 ms; ``benchmarks/RESULTS.md``, the page under load).
    """
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    with threadpool_limits(limits=1, user_api="blas"):
        server.run(sockets=sockets)
