"""``shell``: one model load, then as many searches as people type."""

from __future__ import annotations

import argparse

from docretriever.library import Library


def run_shell(library: Library, args: argparse.Namespace) -> int:
    raise NotImplementedError  # written next
