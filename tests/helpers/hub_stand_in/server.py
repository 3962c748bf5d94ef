"""The Hub stand-in's servers: :class:`HubStandIn`, its two listening sockets, its faults and its request log.

Each origin (the Hub, and the CDN that LFS downloads are redirected to) is a threaded HTTP/1.1 server on
127.0.0.1. A request is logged, answered by :class:`.protocol.HubProtocol`, and its file body streamed in
pieces, so that the throttle, connection drops and :meth:`HubStandIn.stop` act in the middle of a body and
every byte that goes out is counted.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from .api import TREE_EXPAND_PAGE_SIZE, TREE_PAGE_SIZE
from .faults import Faults
from .protocol import HubProtocol
from .repository import HubRepo
from .request_log import LoggedRequest, RequestLog, ServedRequest
from .responses import FileBody, Response

__all__ = ["HOST", "HubStandIn"]

HOST = "127.0.0.1"
_BODY_PIECE = 64 * 1024
_PACE_STEP_S = 0.05  # throttled bodies sleep in steps this short, so stop() is quick


class _Dropped(Exception):
    """The stand-in cut the connection on purpose (drop_after) or because it is stopping."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, hub: HubStandIn, role: str) -> None:
        self.hub = hub
        self.role = role
        super().__init__((HOST, port), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        self.hub._track(request, True)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        self.hub._track(request, False)
        super().shutdown_request(request)


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keep-alive, like the real Hub's clients expect (httpx pools connections).
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self._handle("GET")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def do_POST(self) -> None:
        self._handle("POST")

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the stand-in keeps its own log (HubStandIn.log)

    def _handle(self, method: str) -> None:
        hub = self.server.hub
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        record = hub._log.add(
            ServedRequest(
                method=method,
                path=unquote(split.path),
                range=self.headers.get("Range"),
                query=split.query,
                server=self.server.role,
                authorization=self.headers.get("Authorization") is not None,
            )
        )
        try:
            try:
                response = hub._protocol.respond(self.server.role, method, self.path, self.headers, body)
            except Exception as error:  # a bug of the stand-in: answer 500 and keep it for the test to see
                hub._server_error(f"{method} {self.path}: {error!r}")
                text = repr(error).encode()
                response = Response(
                    500, [("Content-Type", "text/plain"), ("Content-Length", str(len(text)))], text
                )
            hub._log.update(record, status=response.status)
            self.send_response(response.status)
            for name, value in response.headers:
                self.send_header(name, value)
            self.end_headers()
            if method != "HEAD":
                if isinstance(response.body, FileBody):
                    hub._stream(self, record, response.body)
                elif response.body:
                    self.wfile.write(response.body)
        except _Dropped:
            self.close_connection = True
            try:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
            # The client went away (cancelled download, killed process): nothing to answer.
            self.close_connection = True


class HubStandIn:
    """A Hugging Face Hub on 127.0.0.1 serving ``{repo id: folder}``; a context manager.

    ``endpoint`` is the ``HF_ENDPOINT`` to use. Ports are picked by the system unless given, and kept across
    :meth:`stop` / :meth:`start`, so a client configured once finds the Hub again after a simulated outage.
    """

    def __init__(
        self,
        repos: Mapping[str, Path | str],
        *,
        port: int = 0,
        cdn_port: int = 0,
        tree_page_size: int = TREE_PAGE_SIZE,
        tree_expand_page_size: int = TREE_EXPAND_PAGE_SIZE,
        gzip_text: bool = True,
    ) -> None:
        self.repos = {repo_id: HubRepo(repo_id, Path(folder)) for repo_id, folder in repos.items()}
        self._faults = Faults()
        self._protocol = HubProtocol(
            self.repos,
            self._faults,
            tree_page_size=tree_page_size,
            tree_expand_page_size=tree_expand_page_size,
            gzip_text=gzip_text,
        )
        self._log = RequestLog()
        self._ports = {"hub": port, "cdn": cdn_port}
        self._servers: dict[str, _Server] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        # Exceptions the stand-in raised while answering (answered 500): a test can assert there are none.
        self.server_errors: list[str] = []

    # ------------------------------------------------------------------ settings

    @property
    def tree_page_size(self) -> int:
        return self._protocol.tree_page_size

    @tree_page_size.setter
    def tree_page_size(self, size: int) -> None:
        self._protocol.tree_page_size = size

    @property
    def tree_expand_page_size(self) -> int:
        return self._protocol.tree_expand_page_size

    @tree_expand_page_size.setter
    def tree_expand_page_size(self, size: int) -> None:
        self._protocol.tree_expand_page_size = size

    @property
    def gzip_text(self) -> bool:
        return self._protocol.gzip_text

    @gzip_text.setter
    def gzip_text(self, on: bool) -> None:
        self._protocol.gzip_text = on

    # ------------------------------------------------------------------ life cycle

    def start(self) -> HubStandIn:
        """Listen (again) on the stand-in's ports; a no-op while running."""
        with self._lock:
            if self._servers:
                return self
            self._stopping.clear()
            for role in ("hub", "cdn"):
                server = _Server(self._ports[role], self, role)
                self._ports[role] = server.server_address[1]
                self._protocol.endpoint, self._protocol.cdn_endpoint = self.endpoint, self.cdn_endpoint
                self._servers[role] = server
                thread = threading.Thread(
                    target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"hub-stand-in-{role}"
                )
                thread.daemon = True
                thread.start()
                self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Make the network vanish: stop listening and cut every open connection (bodies stop mid-way)."""
        self._stopping.set()
        with self._lock:
            servers, self._servers = list(self._servers.values()), {}
            threads, self._threads = self._threads, []
            connections = list(self._connections)
        for server in servers:
            server.shutdown()
            server.server_close()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(timeout=5)

    def restart(self) -> HubStandIn:
        """Stop, then start again on the same ports."""
        self.stop()
        return self.start()

    @property
    def running(self) -> bool:
        return bool(self._servers)

    def __enter__(self) -> HubStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        """The Hub address, for ``HF_ENDPOINT`` or ``endpoint=`` (``http://127.0.0.1:PORT``)."""
        return f"http://{HOST}:{self._ports['hub']}"

    @property
    def cdn_endpoint(self) -> str:
        """Where LFS downloads are redirected (another origin, like cdn-lfs.hf.co)."""
        return f"http://{HOST}:{self._ports['cdn']}"

    def commit(self, repo_id: str) -> str:
        """The 40-hex commit sha that ``main`` resolves to."""
        return self.repos[repo_id].sha

    # ------------------------------------------------------------------ faults

    def gate(self, repo_id: str, token: str | None = None) -> None:
        """Gate a repository's files: no token gets 401, a token other than ``token`` (if given) gets 403."""
        self._faults.gate(repo_id, token)

    def ungate(self, repo_id: str) -> None:
        self._faults.ungate(repo_id)

    def drop_after(self, path_suffix: str, nbytes: int, times: int = 1) -> None:
        """Cut the connection after ``nbytes`` of body, for the next ``times`` bodies of a matching file.

        Matches the end of ``"repo_id/path"`` of the file or of the URL path, so it works for LFS files
        served from the CDN address too.
        """
        self._faults.drop_after(path_suffix, nbytes, times)

    def throttle(self, bytes_per_second: float | None) -> None:
        """Slow every body down to ``bytes_per_second`` (None or 0: full speed), from the next piece on."""
        self._faults.throttle(bytes_per_second)

    def fail(self, path_regex: str, status: int, times: int | None = None) -> None:
        """Answer ``status`` to requests whose decoded URL path matches ``path_regex``.

        ``times`` limits how many requests fail (None: all of them). Mind that huggingface_hub retries 429
        and 5xx answers with back-off (1, 2, 4, 8 s).
        """
        self._faults.fail(path_regex, status, times)

    def clear_faults(self) -> None:
        """Remove gates, drops, failures and the throttle."""
        self._faults.clear()

    # ------------------------------------------------------------------ inspection

    @property
    def requests(self) -> list[LoggedRequest]:
        """(method, path, range header) of every request so far, in arrival order (a copy)."""
        return self._log.requests()

    @property
    def log(self) -> list[ServedRequest]:
        """Every request with its status, body size and the repository file it carried (copies)."""
        return self._log.entries()

    def bytes_served(self) -> dict[str, int]:
        """Body bytes sent so far per repository file, ``{"repo_id/path": n}``, counted while they go out.

        Compressed bodies count their compressed bytes.
        """
        return self._log.bytes_served()

    def clear_log(self) -> None:
        self._log.clear()

    def wait_for_bytes(self, path_suffix: str, nbytes: int, timeout: float = 10.0) -> int:
        """Block until at least ``nbytes`` of a file ending in ``path_suffix`` went out; return the count."""
        return self._log.wait_for_bytes(path_suffix, nbytes, timeout)

    # ------------------------------------------------------------------ internals used by the handler

    def _server_error(self, message: str) -> None:
        with self._lock:
            self.server_errors.append(message)

    def _track(self, connection: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def _stream(self, handler: _Handler, record: ServedRequest, body: FileBody) -> None:
        """Send a file body, applying the throttle and any drop, counting bytes as they go out."""
        self._log.update(record, file=body.key)
        with body.entry.local.open("rb") as handle:
            handle.seek(body.start)
            data = handle.read(body.length)
        if body.compress:
            data = gzip.compress(data, mtime=0)
        drop_at = self._faults.take_drop(body.key, record.path, len(data))
        sent = 0
        while sent < len(data):
            piece = data[sent : sent + self._piece_size()]
            if drop_at is not None and sent + len(piece) >= drop_at:
                self._send_piece(handler, piece[: drop_at - sent], body.compress, record, body.key)
                raise _Dropped
            self._pace(len(piece))
            self._send_piece(handler, piece, body.compress, record, body.key)
            sent += len(piece)
        if body.compress:
            handler.wfile.write(b"0\r\n\r\n")

    def _send_piece(
        self, handler: _Handler, piece: bytes, chunked: bool, record: ServedRequest, key: str
    ) -> None:
        if not piece:
            return
        if chunked:
            handler.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
        else:
            handler.wfile.write(piece)
        self._log.count_body(record, key, len(piece))

    def _piece_size(self) -> int:
        rate = self._faults.bytes_per_second
        return _BODY_PIECE if rate is None else max(1, min(_BODY_PIECE, int(rate * _PACE_STEP_S)))

    def _pace(self, nbytes: int) -> None:
        """Sleep as long as ``nbytes`` take at the throttled rate, in short steps, aborting on stop()."""
        if self._stopping.is_set():
            raise _Dropped
        rate = self._faults.bytes_per_second
        if rate is None:
            return
        deadline = time.monotonic() + nbytes / rate
        while (left := deadline - time.monotonic()) > 0:
            if self._stopping.wait(min(left, _PACE_STEP_S)):
                raise _Dropped
