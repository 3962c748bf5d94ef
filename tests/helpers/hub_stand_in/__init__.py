"""A local stand-in of the Hugging Face Hub: the real protocol over the real repository layouts, on 127.0.0.1.

Tests of the model download run against this server instead of huggingface.co. It answers what
huggingface_hub 2.4.0 sends (read from its source: ``HfApi.model_info`` / ``repo_info`` /
``list_repo_tree`` / ``get_paths_info`` / ``list_repo_refs``, ``hf_hub_download`` with its HEAD then GET,
``snapshot_download``, ``hf_raise_for_status``) the way the real Hub answers it:

- ``GET /api/models/{repo}[/revision/{rev}]``: the repository's info; ``blobs=true`` adds sizes, blob ids and
  LFS details to the siblings; ``expand=...`` returns only the properties asked for.
- ``GET /api/models/{repo}/tree/{rev}[/{path}]``: the listing (``recursive``, ``expand``), in pages of at most
  1000 entries (50 with ``expand``) linked by a ``Link: <...>; rel="next"`` header.
- ``HEAD`` / ``GET /{repo}/resolve/{rev}/{path}``: regular files answer 200 with ``ETag`` (the git blob
  sha1), ``X-Repo-Commit``, ``Content-Length``, ``Accept-Ranges``; LFS files answer 302 to a signed-looking
  CDN address, with ``X-Linked-Etag`` (the sha256), ``X-Linked-Size`` and ``X-Repo-Commit``.
  ``Range: bytes=N-`` gets 206 with ``Content-Range``. Compressible text files are gzipped (chunked, no
  Content-Length) when the client accepts gzip, as CloudFront does; a Range request then gets the whole file
  again (200), as there.
- Errors with the Hub's ``X-Error-Code``: ``RepoNotFound`` (401 without a token, 404 with one),
  ``GatedRepo`` (401 without a token, 403 with a token that is not let in), ``RevisionNotFound`` (404),
  ``EntryNotFound`` (404, with ``X-Repo-Commit``).
- No Xet headers, so huggingface_hub downloads over plain HTTP even with hf_xet installed.

The CDN is a second listening socket of the same stand-in, on another port. It has to be another origin:
the real CDN is another host, so huggingface_hub's HEAD stops at the 302 and reads the file's metadata from
it, and its GET to the CDN goes without the Authorization header. On the Hub's own origin huggingface_hub
would follow the redirect and then miss ``X-Repo-Commit`` on the CDN's answer.

Faults for tests, set at run time: :meth:`HubStandIn.gate`, :meth:`HubStandIn.drop_after`,
:meth:`HubStandIn.throttle`, :meth:`HubStandIn.fail`, :meth:`HubStandIn.stop` and :meth:`HubStandIn.start`
(the network vanishes, then comes back on the same ports). Every request is logged
(:attr:`HubStandIn.requests`, :attr:`HubStandIn.log`) and body bytes are counted per repository file
(:meth:`HubStandIn.bytes_served`).

By hand, from the project root: ``uv run python tests/helpers/hub_stand_in --port 8765 DIR`` (or, from
tests/, ``uv run python -m helpers.hub_stand_in --port 8765 DIR``) writes the tiny repositories of
:mod:`docretriever.testing.hub_layout` into DIR when it is empty, serves every ``DIR/<namespace>/<name>``
folder, and prints the ``HF_ENDPOINT`` to use.

The modules: :mod:`.repository` (a folder as a repository at one commit, with its git and LFS ids),
:mod:`.api` (the JSON API), :mod:`.protocol` (routing, resolve, the CDN, ranges, gzip, errors),
:mod:`.responses` (answers and the Hub's error form), :mod:`.faults`, :mod:`.request_log`, :mod:`.server`
(:class:`HubStandIn` and its sockets) and :mod:`.cli` (the command line).
"""

from .api import TREE_EXPAND_PAGE_SIZE, TREE_PAGE_SIZE
from .cli import main
from .repository import DEFAULT_LFS_PATTERNS, HubRepo, RepoEntry
from .request_log import LoggedRequest, ServedRequest
from .responses import HubError
from .server import HOST, HubStandIn

__all__ = [
    "DEFAULT_LFS_PATTERNS",
    "HOST",
    "TREE_EXPAND_PAGE_SIZE",
    "TREE_PAGE_SIZE",
    "HubError",
    "HubRepo",
    "HubStandIn",
    "LoggedRequest",
    "RepoEntry",
    "ServedRequest",
    "main",
]
