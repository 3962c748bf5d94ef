"""Downloading a model planned by :mod:`~docretriever.embedding.hub_plan`: one monotone progress
total over the adapter and its base, Cancel within a second, resume across processes, and
errors a person can act on.

The small files go through huggingface_hub's ``hf_hub_download`` (cache layout, locks, links
from a snapshot to its blobs). The weight files, gigabytes each, are fetched with
huggingface_hub's ``http_get`` into a partial blob with a stable name, so that a cancelled,
cut or killed download resumes where it stopped (see :func:`_fetch_resumable`).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from docretriever.embedding.hub_errors import explain_hub_error
from docretriever.embedding.hub_plan import DownloadPlan, PlannedFile, partial_blob
from docretriever.embedding.model_source import hub_cache_dir, hub_endpoint, is_commit_hash, repo_cache_folder
from docretriever.errors import Cancelled, ModelError
from docretriever.progress import CancelToken, ProgressCallback, RateMeter, format_bytes, ignore_progress

# Room left on the disk beyond the download itself (the cache's own bookkeeping, the library).
_DISK_MARGIN = 200_000_000
T = TypeVar("T")
_REPORT_INTERVAL_S = 0.1
_CANCEL_POLL_S = 0.05


def download(
    plan: DownloadPlan, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
) -> None:
    """Fetch every file of ``plan`` that is not cached yet into the Hugging Face cache.

    ``progress`` gets one stage, "Downloading <source>", in bytes: the total is the plan's and
    ``done`` never decreases (a resumed file counts from its resumed size; a retried chunk is
    not counted twice). ``cancel`` returns control within a second, raising
    :class:`Cancelled`; complete files are kept, and a partial file resumes next time, also
    after the process was killed. Raises :class:`ModelError`.
    """
    _check_disk_space(plan)
    _quiet_huggingface_hub()
    counter = _ByteCounter(plan, progress or ignore_progress)
    for file in sorted((f for f in plan.files if not f.cached), key=lambda f: f.size):
        try:
            run_cancellable(functools.partial(_fetch, file, counter, cancel), cancel)
        except (Cancelled, ModelError):
            raise
        except Exception as exc:
            raise explain_hub_error(exc, file.repo_id, resumable=True) from exc
    for repo_id, revision, commit in plan.refs:
        _remember_revision(repo_id, revision, commit)
    counter.finish()


def _quiet_huggingface_hub() -> None:
    """huggingface_hub logs each retry of a cut connection as a warning with the (signed)
    address; the outcome reaches the person as one sentence instead."""
    from huggingface_hub.utils import logging as hub_logging

    hub_logging.set_verbosity_error()


class _ByteCounter:
    """Bytes per planned file, summed into one monotone progress report."""

    def __init__(self, plan: DownloadPlan, report: ProgressCallback) -> None:
        self._done = {(f.repo_id, f.path): f.here for f in plan.files}
        self._sizes = {(f.repo_id, f.path): f.size for f in plan.files}
        self._lock = threading.Lock()
        start = sum(self._done.values())
        self._meter = RateMeter(
            f"Downloading {plan.source}", plan.total_bytes, report, "bytes", baseline=start
        )
        self._last = 0.0
        self._meter.report(start)

    def set(self, key: tuple[str, str], file_bytes: float) -> None:
        import time

        with self._lock:
            value = min(self._sizes[key], max(self._done[key], int(file_bytes)))
            self._done[key] = value
            now = time.monotonic()
            if now - self._last < _REPORT_INTERVAL_S and value < self._sizes[key]:
                return
            self._last = now
            done = sum(self._done.values())
        self._meter.report(done)

    def finish(self) -> None:
        self._meter.report(sum(self._sizes.values()))


def _fetch(file: PlannedFile, counter: _ByteCounter, cancel: CancelToken | None) -> None:
    from huggingface_hub import constants, hf_hub_download

    # Xet transfers run in a Rust pool that a Cancel cannot interrupt and that keeps its own
    # partial state; plain HTTP resumes with a Range request, which the tests exercise (kill -9,
    # dropped connections). The Hub serves every file over HTTP too.
    constants.HF_HUB_DISABLE_XET = True
    progress = _progress_class(file, counter, cancel)
    if file.path.endswith(".safetensors"):
        _fetch_resumable(file, progress)
    # Writes the snapshot's link to the blob (or, for the small files, downloads them whole).
    hf_hub_download(
        file.repo_id,
        file.path,
        revision=file.revision,
        cache_dir=hub_cache_dir(),
        endpoint=hub_endpoint(),
        tqdm_class=progress,
    )
    counter.set((file.repo_id, file.path), file.size)


def _fetch_resumable(file: PlannedFile, progress: type) -> None:
    """Download a weight file into the cache's blob, resuming a partial one left by any earlier
    attempt, a killed process's included.

    huggingface_hub (since 1.x) downloads into a file unique to the process and deletes it on
    failure, so a 5 GB shard interrupted at 90 % starts again from zero. Here the partial file
    has a stable name (``blobs/<etag>.partial``), guarded by a lock, and the transfer itself is
    still huggingface_hub's ``http_get`` (Range request, a server that ignores it, retries of a
    dropped connection, size check). The blob is then checked against the SHA-256 that the Hub
    gives as its ETag, and renamed into place, where ``hf_hub_download`` finds it.
    """
    from filelock import FileLock
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.file_download import http_get
    from huggingface_hub.utils import build_hf_headers

    url = hf_hub_url(file.repo_id, file.path, revision=file.revision, endpoint=hub_endpoint())
    metadata = get_hf_file_metadata(url, endpoint=hub_endpoint())
    if not metadata.etag:
        return  # let hf_hub_download say what is wrong
    blob = repo_cache_folder(file.repo_id) / "blobs" / metadata.etag
    if blob.exists():
        return
    blob.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_blob(file.repo_id, metadata.etag)
    # Beside huggingface_hub's own locks, not among the blobs.
    lock = hub_cache_dir() / ".locks" / repo_cache_folder(file.repo_id).name / f"{metadata.etag}.partial.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    headers = build_hf_headers()
    location = metadata.location or url
    if urlsplit(location).netloc != urlsplit(url).netloc:
        headers.pop("authorization", None)  # a signed CDN address takes no Hub token
    with FileLock(str(lock)):
        if blob.exists():
            return
        resume = partial.stat().st_size if partial.exists() else 0
        expected = metadata.size if metadata.size is not None else file.size
        if resume > expected:
            resume = 0
        with open(partial, "r+b" if partial.exists() else "wb") as handle:
            handle.seek(resume)
            handle.truncate()
            http_get(
                location,
                handle,
                resume_size=resume,
                headers=headers,
                expected_size=expected,
                tqdm_class=progress,
            )
        _check_sha256(partial, metadata.etag, file)
        os.replace(partial, blob)


def _check_sha256(path: Path, etag: str, file: PlannedFile) -> None:
    """An LFS file's ETag is its SHA-256: a mismatch means bytes were damaged on the way (or the
    file changed between a download and its resumption); the partial file is dropped."""
    if not re.fullmatch(r"[0-9a-f]{64}", etag):
        return
    with open(path, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    if digest != etag:
        path.unlink(missing_ok=True)
        raise ModelError(
            f"{file.path} of {file.repo_id} arrived damaged (its checksum does not match). Run the "
            "download again; it fetches that file anew.",
            details=f"sha256 {digest}, expected {etag}",
        )


def _progress_class(file: PlannedFile, counter: _ByteCounter, cancel: CancelToken | None) -> type:
    key = (file.repo_id, file.path)

    class FileProgress:
        """What huggingface_hub needs of a tqdm class (it builds it with keyword arguments only
        for classes that are not its own): counts this file's bytes and honours Cancel."""

        def __init__(self, *args: object, initial: float = 0, **kwargs: object) -> None:
            self.n = float(initial or 0)
            counter.set(key, self.n)

        def __enter__(self) -> FileProgress:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def update(self, n: float | None = 1) -> None:
            if cancel is not None:
                cancel.raise_if_cancelled()
            # huggingface_hub rolls the count back (a negative n) when a server ignores a Range
            # request and the file restarts; the counter keeps the highest value, so the bar
            # pauses instead of moving backwards.
            self.n += float(n or 0)
            counter.set(key, self.n)

        def close(self) -> None:
            return None

        def __getattr__(self, name: str) -> Callable[..., None]:
            return lambda *args, **kwargs: None  # set_postfix_str, refresh, update_transfer...

    return FileProgress


def run_cancellable(work: Callable[[], T], cancel: CancelToken | None) -> T:
    """Run ``work`` on a worker thread and return its result as soon as it ends, or raise
    :class:`Cancelled` as soon as ``cancel`` is set.

    huggingface_hub reads the network in chunks of 10 MB and checks the progress class (where
    the cancel is honoured) once per chunk, which on a slow line can take many seconds; the
    caller gets control back at once, and the worker stops at its next chunk (a weight file's
    ``.partial`` blob keeps what arrived, and the next download resumes it).
    """
    outcome: list[BaseException] = []
    results: list[T] = []

    def target() -> None:
        try:
            results.append(work())
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=target, name="model-download", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(_CANCEL_POLL_S)
        if cancel is not None and cancel.cancelled:
            worker.join(0.5)
            raise Cancelled(
                "Download cancelled; the files finished so far are kept and it resumes next time."
            )
    if outcome:
        raise outcome[0]
    return results[0]


def _remember_revision(repo_id: str, revision: str, commit: str) -> None:
    """Write the cache's ``refs/<revision>`` (atomically) so a later start finds the snapshot
    without the network, as huggingface_hub's own snapshot download does."""
    if is_commit_hash(revision):
        return
    target = repo_cache_folder(repo_id) / "refs" / revision
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temporary.write_text(commit)
    os.replace(temporary, target)


def _check_disk_space(plan: DownloadPlan) -> None:
    folder = hub_cache_dir()
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    needed = plan.download_bytes + _DISK_MARGIN
    if plan.download_bytes and free < needed:
        raise ModelError(
            f"The model needs {format_bytes(needed)} of free disk space in {folder} "
            f"({format_bytes(plan.download_bytes)} to download and {format_bytes(_DISK_MARGIN)} to "
            f"spare), and {format_bytes(free)} is free. Free some space, or set HF_HOME to a folder "
            "on a larger disk, then try again."
        )
