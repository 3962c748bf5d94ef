"""``prune`` and ``compact``: forgetting what is gone, and reclaiming the space it took."""

from __future__ import annotations

import argparse

from docretriever.cli.progress_bar import ProgressBar
from docretriever.library import Library
from docretriever.progress import CancelToken


def run_prune(library: Library, args: argparse.Namespace, bar: ProgressBar, cancel: CancelToken) -> int:
    """``prune``: see :meth:`Library.prune`."""
    raise NotImplementedError  # written next


def run_compact(library: Library, args: argparse.Namespace, bar: ProgressBar, cancel: CancelToken) -> int:
    """``compact``: see :meth:`Library.compact`."""
    raise NotImplementedError  # written next
