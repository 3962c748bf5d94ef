"""How fast a model reads a page on this computer: measured once, then remembered.

:func:`measure_page_speed` embeds synthetic letter-size page images with a loaded embedder and
times it; :func:`record_speed` keeps the result in ``speed-measurements.json`` in the per-user
cache folder (or ``$DOCRETRIEVER_CACHE_DIR``), keyed by the model, the device, the visual-token
budget and the computer (:attr:`~docretriever.embedding.hardware.Hardware.machine_key`), and
:func:`cached_speed` reads it back without loading anything.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs
from PIL import Image, ImageDraw

from docretriever.config import APP_NAME
from docretriever.embedding.base import Embedder
from docretriever.errors import InvalidInputError
from docretriever.progress import CancelToken, Progress, ProgressCallback, ignore_progress

if TYPE_CHECKING:
    from docretriever.embedding import ModelSpec
    from docretriever.embedding.hardware import Hardware

CACHE_ENV = "DOCRETRIEVER_CACHE_DIR"
CACHE_NAME = "speed-measurements.json"
_CACHE_VERSION = 1
LETTER_PT = (612.0, 792.0)  # a US letter page, in points
MEASURING = "Measuring the speed"


@dataclass(frozen=True, kw_only=True)
class SpeedMeasurement:
    """How long ``model`` took to embed one page here.

    ``seconds_per_page``: wall-clock seconds per page (time.perf_counter), a warm-up page not
    counted. ``model``: the model as the person named it (a Hub id or a folder); ``fingerprint``:
    its weights' (see :class:`~docretriever.embedding.base.ModelIdentity`). ``device``: where it
    ran ("cpu", "cuda", "mps"). ``visual_tokens``: the cells per page it was given. ``pages``:
    how many pages were timed. ``machine``: the computer's key. ``measured_at``: UTC, ISO 8601.
    """

    model: str
    fingerprint: str
    device: str
    visual_tokens: int
    seconds_per_page: float
    pages: int
    machine: str
    measured_at: str

    def describe(self) -> str:
        """ "1.84 s/page (cpu, 256 cells)"."""
        return f"{format_seconds_per_page(self.seconds_per_page)} ({self.device}, {self.visual_tokens} cells)"


def format_seconds_per_page(seconds: float) -> str:
    """Seconds per page with the digits that matter: "0.042 s/page", "1.84 s/page", "23 s/page"."""
    if seconds < 0.1:
        return f"{seconds:.3f} s/page"
    if seconds < 10:
        return f"{seconds:.2f} s/page"
    return f"{seconds:.0f} s/page"


def synthetic_page(size: tuple[int, int]) -> Image.Image:
    """A white RGB page of ``size`` (width, height) pixels with a title, lines of text-like bars
    and a table: the same picture every time, so that measurements compare."""
    width, height = size
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    margin = max(2, width // 12)
    draw.text((margin, margin), "Quarterly report: revenue by region", fill="black")
    line = max(2, height // 60)
    for row in range(8, 40):
        y = row * line
        length = width - 2 * margin - (row * 37 % (width // 3 + 1))
        draw.rectangle((margin, y, margin + max(1, length), y + line // 2), fill=(40, 40, 40))
    top = 42 * line
    for column in range(5):
        for row in range(6):
            x0 = margin + column * (width - 2 * margin) // 5
            y0 = top + row * line * 2
            draw.rectangle((x0, y0, x0 + (width - 2 * margin) // 5, y0 + line * 2), outline="black")
    return image


def measure_page_speed(
    embedder: Embedder,
    model: str,
    machine: str,
    *,
    pages: int = 1,
    warm_up: bool = True,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> SpeedMeasurement:
    """Time ``embedder`` on ``pages`` synthetic letter pages rendered at its
    :meth:`~docretriever.embedding.base.Embedder.render_size`, one page at a time, after one
    untimed warm-up page (the first call pays for lazy set-up). ``model`` and ``machine`` name
    the model and the computer in the result. Raises :class:`InvalidInputError` for ``pages`` < 1
    and :class:`~docretriever.errors.Cancelled` when ``cancel`` is set between pages."""
    if pages < 1:
        raise InvalidInputError("A speed measurement needs at least one page.")
    report = progress or ignore_progress
    total = pages + (1 if warm_up else 0)
    image = synthetic_page(embedder.render_size(*LETTER_PT))
    if warm_up:
        report(Progress(MEASURING, 0, total, message="warming up"))
        embedder.embed_pages([image], cancel)
    elapsed = 0.0
    for done in range(pages):
        if cancel is not None:
            cancel.raise_if_cancelled()
        report(Progress(MEASURING, done + (1 if warm_up else 0), total))
        started = time.perf_counter()
        embedder.embed_pages([image], cancel)
        elapsed += time.perf_counter() - started
    report(Progress(MEASURING, total, total))
    identity = embedder.identity
    return SpeedMeasurement(
        model=model,
        fingerprint=identity.fingerprint,
        device=str(getattr(embedder, "device", "cpu")),
        visual_tokens=int(getattr(embedder, "visual_tokens", 0)) or embedder.geometry.default_cells,
        seconds_per_page=elapsed / pages,
        pages=pages,
        machine=machine,
        measured_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def default_cache_file() -> Path:
    """Where measurements are kept: ``speed-measurements.json`` in ``$DOCRETRIEVER_CACHE_DIR``,
    else in the per-user cache folder."""
    override = os.environ.get(CACHE_ENV)
    folder = Path(override).expanduser() if override else Path(platformdirs.user_cache_dir(APP_NAME, False))
    return folder / CACHE_NAME


def _model_key(model: str) -> str:
    """A Hub id without its ``@revision``, case folded; a folder as it resolves."""
    text = model.strip()
    if Path(text).expanduser().is_dir():
        return str(Path(text).expanduser().resolve())
    return text.partition("@")[0].lower()


def load_speeds(cache_file: Path | None = None) -> list[SpeedMeasurement]:
    """Every measurement remembered, oldest first; none when the file is missing or damaged (a
    cache: measuring again rebuilds it)."""
    try:
        data = json.loads((cache_file or default_cache_file()).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(data, dict) or data.get("version") != _CACHE_VERSION:
        return []
    measurements = []
    for item in data.get("measurements", []):
        with contextlib.suppress(TypeError, ValueError, AttributeError):
            measurements.append(_from_json(item))
    return measurements


def _from_json(item: Any) -> SpeedMeasurement:
    return SpeedMeasurement(
        model=str(item["model"]),
        fingerprint=str(item["fingerprint"]),
        device=str(item["device"]),
        visual_tokens=int(item["visual_tokens"]),
        seconds_per_page=float(item["seconds_per_page"]),
        pages=int(item["pages"]),
        machine=str(item["machine"]),
        measured_at=str(item["measured_at"]),
    )


def _same_setting(a: SpeedMeasurement, b: SpeedMeasurement) -> bool:
    return (_model_key(a.model), a.device, a.visual_tokens, a.machine) == (
        _model_key(b.model),
        b.device,
        b.visual_tokens,
        b.machine,
    )


def record_speed(measurement: SpeedMeasurement, cache_file: Path | None = None) -> None:
    """Remember ``measurement``, replacing an older one of the same model, device, budget and
    computer. Written atomically (a temporary file, then a rename). A cache that cannot be
    written (read-only or full disk) is left as it was: the measurement is only not remembered."""
    path = cache_file or default_cache_file()
    kept = [old for old in load_speeds(path) if not _same_setting(old, measurement)]
    payload = {"version": _CACHE_VERSION, "measurements": [asdict(m) for m in [*kept, measurement]]}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".speed-", dir=path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(payload, stream, indent=1)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except OSError:
        pass


def cached_speed(
    model: str,
    machine: str,
    *,
    device: str | None = None,
    visual_tokens: int | None = None,
    cache_file: Path | None = None,
) -> SpeedMeasurement | None:
    """The newest measurement of ``model`` (a Hub id, with or without ``@revision``, or a folder)
    on the computer ``machine``, on ``device`` and with ``visual_tokens`` cells when given; None
    when it was never measured there. Reads the cache only."""
    key = _model_key(model)
    found = [
        m
        for m in load_speeds(cache_file)
        if _model_key(m.model) == key
        and m.machine == machine
        and device in (None, m.device)
        and visual_tokens in (None, m.visual_tokens)
    ]
    # The newest; of two measured in the same second, the one written last.
    return max(reversed(found), key=lambda m: m.measured_at) if found else None


def measure_model(
    spec: ModelSpec,
    machine: str,
    *,
    pages: int = 1,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    cache_file: Path | None = None,
) -> SpeedMeasurement:
    """Load the model ``spec`` names (never downloading it), time it on ``pages`` pages after a
    warm-up (see :func:`measure_page_speed`) on the computer ``machine``, and remember the result
    (:func:`record_speed`). Raises :class:`~docretriever.errors.ModelError` when the model is not
    on this computer or cannot be loaded, Cancelled when ``cancel`` is set."""
    from dataclasses import replace

    from docretriever.embedding import load_embedder

    embedder = load_embedder(replace(spec, download=False), progress, cancel)
    measurement = measure_page_speed(
        embedder, spec.resolved_source(), machine, pages=pages, progress=progress, cancel=cancel
    )
    record_speed(measurement, cache_file)
    return measurement


def speed_here(
    spec: ModelSpec,
    hardware: Hardware | None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> SpeedMeasurement:
    """The remembered speed of the model ``spec`` names on this computer (``hardware``; detected
    when None), else a new measurement by :func:`measure_model`, remembered. Raises what
    :func:`measure_model` raises."""
    from docretriever.embedding.hardware import detect_hardware

    machine = (hardware or detect_hardware()).machine_key
    known = cached_speed(spec.resolved_source(), machine)
    return known or measure_model(spec, machine, progress=progress, cancel=cancel)
