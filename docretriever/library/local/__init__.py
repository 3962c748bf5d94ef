"""The local library: a SQLite catalog, memory-mapped float16 vectors and a USearch index in one
folder on this computer (:class:`LocalLibrary`), and what only it does: following folders,
reusing unchanged pages' vectors, compaction, the recall watch."""

from docretriever.library.local.library import LocalLibrary

__all__ = ["LocalLibrary"]
