"""Fixtures shared by the sandbox tests (registered in tests/conftest.py)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from evaluator.sandbox import BWRAP_ENV, UNSAFE_ENV, isolation

HOST_GREETING = b"hello-from-host"


@pytest.fixture
def host_server() -> Iterator[int]:
    """A server on the host's 127.0.0.1 that greets whoever connects with ``HOST_GREETING``; yields its port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
                conn.sendall(HOST_GREETING)
                conn.close()
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    listener.close()


@pytest.fixture
def no_bwrap(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """A machine without bubblewrap, as the operator may have: the sandbox probes a missing command."""
    monkeypatch.setenv(BWRAP_ENV, "no-such-bwrap-xyz")
    monkeypatch.delenv(UNSAFE_ENV, raising=False)
    isolation.cache_clear()
    yield monkeypatch
    isolation.cache_clear()
