"""The ``docretriever`` command line: a thin shell over :func:`docretriever.library.open_library`."""

from docretriever.cli.main import main

__all__ = ["main"]
