"""DocRetriever's desktop app (PySide6). It only calls the core, :mod:`docretriever`."""
