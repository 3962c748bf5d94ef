"""The render worker's wire format: length-capped frames of JSON plus raw pixel bytes, no pickle.

The worker runs MuPDF on files that may be hostile; if one ever took control of it, whatever it
writes back must still be inert data in the app. So a frame is ``<total length: u64> <header
length: u32> <header: UTF-8 JSON object> <blob: raw bytes>``; lengths are checked against caps
before anything is read, and every reply is checked field by field (:func:`decode_reply`), so a
malformed reply is an error for that request, never code run in the app's process.

Requests: ``("inspect", path, password)``, ``("render", path, PageInfo, (width, height),
password)``, the size in pixels chosen by the app (the model's render size, or a display size),
and ``("words", path, PageInfo, password)``. Replies: ``("ok", PageList)`` for inspect,
``("ok", (mode, (width, height), pixel bytes, width_pt, height_pt, renderer))`` for render,
``("ok", WordList)`` for words, ``("error", kind, message, details)``.
"""

from __future__ import annotations

import json
import math
import struct
from typing import IO, Any

from docretriever.documents.pdf import PageInfo, PageList
from docretriever.documents.words import MAX_WORD_CHARS, MAX_WORDS, PageWord, WordList

_FRAME = struct.Struct("<QI")
# A header is a few hundred bytes (a page list: about 100 bytes a page); the blob is one
# rendered page (3 bytes a pixel, a few megapixels at most).
MAX_HEADER_BYTES = 64 << 20
MAX_BLOB_BYTES = 512 << 20


class MalformedMessage(ValueError):
    """A frame or reply that breaks the format: the sender is not to be trusted any further."""


def write_frame(stream: IO[bytes], header: dict[str, Any], blob: bytes = b"") -> None:
    # ASCII JSON: a path or label with lone surrogates (undecodable file names) still encodes.
    data = json.dumps(header).encode("ascii")
    stream.write(_FRAME.pack(_FRAME.size + len(data) + len(blob), len(data)) + data + blob)
    stream.flush()


def read_frame(stream: IO[bytes]) -> tuple[dict[str, Any], bytes]:
    """The next (header, blob). Raises EOFError when the other side has gone and
    :class:`MalformedMessage` for a frame over the caps or a header that is not a JSON object."""
    prefix = stream.read(_FRAME.size)
    if len(prefix) < _FRAME.size:
        raise EOFError("the other process closed the pipe")
    total, header_length = _FRAME.unpack(prefix)
    blob_length = total - _FRAME.size - header_length
    if header_length > MAX_HEADER_BYTES or not 0 <= blob_length <= MAX_BLOB_BYTES:
        raise MalformedMessage(f"a frame of {total} bytes (header {header_length}) is over the limits")
    data = stream.read(header_length + blob_length)
    if len(data) < header_length + blob_length:
        raise EOFError("the other process closed the pipe mid-message")
    try:
        header = json.loads(data[:header_length])
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, or nested past parsing
        raise MalformedMessage(f"the header is not JSON ({exc.__class__.__name__})") from exc
    if not isinstance(header, dict):
        raise MalformedMessage("the header is not a JSON object")
    return header, data[header_length:]


def _page(info: PageInfo) -> dict[str, Any]:
    return {
        "index": info.index,
        "width_pt": info.width_pt,
        "height_pt": info.height_pt,
        "rotation": info.rotation,
        "label": info.label,
    }


def _typed(value: Any, kinds: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(value, kinds) or isinstance(value, bool):
        raise MalformedMessage(f"{what} has the wrong type")
    return value


def _size(value: Any, what: str) -> float:
    """A finite, non-negative number of points."""
    number = float(_typed(value, (int, float), what))
    if not math.isfinite(number) or number < 0:
        raise MalformedMessage(f"{what} is not a size")
    return number


def _text(value: Any, what: str) -> str:
    """A string the app can store and show (lone surrogates replaced)."""
    text: str = _typed(value, str, what)
    return text.encode("utf-8", "replace").decode("utf-8")


def _page_info(fields: Any) -> PageInfo:
    if not isinstance(fields, dict):
        raise MalformedMessage("a page is not an object")
    label = fields.get("label")
    rotation = _typed(fields.get("rotation"), int, "a page's rotation")
    if rotation not in (0, 90, 180, 270):
        raise MalformedMessage("a page's rotation is not a quarter turn")
    index = _typed(fields.get("index"), int, "a page's index")
    if index < 0:
        raise MalformedMessage("a page's index is negative")
    return PageInfo(
        index,
        _size(fields.get("width_pt"), "a page's width"),
        _size(fields.get("height_pt"), "a page's height"),
        rotation,
        None if label is None else _text(label, "a page label"),
    )


def _pixel_size(value: Any, what: str) -> tuple[int, int]:
    """(width, height): two positive whole numbers of pixels, from a JSON list."""
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise MalformedMessage(f"{what} is not a width and a height")
    width, height = (_typed(v, int, what) for v in value)
    if width <= 0 or height <= 0:
        raise MalformedMessage(f"{what} is not a size in pixels")
    return width, height


def _words(fields: Any) -> WordList:
    """A page's words from the worker: each [x0, y0, x1, y1, text, block, line, word], the box
    four finite numbers, the numbers whole and not negative; at most MAX_WORDS of them."""
    rows = _typed(fields, list, "the words")
    if len(rows) > MAX_WORDS:
        raise MalformedMessage("more words than a page may have")
    words = WordList()
    for row in rows:
        if not isinstance(row, list) or len(row) != 8:
            raise MalformedMessage("a word is not a box, a text and its place")
        x0, y0, x1, y1 = (float(_typed(v, (int, float), "a word's box")) for v in row[:4])
        if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
            raise MalformedMessage("a word's box is not finite")
        text = _text(row[4], "a word")
        if len(text) > MAX_WORD_CHARS:
            raise MalformedMessage("a word is longer than a word may be")
        block, line, number = (_typed(v, int, "a word's place") for v in row[5:])
        if min(block, line, number) < 0:
            raise MalformedMessage("a word's place is negative")
        words.append(PageWord(x0, y0, x1, y1, text, block, line, number))
    return words


def write_request(stream: IO[bytes], request: tuple[Any, ...]) -> None:
    if request[0] == "inspect":
        write_frame(stream, {"op": "inspect", "path": request[1], "password": request[2]})
    elif request[0] == "words":
        _, path, info, password = request
        write_frame(stream, {"op": "words", "path": path, "page": _page(info), "password": password})
    else:
        _, path, info, size, password = request
        header = {"op": "render", "path": path, "page": _page(info), "size": list(size)}
        write_frame(stream, {**header, "password": password})


def read_request(stream: IO[bytes]) -> tuple[Any, ...]:
    """The next request, as :func:`write_request` was given it (a render's size as a tuple).
    Raises EOFError when the other side has gone and :class:`MalformedMessage` for a frame that
    breaks the format (see :func:`read_frame`), an unknown request or a render's page or size
    that is not one."""
    header, _ = read_frame(stream)
    if header.get("op") == "inspect":
        return ("inspect", header["path"], header["password"])
    if header.get("op") == "render":
        page = _page_info(header["page"])
        size = _pixel_size(header.get("size"), "the size asked for")
        return ("render", header["path"], page, size, header["password"])
    if header.get("op") == "words":
        return ("words", header["path"], _page_info(header["page"]), header["password"])
    raise MalformedMessage(f"unknown request {header.get('op')!r}")


def write_reply(stream: IO[bytes], reply: tuple[Any, ...]) -> None:
    if reply[0] == "error":
        _, kind, message, details = reply
        write_frame(stream, {"status": "error", "kind": kind, "message": message, "details": details})
    elif isinstance(reply[1], WordList):
        rows = [[w.x0, w.y0, w.x1, w.y1, w.text, w.block, w.line, w.word] for w in reply[1]]
        write_frame(stream, {"status": "ok", "words": rows})
    elif isinstance(reply[1], list):
        pages = reply[1]
        note = getattr(pages, "note", None)
        write_frame(stream, {"status": "ok", "pages": [_page(p) for p in pages], "note": note})
    else:
        mode, size, pixels, width_pt, height_pt, renderer = reply[1]
        image = {"mode": mode, "size": list(size), "width_pt": width_pt, "height_pt": height_pt}
        write_frame(stream, {"status": "ok", "image": {**image, "renderer": renderer}}, pixels)


def decode_reply(
    header: dict[str, Any],
    blob: bytes,
    error_kinds: set[str],
    request: str,
    size: tuple[int, int] | None = None,
) -> tuple[Any, ...]:
    """A reply to a ``request`` ("inspect", "render" or "words") as the pool uses it, every field
    checked: an inspect gets a page list, words a :class:`WordList`, a render an RGB image (of
    ``size`` (width, height) pixels, the size asked for, when given). Raises
    :class:`MalformedMessage` for anything else, whatever is wrong with it."""
    try:
        return _decode_reply(header, blob, error_kinds, request, size)
    except MalformedMessage:
        raise
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        raise MalformedMessage(f"a reply that cannot be read ({exc.__class__.__name__})") from exc


def _decode_reply(
    header: dict[str, Any], blob: bytes, error_kinds: set[str], request: str, asked: tuple[int, int] | None
) -> tuple[Any, ...]:
    status = header.get("status")
    if status == "error":
        kind = header.get("kind")
        if not isinstance(kind, str) or kind not in error_kinds:
            raise MalformedMessage("an error of an unknown kind")
        details = header.get("details")
        message = _text(header.get("message"), "an error message")
        return ("error", kind, message, None if details is None else _text(details, "details"))
    if status != "ok":
        raise MalformedMessage("a reply that is neither ok nor an error")
    if request == "inspect":
        if "pages" not in header:
            raise MalformedMessage("an inspect answered without a page list")
        pages = PageList(_page_info(p) for p in _typed(header["pages"], list, "the page list"))
        note = header.get("note")
        pages.note = None if note is None else _text(note, "the page list's note")
        return ("ok", pages)
    if request == "words":
        if "words" not in header:
            raise MalformedMessage("words asked for and not given")
        return ("ok", _words(header["words"]))
    image = _typed(header.get("image"), dict, "the image")
    mode, size = image.get("mode"), image.get("size")
    if mode != "RGB" or not isinstance(size, list) or len(size) != 2:
        raise MalformedMessage("the image is not an RGB image of two dimensions")
    width, height = (_typed(v, int, "the image size") for v in size)
    if width <= 0 or height <= 0 or len(blob) != width * height * 3:
        raise MalformedMessage("the image's pixels do not match its size")
    if asked is not None and (width, height) != tuple(asked):
        raise MalformedMessage("the image is not of the size asked for")
    width_pt = _size(image.get("width_pt"), "the page width")
    height_pt = _size(image.get("height_pt"), "the page height")
    renderer = _text(image.get("renderer"), "the renderer")
    return ("ok", (mode, (width, height), blob, width_pt, height_pt, renderer))
