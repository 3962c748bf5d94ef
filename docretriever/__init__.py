"""DocRetriever's headless core: index PDFs by how their pages look, search them by meaning.

The API the CLI and the GUI share is :func:`docretriever.library.open_library`. This package
never imports Qt, and imports torch only when a model is loaded.
"""

__version__ = "0.1.0"
