"""Real local receivers for delivery tests: a threaded HTTP server and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    """Answers ``status`` (200) after failing ``fail_first`` times with 503; or redirects."""

    fail_first: int = 0
    redirect_to: str | None = None
    received: list[Received] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    if receiver.redirect_to is not None:
                        code = 302
                    elif len(receiver.answered) < receiver.fail_first:
                        code = 503
                    else:
                        code = 200
                        receiver.received.append(Received(self.path, dict(self.headers), body))
                    receiver.answered.append(code)
                self.send_response(code)
                if code == 302:
                    self.send_header("Location", str(receiver.redirect_to))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, n: int = 1, timeout: float = 60.0) -> list[Received]:
        return wait_until(lambda: len(self.received) >= n, timeout, lambda: self.received)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class SmtpReceiver:
    """aiosmtpd on a free local port; ``messages`` are the parsed e-mails received."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller
        from support.servers import free_port

        self.messages: list[Message] = []
        receiver = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                receiver.messages.append(message_from_bytes(envelope.content))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def wait_for(self, n: int = 1, timeout: float = 60.0) -> list[Message]:
        return wait_until(lambda: len(self.messages) >= n, timeout, lambda: self.messages)

    def close(self) -> None:
        self.controller.stop()


def wait_until(ready: Callable[[], bool], timeout: float, value: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return value()
        time.sleep(0.1)
    raise AssertionError(f"not ready after {timeout}s: {value()!r}"[:2000])


def authentic(secret: str, headers: dict[str, str], body: bytes, window_s: int = 300) -> bool:
    """The README's receiver check, verbatim in behaviour."""
    ts, sig = headers.get("X-Timestamp", ""), headers.get("X-Signature", "")
    if not ts.isdigit() or abs(time.time() - int(ts)) > window_s:
        return False
    expected = (
        "sha256=" + hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    )
    return hmac.compare_digest(expected, sig)
