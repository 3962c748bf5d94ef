"""The error for a library opened with another model than the one that built it, in words."""

from __future__ import annotations

from docretriever.embedding.base import ModelIdentity
from docretriever.errors import ModelMismatchError


def model_mismatch(
    recorded_id: object,
    recorded_revision: object,
    wanted: ModelIdentity,
    elsewhere: str,
    recorded_family: object = None,
) -> ModelMismatchError:
    """The error for a library built with another model; ``elsewhere`` says where to go instead.

    Models are told apart by their weights, not their names, so the message says so when the
    names agree: the same id at another revision, or the same folder name with other weights.
    A model of another family (``recorded_family``, when recorded) is named as such: its rows
    are not even of the same page cells.
    """
    revision = f"revision {recorded_revision}" if recorded_revision else "an unknown revision"
    family = str(recorded_family or "ColQwen2")
    if family != wanted.family:
        return ModelMismatchError(
            f"This library was built with {recorded_id} ({revision}), a {family} model, not with a "
            f"{wanted.family} model such as {wanted.model_id}: vectors of two model families cannot "
            f"be compared. Choose {recorded_id} again, or use {elsewhere} for {wanted.model_id}."
        )
    if recorded_id != wanted.model_id:
        return ModelMismatchError(
            f"This library was built with the model {recorded_id} ({revision}), not {wanted.model_id}: "
            f"vectors of two models cannot be compared. Choose that model again, or use {elsewhere} "
            "for this one."
        )
    if str(recorded_revision) != wanted.revision:
        return ModelMismatchError(
            f"This library was built with {recorded_id} at {revision}, whose weights differ from those "
            f"of {wanted.model_id} at revision {wanted.revision} set now. Pin the revision it was "
            f"built with (for a Hub model, {recorded_id}@REVISION), or use {elsewhere} for this one."
        )
    return ModelMismatchError(
        f"The weights of {wanted.model_id} here differ from those this library was built with, "
        "though the name and revision are the same: the files were changed or are another copy. "
        "A library made before DocRetriever identified models by their weights knows its model only "
        f"in the folder it was built with; open it once with that folder. Or use {elsewhere} for "
        "this model.",
        details=f"library records {recorded_id} {recorded_revision}; model {wanted.fingerprint}",
    )
