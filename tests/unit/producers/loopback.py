"""Real HTTP servers on 127.0.0.1 for the producers' tests (no mocks).

``serve_files`` serves a directory like a plain web server, with directory
listings and byte ``Range`` requests. ``serve_script`` answers each path with a
scripted sequence of replies (status, body, delay), honouring ``If-None-Match``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class Request:
    """One request as the server saw it."""

    path: str
    headers: dict[str, str]


@dataclass
class Reply:
    """One scripted reply; ``delay_s`` beyond the client's timeout makes a timeout."""

    status: int = 200
    body: bytes = b""
    delay_s: float = 0.0
    etag: bool = True


@dataclass
class Server:
    """A running loopback server and the requests it received."""

    base_url: str
    requests: list[Request] = field(default_factory=list)


class _Quiet(SimpleHTTPRequestHandler):
    server_log: list[Request]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return  # keep test output clean; requests are recorded instead

    def _record(self) -> None:
        self.server_log.append(Request(self.path, dict(self.headers.items())))


class _FileHandler(_Quiet):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._record()
        path = Path(self.translate_path(self.path))
        wanted = self.headers.get("Range")
        if path.is_file() and wanted and wanted.startswith("bytes="):
            self._send_range(path, wanted)
            return
        super().do_GET()

    def _send_range(self, path: Path, wanted: str) -> None:
        size = path.stat().st_size
        start = int(wanted.removeprefix("bytes=").split("-")[0])
        if start >= size:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.end_headers()
            return
        body = path.read_bytes()[start:]
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _ScriptHandler(_Quiet):
    script: dict[str, list[Reply]]
    lock: threading.Lock

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._record()
        with self.lock:
            queue = self.script.get(self.path.split("?")[0])
            if not queue:
                reply = Reply(404, b"not found", etag=False)
            else:
                reply = queue.pop(0) if len(queue) > 1 else queue[0]
        time.sleep(reply.delay_s)
        etag = f'"{hashlib.sha256(reply.body).hexdigest()[:16]}"'
        if reply.etag and reply.status == 200 and self.headers.get(
                "If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self._send(reply, etag)

    def _send(self, reply: Reply, etag: str) -> None:
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply.body)))
            if reply.etag and reply.status == 200:
                self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)


@contextmanager
def serve_files(directory: Path) -> Iterator[Server]:
    """Serve ``directory`` with listings and Range support."""
    log: list[Request] = []
    cls = type("BoundFiles", (_FileHandler,), {"server_log": log})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0),
                                partial(cls, directory=str(directory)))
    yield from _serve(httpd, log)


@contextmanager
def serve_script(script: dict[str, list[Reply]]) -> Iterator[Server]:
    """Answer each path with its replies in order; the last one repeats."""
    log: list[Request] = []
    cls = type("BoundScript", (_ScriptHandler,),
               {"server_log": log, "script": script, "lock": threading.Lock()})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), cls)
    yield from _serve(httpd, log)


def _serve(httpd: ThreadingHTTPServer, log: list[Request]) -> Iterator[Server]:
    httpd.daemon_threads = True
    server = Server(f"http://127.0.0.1:{httpd.server_address[1]}", log)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
