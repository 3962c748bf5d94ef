"""Ingest as a pipeline: rendering, embedding and storing run at the same time.

Three stages joined by bounded queues, so memory stays flat however many pages wait:

1. a thread that feeds the render worker processes, a batch at a time, hashes each rendered
   page (a page whose picture the back end holds vectors for already reuses them and is not
   embedded: :meth:`~docretriever.library.ingest.sink.IngestSink.reuse_plan`) and prepares the
   others for the model (the image processor's normalising and patching: on a CPU about half of
   what embedding costs, and it needs no model); its busy time counts as "render";
2. the model, on the caller's thread (a GPU context stays on the thread that made it);
3. a thread that stores through the back end's sink (:mod:`~docretriever.library.ingest.sink`):
   for a local library vectors (fsync'ed), the catalog commit, the search index; for Qdrant an
   upload the server has acknowledged.

While the model embeds one batch, the next is being rendered and the previous one written, so
the slowest stage sets the pace. Batches already embedded when a cancel arrives are still
stored: that work cost the most.
"""

from __future__ import annotations

import hashlib
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from docretriever.documents.pdf import PageInfo
from docretriever.documents.render import RenderedPage
from docretriever.documents.render_pool import RenderPool
from docretriever.embedding.base import Embedder, PageEmbedding, PreparedPages, render_sizes
from docretriever.library.ingest.sink import IngestSink, ReusedPage
from docretriever.progress import CancelToken
from docretriever.vocabulary import Document

# Batches waiting between two stages. Two keep the next stage fed without holding many images.
QUEUE_BATCHES = 2
_POLL_S = 0.1
_END = None


@dataclass
class Job:
    """A file to index, and the document it holds."""

    path: Path
    document: Document
    note: str | None = None  # what the file promises but lacks (pages its page tree declares)
    password: str | None = field(default=None, repr=False)  # what opens it, when it needs one


def content_hash(image: Image.Image) -> str:
    """The SHA-256 (64 lowercase hex digits) of ``image`` as the model would be given it: its
    mode, its size in pixels and its raw pixel bytes. The same pixels at another size or in
    another mode hash differently (they are another model input). About 3 ms for a page of 768
    cells on one CPU core (see :mod:`~docretriever.library.local.page_reuse`)."""
    digest = hashlib.sha256()
    width, height = image.size
    # Separators: the header can never run into the pixel bytes and read as another header.
    digest.update(f"{image.mode}\0{width}\0{height}\0".encode("ascii"))
    digest.update(image.tobytes())
    return digest.hexdigest()


@dataclass
class RenderedBatch:
    """Pages of one document and what rendering made of each: an image or the reason it failed."""

    job: Job
    pages: list[PageInfo]
    outcomes: list[Any]  # the renderer's name (str) or the PageError, one per page
    last: bool  # the document's last batch
    prepared: PreparedPages | None = None  # the rendered pages to embed, ready for the model
    contents: list[str | None] = field(default_factory=list)  # per page; None: not rendered
    reuse: list[bool] = field(default_factory=list)  # per page: stored vectors serve, no embedding


@dataclass
class EmbeddedBatch:
    job: Job
    pages: list[PageInfo] = field(default_factory=list)  # the rendered ones that were embedded
    embeddings: list[PageEmbedding] = field(default_factory=list)
    renderers: list[str] = field(default_factory=list)
    contents: list[str | None] = field(default_factory=list)  # the content hash of each of pages
    reused: list[ReusedPage] = field(default_factory=list)  # rendered, not embedded
    failures: list[tuple[PageInfo, str]] = field(default_factory=list)
    refused: list[tuple[PageInfo, str]] = field(default_factory=list)  # embedded, not stored
    last: bool = False


def _shape(page: PageInfo) -> float:
    return round(page.width_pt / max(page.height_pt, 1e-6), 3)


class _Stop(Exception):
    """Another stage failed or the ingest was cancelled: this one stops quietly."""


class Pipeline:
    """Runs the three stages over ``jobs``; see the module docstring.

    ``on_stored(batch)`` and ``on_document_done(job)`` are called on the storing thread, in
    order, after each batch is stored and after a document's last batch.
    """

    def __init__(
        self,
        sink: IngestSink,
        renderer: RenderPool,
        embedder: Embedder,
        batch_size: int,
        on_stored: Callable[[EmbeddedBatch], None],
        on_document_done: Callable[[Job], None],
    ) -> None:
        self.sink = sink
        self.renderer = renderer
        self.embedder = embedder
        self.batch_size = max(1, batch_size)
        self.on_stored = on_stored
        self.on_document_done = on_document_done
        self._rendered: queue.Queue[RenderedBatch | None] = queue.Queue(QUEUE_BATCHES)
        self._embedded: queue.Queue[EmbeddedBatch | None] = queue.Queue(QUEUE_BATCHES)
        self._stop = threading.Event()
        self._errors: list[BaseException] = []
        # Seconds each stage spent working (not waiting on a queue) and pages it handled.
        self._busy = {"render": 0.0, "embed": 0.0, "store": 0.0}
        self._pages = {"render": 0, "embed": 0, "store": 0}

    def stage_rates(self) -> dict[str, float]:
        """Pages/s each stage manages while busy: the lowest one sets the pipeline's pace."""
        return {
            stage: self._pages[stage] / seconds
            for stage, seconds in self._busy.items()
            if seconds > 0 and self._pages[stage]
        }

    def _account(self, stage: str, started: float, pages: int) -> None:
        self._busy[stage] += time.perf_counter() - started
        self._pages[stage] += pages

    def run(self, jobs: Sequence[Job], cancel: CancelToken) -> None:
        """Render, embed and store every pending page of ``jobs``. Raises the first error of
        any stage, or :class:`Cancelled`; batches embedded before that are stored."""
        renderer = threading.Thread(target=self._guard, args=(self._render, jobs, cancel), daemon=True)
        storer = threading.Thread(target=self._guard, args=(self._store,), daemon=True)
        renderer.start()
        storer.start()
        try:
            self._embed(cancel)
        except _Stop:
            pass
        except BaseException as exc:
            self._errors.append(exc)
        finally:
            self._put(self._embedded, _END, even_if_stopped=True)  # store what is embedded
            self._stop.set()
            storer.join()
            renderer.join()
        if self._errors:
            raise self._errors[0]

    def _guard(self, stage: Callable[..., None], *args: object) -> None:
        try:
            stage(*args)
        except _Stop:
            pass
        except BaseException as exc:
            self._errors.append(exc)
            self._stop.set()

    def _put(self, channel: queue.Queue[Any], item: object, even_if_stopped: bool = False) -> None:
        while True:
            if self._stop.is_set() and not even_if_stopped:
                raise _Stop
            try:
                channel.put(item, timeout=_POLL_S)
                return
            except queue.Full:
                if even_if_stopped and self._stop.is_set():
                    return  # the consumer has gone
                continue

    def _get(self, channel: queue.Queue[Any], stop_when_set: bool = True) -> Any:
        while True:
            if stop_when_set and self._stop.is_set():
                raise _Stop
            try:
                return channel.get(timeout=_POLL_S)
            except queue.Empty:
                continue

    def _render(self, jobs: Sequence[Job], cancel: CancelToken) -> None:
        for job in jobs:
            # Pages of one shape get the same cell grid: batching them together leaves no padding.
            pending = sorted(self.sink.pending_pages(job.document), key=_shape)
            if not pending:
                self._put(self._rendered, RenderedBatch(job, [], [], last=True))
            for start in range(0, len(pending), self.batch_size):
                if cancel.cancelled:
                    self._put(self._rendered, _END)
                    return
                pages = pending[start : start + self.batch_size]
                started = time.perf_counter()
                sizes = render_sizes(self.embedder, pages)
                images = self.renderer.render(job.path, pages, sizes, job.password)
                contents = [content_hash(i.image) if isinstance(i, RenderedPage) else None for i in images]
                reuse = self.sink.reuse_plan(contents)
                rendered = [
                    image.image
                    for image, again in zip(images, reuse, strict=True)
                    if isinstance(image, RenderedPage) and not again
                ]
                prepared = self.embedder.prepare_pages(rendered) if rendered else None
                # Only the prepared tensors travel on: the images would double what a queued
                # batch holds.
                outcomes = [image.renderer if isinstance(image, RenderedPage) else image for image in images]
                del images, rendered
                self._account("render", started, len(pages))
                last = start + self.batch_size >= len(pending)
                batch = RenderedBatch(job, pages, outcomes, last, prepared, contents, reuse)
                self._put(self._rendered, batch)
        self._put(self._rendered, _END)

    def _embed(self, cancel: CancelToken) -> None:
        while (batch := self._get(self._rendered)) is not _END:
            cancel.raise_if_cancelled()
            out = EmbeddedBatch(batch.job, last=batch.last)
            for page, outcome, content, again in zip(
                batch.pages, batch.outcomes, batch.contents, batch.reuse, strict=True
            ):
                if not isinstance(outcome, str):
                    out.failures.append((page, str(outcome)))
                elif again and content is not None:
                    out.reused.append(ReusedPage(page, outcome, content))
                else:
                    out.pages.append(page)
                    out.renderers.append(outcome)
                    out.contents.append(content)
            if batch.prepared is not None:
                started = time.perf_counter()
                out.embeddings = self.embedder.embed_pages(batch.prepared, cancel)
                self._account("embed", started, len(batch.prepared))
            self._put(self._embedded, out)
        cancel.raise_if_cancelled()  # the renderer stopped early because of a cancel

    def _store(self) -> None:
        # Runs until the end marker, even after a stop: batches already embedded are kept.
        while (batch := self._get(self._embedded, stop_when_set=False)) is not _END:
            started = time.perf_counter()
            document = batch.job.document
            if batch.failures:
                self.sink.fail_pages(document, batch.failures)
            if batch.pages:
                batch.refused = self.sink.store_pages(
                    document, batch.pages, batch.embeddings, batch.renderers, batch.contents
                )
            if batch.refused:
                self.sink.fail_pages(document, batch.refused)
            # After the embedded pages: a reused page may name rows one of them just got.
            if batch.reused:
                self.sink.store_reused(document, batch.reused)
            self._account("store", started, len(batch.pages) + len(batch.reused))
            self.on_stored(batch)
            if batch.last:
                self.on_document_done(batch.job)
