"""A small real HTTP server on 127.0.0.1 that speaks the part of vLLM's OpenAI-compatible API the arena uses:
``/v1/load_lora_adapter`` (runtime LoRA loading) and streaming ``/v1/completions`` (server-sent events, one
``data:`` line per chunk, ``data: [DONE]`` at the end), with vLLM's error bodies and messages.

It records what it was asked (adapter loads, completion requests with the chunks it sent and whether the
client hung up) and can fail on demand: refuse an adapter path in ``refuse``, a missing adapter directory, or
the whole load endpoint (``runtime_lora=False``, as on a server without ``VLLM_ALLOW_RUNTIME_LORA_UPDATING``),
or end an answer with an error event after ``fail_after`` chunks (as vLLM reports an engine failure).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self

FAILURE = "EngineCore encountered an issue. See stack trace (above) for the root cause."


@dataclass
class Completion:
    """One ``/v1/completions`` request as the server saw it."""

    body: dict
    sent: list[str] = field(default_factory=list)
    hung_up: bool = False
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def text(self) -> str:
        return "".join(self.sent)


class VllmStandIn:
    """Serves ``base`` (its served model name) plus the adapters loaded at run time.

    ``answers`` maps an adapter path (or the base name) to the chunks streamed for it; others get
    ``"<dir name> answers <n>"`` chunks. ``endless`` streams until the client hangs up. ``delay``: seconds
    between chunks, or a map from adapter path (or base name) to it (0 for others)."""

    def __init__(self, base: str, *, answers: dict[str, list[str]] | None = None,
                 delay: float | dict[str, float] = 0.01,
                 endless: bool = False, refuse: dict[str, str] | None = None, runtime_lora: bool = True,
                 fail_after: int | None = None):
        self.base = base
        self.answers = answers or {}
        self.delay = delay
        self.endless = endless
        self.refuse = refuse or {}
        self.runtime_lora = runtime_lora
        self.fail_after = fail_after
        self.adapters: dict[str, str] = {}  # lora name -> path
        self.load_calls: list[dict] = []  # every load request, accepted or not
        self.completions: list[Completion] = []
        self.in_flight = self.max_in_flight = 0
        self._lock = threading.Lock()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._http.shutdown()
        self._http.server_close()

    def restart(self) -> None:
        """Forget every loaded adapter, as a restarted vLLM server does."""
        with self._lock:
            self.adapters.clear()

    def loaded_paths(self) -> list[str]:
        return [call["lora_path"] for call in self.load_calls if call["accepted"]]

    # --- the endpoints ------------------------------------------------------------------------------------
    def load(self, body: dict) -> tuple[int, object]:
        name, path = body.get("lora_name"), body.get("lora_path")
        with self._lock:
            call = {"lora_name": name, "lora_path": path, "accepted": False}
            self.load_calls.append(call)
            if not self.runtime_lora:
                return 404, {"detail": "Not Found"}
            if name in self.adapters:
                return 400, _error(f"The lora adapter '{name}' has already been loaded. If you want to load the "
                                   "adapter in place, set 'load_inplace' to True.", "InvalidUserInput", 400)
            if path in self.refuse:
                return 400, _error(self.refuse[path], "BadRequestError", 400)
            if not (Path(path) / "adapter_config.json").is_file():
                return 404, _error(f"Loading lora {name} failed: No adapter found for {path}", "NotFoundError", 404)
            self.adapters[name] = path
            call["accepted"] = True
        return 200, f"Success: LoRA adapter '{name}' added successfully."

    def chunks(self, model: str) -> tuple[list[str], float] | None:
        """What ``model`` answers and the pause before each chunk, or None when the server does not serve it."""
        with self._lock:
            path = self.base if model == self.base else self.adapters.get(model)
        if path is None:
            return None
        delay = self.delay.get(path, 0.0) if isinstance(self.delay, dict) else self.delay
        return self.answers.get(path) or [f"{Path(path).name} ", "answers ", *(f"{n} " for n in range(1, 9))], delay

    def enter(self, completion: Completion) -> None:
        with self._lock:
            self.completions.append(completion)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self, completion: Completion) -> None:
        with self._lock:
            self.in_flight -= 1
        completion.done.set()


def _error(message: str, kind: str, code: int) -> dict:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _chunk(model: str, text: str, finish: str | None) -> bytes:
    data = {"id": "cmpl-standin", "object": "text_completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish}]}
    return f"data: {json.dumps(data)}\n\n".encode()


def _handler(server: VllmStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            if self.path == "/v1/load_lora_adapter":
                self._reply(*server.load(body))
            elif self.path == "/v1/completions":
                self._complete(body)
            else:
                self._reply(404, {"detail": "Not Found"})

        def _reply(self, status: int, payload: object) -> None:
            data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain" if isinstance(payload, str) else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _complete(self, body: dict) -> None:
            model = body.get("model", "")
            served = server.chunks(model)
            if served is None:
                self._reply(404, _error(f"The model `{model}` does not exist.", "NotFoundError", 404))
                return
            chunks, delay = served
            completion = Completion(body)
            server.enter(completion)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            try:
                count = 0
                while count < len(chunks) or (server.endless and count < 100_000):
                    if count == server.fail_after:
                        self.wfile.write(f"data: {json.dumps(_error(FAILURE, 'InternalServerError', 500))}\n\n".encode())
                        break
                    text = chunks[count % len(chunks)]
                    time.sleep(delay)
                    self.wfile.write(_chunk(model, text, None))
                    self.wfile.flush()
                    completion.sent.append(text)
                    count += 1
                self.wfile.write(_chunk(model, "", "stop") + b"data: [DONE]\n\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                completion.hung_up = True
            finally:
                server.leave(completion)

    return Handler
