"""A live server for tests that need real connections: uvicorn in a thread, on sockets the test opened."""

import contextlib
import threading
import time

import uvicorn


@contextlib.contextmanager
def live_server(app, sockets):
    """``app`` served by uvicorn on ``sockets`` in a thread, as ``digitnet serve`` serves it."""
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": sockets}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(30)
        for sock in sockets:
            sock.close()
