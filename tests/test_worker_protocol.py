"""The render worker's replies are inert data: a malformed or hostile reply fails that page only."""

from __future__ import annotations

import io
import pickle
import sys
from pathlib import Path

import pymupdf
import pytest

from docretriever.documents.pdf import PageInfo, PageList
from docretriever.documents.render_pool import RenderPool
from docretriever.documents.worker_protocol import (
    MalformedMessage,
    decode_reply,
    read_frame,
    read_request,
    write_frame,
    write_reply,
    write_request,
)
from docretriever.errors import PageError

HELPERS = Path(__file__).parent / "helpers"
MALFORMED_WORKER = [sys.executable, str(HELPERS / "malformed_render_worker.py")]
KINDS = {"document", "page"}


def _pdf(path: Path) -> Path:
    document = pymupdf.open()
    document.new_page(width=200, height=300).insert_text((20, 50), "hello")
    document.save(path)
    document.close()
    return path


def _round_trip_reply(reply: tuple, request: str) -> tuple:
    stream = io.BytesIO()
    write_reply(stream, reply)
    stream.seek(0)
    return decode_reply(*read_frame(stream), KINDS, request)


def test_requests_and_replies_survive_the_round_trip() -> None:
    info = PageInfo(2, 595.0, 842.0, 90, "iv")
    stream = io.BytesIO()
    write_request(stream, ("render", "/tmp/a.pdf", info, (952, 672), "secret"))
    stream.seek(0)
    assert read_request(stream) == ("render", "/tmp/a.pdf", info, (952, 672), "secret")

    pages = PageList([info, PageInfo(3, 595.0, 842.0, 0)])
    pages.note = "The file declares 9 pages but holds only 4"
    status, decoded = _round_trip_reply(("ok", pages), "inspect")
    assert status == "ok" and list(decoded) == list(pages) and decoded.note == pages.note
    pixels = bytes(range(6)) * 2
    image = ("RGB", (2, 2), pixels, 10.0, 20.0, "mupdf")
    assert _round_trip_reply(("ok", image), "render") == ("ok", image)
    assert _round_trip_reply(("error", "page", "Could not render.", None), "render") == (
        "error",
        "page",
        "Could not render.",
        None,
    )


def test_undecodable_names_and_odd_labels_travel() -> None:
    stream = io.BytesIO()
    odd = "/tmp/bad\udcff-name.pdf"  # a file name that is not UTF-8, as Python decodes it
    write_request(stream, ("inspect", odd, None))
    stream.seek(0)
    assert read_request(stream) == ("inspect", odd, None)
    pages = PageList([PageInfo(0, 10.0, 10.0, 0, "x\udcff\x00")])
    _, decoded = _round_trip_reply(("ok", pages), "inspect")
    assert decoded[0].label == "x?\x00"  # storable: the lone surrogate replaced


IMAGE = {"mode": "RGB", "size": [1, 1], "width_pt": 1, "height_pt": 1, "renderer": "mupdf"}


@pytest.mark.parametrize(
    "header, blob, request_kind",
    [
        ({"status": "ok", "image": {**IMAGE, "size": [2, 2]}}, b"xyz", "render"),
        ({"status": "ok", "image": {**IMAGE, "mode": "L"}}, b"x", "render"),
        ({"status": "ok", "image": {**IMAGE, "mode": "P;evil"}}, b"xyz", "render"),
        ({"status": "ok", "image": {**IMAGE, "width_pt": float("nan")}}, b"xyz", "render"),
        ({"status": "ok", "image": {**IMAGE, "height_pt": 10**400}}, b"xyz", "render"),
        ({"status": "ok", "pages": [], "note": None}, b"", "render"),
        ({"status": "ok", "image": IMAGE}, b"xyz", "inspect"),
        ({"status": "error", "kind": "os.system", "message": "m", "details": None}, b"", "render"),
        ({"status": "error", "kind": ["document"], "message": "m", "details": None}, b"", "render"),
        (
            {"status": "ok", "pages": [{"index": "0", "width_pt": 1, "height_pt": 1, "rotation": 0}]},
            b"",
            "inspect",
        ),
        (
            {"status": "ok", "pages": [{"index": -1, "width_pt": 1, "height_pt": 1, "rotation": 0}]},
            b"",
            "inspect",
        ),
        (
            {"status": "ok", "pages": [{"index": 0, "width_pt": 1, "height_pt": 1, "rotation": 45}]},
            b"",
            "inspect",
        ),
        ({"status": "maybe"}, b"", "render"),
    ],
)
def test_a_reply_with_a_wrong_field_is_malformed(header: dict, blob: bytes, request_kind: str) -> None:
    with pytest.raises(MalformedMessage):
        decode_reply(header, blob, KINDS, request_kind)
    # The control: the same reply with the fields right is read.
    if "image" in header and request_kind == "render":
        assert decode_reply({"status": "ok", "image": IMAGE}, b"xyz", KINDS, "render")[0] == "ok"


def test_frames_over_the_caps_or_not_json_are_malformed() -> None:
    import struct

    with pytest.raises(MalformedMessage, match="over the limits"):
        read_frame(io.BytesIO(struct.pack("<QI", 1 << 40, 10)))
    stream = io.BytesIO()
    write_frame(stream, {"a": 1})
    raw = bytearray(stream.getvalue())
    raw[12] = ord("[")  # the header no longer parses as an object
    with pytest.raises(MalformedMessage):
        read_frame(io.BytesIO(bytes(raw)))
    deep = b"[" * 200_000
    with pytest.raises(MalformedMessage):
        read_frame(io.BytesIO(struct.pack("<QI", 12 + len(deep), len(deep)) + deep))


def test_a_hostile_worker_fails_its_pages_and_runs_no_code(tmp_path: Path, monkeypatch) -> None:
    marker = tmp_path / "code-ran"
    monkeypatch.setenv("DOCRETRIEVER_TEST_MARKER", str(marker))
    # A reply the pool could not read would leave it waiting for the time limit instead, and
    # the message would say so ("took longer than 30 s").
    pool = RenderPool(workers=1, command=MALFORMED_WORKER, timeout_s=30)
    try:
        for name in (
            "pickle-a.pdf",
            "huge-b.pdf",
            "pixels-c.pdf",
            "kind-d.pdf",
            "nested-e.pdf",
            "pages-f.pdf",
        ):
            path = _pdf(tmp_path / name)
            pages = pool.inspect(path)
            [result] = pool.render(path, pages, [(200, 300)])
            assert isinstance(result, PageError), name
            assert "malformed" in str(result) and "tried twice" in str(result), str(result)
        fine = _pdf(tmp_path / "fine.pdf")
        [page] = pool.render(fine, pool.inspect(fine), [(200, 300)])
        assert not isinstance(page, PageError) and page.image.size[0] > 0  # the pool carries on
    finally:
        pool.close()
    assert not marker.exists()
    # Negative control: the same bytes, unpickled as the old channel did, run the code.
    sys.path.insert(0, str(HELPERS))
    try:
        from malformed_render_worker import hostile_pickle

        pickle.loads(hostile_pickle())
    finally:
        sys.path.remove(str(HELPERS))
    assert marker.exists()


def test_a_render_request_carries_a_size_in_pixels_and_the_reply_must_be_that_size() -> None:
    page = {"index": 0, "width_pt": 200.0, "height_pt": 300.0, "rotation": 0, "label": None}
    for size in ([0, 10], [10], ["10", 10], [True, 10], [10.5, 10], None):
        stream = io.BytesIO()
        write_frame(
            stream, {"op": "render", "path": "/tmp/a.pdf", "page": page, "size": size, "password": None}
        )
        stream.seek(0)
        with pytest.raises(MalformedMessage):
            read_request(stream)
    assert decode_reply({"status": "ok", "image": IMAGE}, b"xyz", KINDS, "render", (1, 1))[0] == "ok"
    with pytest.raises(MalformedMessage, match="not of the size asked for"):
        decode_reply({"status": "ok", "image": IMAGE}, b"xyz", KINDS, "render", (2, 2))


def test_the_pool_renders_each_page_at_its_size_and_fails_a_page_without_one(tmp_path: Path) -> None:
    path = _pdf(tmp_path / "page.pdf")
    refused = PageError("The page is too narrow to embed.")
    pool = RenderPool(workers=1)
    try:
        (info,) = pool.inspect(path)
        drawn, failed, odd = pool.render(path, [info, info, info], [(20, 30), refused, (0, 5)])
        assert not isinstance(drawn, PageError) and drawn.image.size == (20, 30)
        assert failed is refused
        assert isinstance(odd, PageError) and "not a size in pixels" in str(odd)
        with pytest.raises(ValueError, match="1 sizes for 2 pages"):
            pool.render(path, [info, info], [(20, 30)])
    finally:
        pool.close()
    idle = RenderPool(workers=1)
    try:  # a page that fails before rendering costs no worker
        assert idle.render(path, [info], [refused]) == [refused] and idle.worker_pids() == []
    finally:
        idle.close()
