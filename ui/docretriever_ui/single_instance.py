"""One running DocRetriever per person and library: a second start hands its files to the first.

"Open with DocRetriever" on a PDF starts the app again each time. Two windows over one library
would index the same files twice and fight over its files, so the first start claims the
library (a :class:`QLockFile`, which a crashed process does not keep holding) and listens on a
:class:`QLocalServer`; both are named from the user and the library folder. A later start
finds the claim taken, sends its file arguments to the first as one JSON line, waits for its
"ok", and exits 0; the first adds the files (once there is a model) and comes to the front.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QDir, QLockFile, QObject, Signal, Slot
from PySide6.QtNetwork import QLocalServer, QLocalSocket
from PySide6.QtWidgets import QApplication, QWidget

log = logging.getLogger(__name__)

# A request is a short list of paths; anything longer is not from DocRetriever.
_MAX_REQUEST_BYTES = 1 << 20
_ANSWER = b"ok\n"
# How long a second start waits for the first to answer: the first may still be building its
# window (a second or two) before its event loop reads the request.
ANSWER_TIMEOUT_MS = 15_000


def instance_key(library: str, user: str | None = None) -> str:
    """The name of the claim and the server for ``user`` (default: this user) and ``library``.

    A hash, because local server names become file names (Unix) or pipe names (Windows) with
    their own rules; the same library written differently (``~``, a trailing slash) is the same
    key. A ``qdrant://`` library is keyed by its address as written."""
    if user is None:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no login name (a container without /etc/passwd entry)
            user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    where = library if "://" in library else os.path.normcase(os.path.abspath(os.path.expanduser(library)))
    digest = hashlib.sha256(f"{user}\0{where}".encode()).hexdigest()[:20]
    return f"docretriever-{digest}"


class RunningInstance(QObject):
    """This process's claim on the library, and the server that takes later starts' requests.

    ``paths_received(list[str])`` is emitted on the UI thread for each request (an empty list
    when a later start was given no files: it only asks for the window)."""

    paths_received = Signal(list)

    def __init__(self, key: str, lock: QLockFile | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self._lock = lock
        self._buffers: dict[QLocalSocket, bytes] = {}
        self.server = QLocalServer(self)
        # Only this user may connect: a request adds files to this user's library.
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.server.newConnection.connect(self._accept)
        if lock is None:
            return  # no claim could be made at all: this start runs on its own, taking no requests
        # The claim is ours, so a server name left behind by a crash is stale: free it.
        QLocalServer.removeServer(key)
        if not self.server.listen(key):  # a later start then says that this one does not answer
            log.warning("DocRetriever cannot take requests on %s: %s", key, self.server.errorString())

    @classmethod
    def claim(cls, key: str, parent: QObject | None = None) -> RunningInstance | None:
        """The claim on ``key`` for this process, or None when another running process has it.

        When no claim can be made at all (the temporary folder cannot be written), this start
        runs on its own rather than not at all: the instance it returns takes no requests."""
        lock = QLockFile(str(Path(QDir.tempPath()) / f"{key}.lock"))
        # Stale only when its process is gone, however long a start has been running.
        lock.setStaleLockTime(0)
        if lock.tryLock(0):
            return cls(key, lock, parent)
        if lock.error() == QLockFile.LockError.LockFailedError:
            return None
        log.warning("DocRetriever cannot claim %s (%s): running without it", key, lock.error().name)
        return cls(key, None, parent)

    def release(self) -> None:
        """Stop listening and give up the claim (at quit; the process may end without
        destructors)."""
        self.server.close()
        if self._lock is not None:
            self._lock.unlock()

    def _accept(self) -> None:
        while (connection := self.server.nextPendingConnection()) is not None:
            self._buffers[connection] = b""
            # Slots that ask for the sender, not lambdas holding the socket: a lambda's reference,
            # dropped while Qt deletes the socket, makes Python delete it a second time.
            connection.readyRead.connect(self._read_sender)
            connection.disconnected.connect(self._forget_sender)
            self._read(connection)  # the request may have arrived with the connection

    @Slot()
    def _read_sender(self) -> None:
        if isinstance(connection := self.sender(), QLocalSocket):
            self._read(connection)

    @Slot()
    def _forget_sender(self) -> None:
        if isinstance(connection := self.sender(), QLocalSocket):
            self._buffers.pop(connection, None)
            connection.deleteLater()

    def _read(self, connection: QLocalSocket) -> None:
        if connection not in self._buffers:
            return
        data = self._buffers[connection] + bytes(connection.readAll().data())
        if b"\n" not in data:
            if len(data) > _MAX_REQUEST_BYTES:
                connection.abort()
            else:
                self._buffers[connection] = data
            return
        del self._buffers[connection]
        paths = parse_request(data.split(b"\n", 1)[0])
        if paths is None:
            connection.abort()
            return
        connection.write(_ANSWER)
        connection.flush()
        connection.disconnectFromServer()
        self.paths_received.emit(paths)


def encode_request(paths: Sequence[str]) -> bytes:
    """One request: the paths as a JSON line. File names that are not UTF-8 (POSIX bytes) travel
    as Python writes them in ``os.fsdecode``, surrogate escapes and all."""
    return json.dumps({"paths": list(paths)}).encode("utf-8", "surrogateescape") + b"\n"


def parse_request(line: bytes) -> list[str] | None:
    """The paths of a request line, or None when it is not one."""
    try:
        message = json.loads(line.decode("utf-8", "surrogateescape"))
    except ValueError:
        return None
    paths = message.get("paths") if isinstance(message, dict) else None
    if not isinstance(paths, list) or not all(isinstance(path, str) for path in paths):
        return None
    return paths


def send_to_running(key: str, paths: Sequence[str], timeout_ms: int = ANSWER_TIMEOUT_MS) -> bool:
    """Hand ``paths`` to the process that holds ``key``; True once it has answered. Blocks (a
    second start has nothing else to do); retries the connection while the first start is
    still setting up its server."""
    deadline = time.monotonic() + timeout_ms / 1000
    socket = QLocalSocket()

    def left_ms() -> int:
        return max(1, int((deadline - time.monotonic()) * 1000))

    while True:
        socket.connectToServer(key)
        if socket.waitForConnected(min(500, left_ms())):
            break
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)  # the first start holds the claim but is not listening yet: try again
    socket.write(encode_request(paths))
    if not socket.waitForBytesWritten(left_ms()):
        return False
    answer = b""
    while _ANSWER not in answer and time.monotonic() < deadline:
        if socket.bytesAvailable() or socket.waitForReadyRead(left_ms()):
            answer += bytes(socket.readAll().data())
        elif socket.state() != QLocalSocket.LocalSocketState.ConnectedState:
            break
    socket.abort()
    return _ANSWER in answer


def bring_to_front(window: QWidget) -> None:
    """Show ``window`` above the others: restored if minimized, raised and activated. Window
    managers may refuse to hand the focus to a process the person did not click on; the
    taskbar entry then asks for attention instead."""
    if window.isMinimized():
        window.showNormal()
    window.show()
    window.raise_()
    window.activateWindow()
    if not window.isActiveWindow():
        QApplication.alert(window)
