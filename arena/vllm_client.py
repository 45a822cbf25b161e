"""The HTTP side of a vLLM server started with ``--enable-lora``: load a LoRA adapter at run time, stream a
completion. Nothing here knows about the arena; :mod:`arena.vllm_backend` builds on it.

The endpoints, as vLLM's OpenAI-compatible server has them:

- ``POST /v1/load_lora_adapter`` with ``{"lora_name", "lora_path"}``; plain-text success, else an error
  body; loading a name twice is refused with "... has already been loaded ...". The route exists only on a
  server started with ``VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`` (else 404 ``{"detail": "Not Found"}``).
- ``POST /v1/completions`` with ``"stream": true``: server-sent events, one ``data: {json}`` line per chunk
  (``choices[0].text`` is the new text), ended by ``data: [DONE]``; an error mid-stream is a ``data:`` line
  holding ``{"error": {...}}``.

Error bodies are ``{"error": {"message", "type", "code"}}`` (older servers: the same fields at the top).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx

ALREADY_LOADED = "has already been loaded"


class ServerError(RuntimeError):
    """The generation server could not answer; ``str(error)`` is the message for the visitor."""


class ServerUnreachable(ServerError):
    """No connection to the server, or it stopped sending mid-answer."""


class ServerRefused(ServerError):
    """The server answered with an error: ``status`` (HTTP) and ``server_message`` (its words)."""

    def __init__(self, status: int, server_message: str):
        self.status = status
        self.server_message = server_message
        super().__init__(f"The generation server refused the request (HTTP {status}): {server_message}")


def _server_message(body: bytes) -> str:
    """The ``message`` of an error body (either layout; ``detail`` for a route the server does not have),
    else the body's text."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:500] or "no reason given"
    error = data.get("error", data) if isinstance(data, dict) else data
    message = (error.get("message") or error.get("detail")) if isinstance(error, dict) else None
    return str(message or text)[:500]


class VllmClient:
    """One server at ``url`` (e.g. ``http://gpu-host:8000``). ``read_timeout``: the longest silence tolerated
    between two chunks of an answer. Thread-safe (one ``httpx.Client`` shared by all requests)."""

    def __init__(self, url: str, *, api_key: str | None = None, connect_timeout: float = 5.0,
                 read_timeout: float = 60.0):
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def load_adapter(self, name: str, path: str) -> None:
        """Register the LoRA adapter in directory ``path`` (as the server sees it) under ``name``. A name the
        server already has counts as loaded (it kept it across a restart of this app)."""
        response = self._send("POST", "/v1/load_lora_adapter", {"lora_name": name, "lora_path": path})
        if response.status_code == 200:
            return
        message = _server_message(response.content)
        if response.status_code == 400 and ALREADY_LOADED in message:
            return
        raise ServerRefused(response.status_code, message)

    def stream(self, body: dict[str, Any]) -> Iterator[str]:
        """Stream ``/v1/completions`` for ``body`` (``stream`` is set here), yielding each new piece of text.
        Closing the iterator closes the connection, which makes vLLM abort the request."""
        try:
            with self._http.stream("POST", "/v1/completions", json={**body, "stream": True}) as response:
                if response.status_code != 200:
                    raise ServerRefused(response.status_code, _server_message(response.read()))
                for line in response.iter_lines():
                    text = self._event_text(line)
                    if text is None:
                        return
                    if text:
                        yield text
        except httpx.TransportError as error:
            raise self._unreachable(error) from error

    @staticmethod
    def _event_text(line: str) -> str | None:
        """The new text of one SSE line ('' for lines without any), None at ``[DONE]``."""
        if not line.startswith("data:"):
            return ""
        data = line[len("data:"):].strip()
        if data == "[DONE]":
            return None
        chunk = json.loads(data)
        if "error" in chunk:
            error = chunk["error"] if isinstance(chunk["error"], dict) else {"message": chunk["error"]}
            raise ServerError(f"The generation server failed while answering: {error.get('message') or 'no reason'}")
        choices = chunk.get("choices") or [{}]
        return choices[0].get("text") or ""

    def _send(self, method: str, path: str, body: dict[str, Any]) -> httpx.Response:
        try:
            return self._http.request(method, path, json=body)
        except httpx.TransportError as error:
            raise self._unreachable(error) from error

    def _unreachable(self, error: httpx.TransportError) -> ServerUnreachable:
        if isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout)):
            return ServerUnreachable(f"The generation server ({self.url}) is not reachable, so nothing was "
                                     "answered. Try again in a minute.")
        return ServerUnreachable(f"The generation server ({self.url}) stopped answering "
                                 f"({type(error).__name__}). Try again in a minute.")
