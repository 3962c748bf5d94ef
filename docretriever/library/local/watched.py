"""What a folder watch asks of a local library: the folders it follows, and a sync of only the
paths that changed (:mod:`~docretriever.library.watching`)."""

from __future__ import annotations

import contextlib
from abc import abstractmethod
from collections.abc import Sequence

from docretriever.errors import Cancelled, LibraryError
from docretriever.library.ingest import add_files
from docretriever.library.local.follow import drop_empty_roots
from docretriever.library.local.sink import LocalSink
from docretriever.library.local.store import LocalPageStore
from docretriever.progress import CancelToken, ProgressCallback, ignore_progress
from docretriever.vocabulary import AddReport, CompactReport


class WatchedPages(LocalPageStore):
    """The part of :class:`~docretriever.library.local.LocalLibrary` a watch uses."""

    @abstractmethod
    def compact_if_worthwhile(
        self, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
    ) -> CompactReport | None:
        """See :meth:`LocalLibrary.compact_if_worthwhile`."""

    def followed_folders(self) -> list[str]:
        """The folders (and files) added to the library and followed by ``sync``."""
        return [root for root, _ in self.catalog.roots()]

    def sync_paths(
        self,
        paths: Sequence[str],
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> AddReport:
        """See :meth:`Library.sync_paths`: the rules of :mod:`~docretriever.library.local.follow`
        on these paths only. A path that is gone marks what the library knows under it missing
        (or unavailable, when its drive is not connected); none becomes a followed folder, and
        what the person removed from a followed folder stays out."""
        with self.writer:
            if self.stored_dim() is not None:
                self.candidates.remove_leftovers()
            report = add_files(
                LocalSink(self, syncing=True, follow=False),
                self.renderer,
                lambda: self.embedder,  # loaded only when there is something to embed
                paths,
                progress or ignore_progress,
                cancel or CancelToken(),
            )
            drop_empty_roots(self.catalog)
            # Changed files leave vectors unused; a compaction that fails or is cancelled must not
            # undo the committed change (as after any add).
            with contextlib.suppress(LibraryError, Cancelled):
                self.compact_if_worthwhile(progress, cancel)
            return report
