"""A render worker taken over by a hostile file: it answers render requests for files named
pickle-*, huge-*, pixels-*, kind-*, nested-* and pages-* with replies that break the wire format (a
pickle that would run code, a frame claiming a terabyte, pixels that do not match the size, an
unhashable error kind, JSON nested past parsing, a page list where an image belongs); other
requests as usual."""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

from docretriever.documents import render_worker, worker_protocol


class _Touch:
    """Unpickling this creates the file named by DOCRETRIEVER_TEST_MARKER: code run by pickle."""

    def __reduce__(self):
        return (Path(os.environ["DOCRETRIEVER_TEST_MARKER"]).touch, ())


def hostile_pickle() -> bytes:
    import pickle

    return pickle.dumps(("ok", _Touch()))


def main() -> None:
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    worker = render_worker._Worker()
    while True:
        try:
            request = worker_protocol.read_request(sys.stdin.buffer)
        except EOFError:
            return
        name = Path(str(request[1])).name
        if request[0] == "render" and name.startswith("pickle-"):
            data = hostile_pickle()
            replies.write(struct.pack("<QI", 12 + len(data), len(data)) + data)
            replies.flush()
        elif request[0] == "render" and name.startswith("huge-"):
            replies.write(struct.pack("<QI", 1 << 40, 100))
            replies.flush()
        elif request[0] == "render" and name.startswith("pixels-"):
            image = {"mode": "RGB", "size": [10, 10], "width_pt": 1.0, "height_pt": 1.0, "renderer": "x"}
            worker_protocol.write_frame(replies, {"status": "ok", "image": image}, b"12345")
        elif request[0] == "render" and name.startswith("kind-"):
            error = {"status": "error", "kind": ["document"], "message": "m", "details": None}
            worker_protocol.write_frame(replies, error)
        elif request[0] == "render" and name.startswith("nested-"):
            data = b"[" * 200_000
            replies.write(struct.pack("<QI", 12 + len(data), len(data)) + data)
            replies.flush()
        elif request[0] == "render" and name.startswith("pages-"):
            worker_protocol.write_frame(replies, {"status": "ok", "pages": [], "note": None})
        else:
            worker_protocol.write_reply(replies, ("ok", worker.handle(request)))


if __name__ == "__main__":
    main()
