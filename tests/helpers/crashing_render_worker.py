"""A render worker that dies like a crashed MuPDF (SIGKILL, no reply) on files named crash-*."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from docretriever.documents import render_worker

_handle = render_worker._Worker.handle


def _handle_or_die(self: render_worker._Worker, request: tuple) -> object:
    if Path(str(request[1])).name.startswith("crash-"):
        os.kill(os.getpid(), signal.SIGKILL)
    return _handle(self, request)


render_worker._Worker.handle = _handle_or_die  # type: ignore[method-assign]

if __name__ == "__main__":
    render_worker.main()
