"""Which family a model belongs to, told without loading (or downloading) it."""

from __future__ import annotations

from docretriever.embedding.catalogue import catalogue_entry
from docretriever.embedding.families import ModelFamily, family_of_model_type, read_model_type
from docretriever.errors import ModelError


def model_family(source: str) -> ModelFamily | None:
    """The family of the model ``source`` names (a Hub id, ``owner/name@revision`` or a folder):
    from the catalogue for a model it lists, else from the ``config.json`` of the model's files
    on this computer (a folder, or the Hugging Face cache). None when neither tells, for a model
    not listed and not here yet; its family is then known once it is loaded. Never touches the
    network and never raises."""
    entry = catalogue_entry(source)
    if entry is not None:
        return entry.family
    from docretriever.embedding.model_files import locate_model

    try:
        files = locate_model(source, offline=True)
        return family_of_model_type(read_model_type(files.folder, files.base_folder), files.model_id)
    except ModelError:
        return None
