"""Fixtures for tests that download models: tiny Hub repositories and a local Hub serving them.

Wire them in with one line in ``tests/conftest.py``::

    from hub_fixtures import hub, hub_repos  # noqa: F401  (pytest fixtures)

- ``hub_repos`` (session): ``{repo id: folder}`` of the tiny ``vidore/colqwen2-v1.0`` (adapter),
  ``vidore/colqwen2-base`` and ``vidore/colqwen2-v1.0-hf``, built once per test session
  (:func:`docretriever.testing.hub_layout.build_hub_repos`).
- ``hub`` (function): a started :class:`helpers.hub_stand_in.HubStandIn` over ``hub_repos``, with this
  process pointed at it and online (see :func:`use_hub`): ``HF_ENDPOINT`` is its address, offline mode is off,
  and ``HF_HOME`` / ``HF_HUB_CACHE`` are fresh folders of the test. It stops when the test ends.
- ``hub_cache`` (function): the ``hub`` fixture's (initially empty) huggingface_hub cache folder.

:func:`use_hub` is public for tests that start their own stand-in (other repositories, fixed ports).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.hub_stand_in import HubStandIn

__all__ = ["hub", "hub_cache", "hub_repos", "no_cached_models", "use_hub"]


def use_hub(monkeypatch: pytest.MonkeyPatch, endpoint: str, hf_home: Path) -> Path:
    """Point huggingface_hub (and transformers) at ``endpoint``, online, with ``hf_home`` as HF_HOME.

    huggingface_hub reads its environment once, at import, into ``huggingface_hub.constants``; changing only
    the variables would not reach a process that already imported it (tests/conftest.py sets HF_HUB_OFFLINE=1
    before anything is imported). So both the variables (for code and child processes that read them) and the
    constants are patched; ``monkeypatch`` restores them all. No token is visible: none in the environment
    and a token file under ``hf_home`` that does not exist, so the stand-in sees anonymous requests unless a
    test passes ``token=``. Returns the hub cache folder (``hf_home / "hub"``).
    """
    import huggingface_hub
    from huggingface_hub import constants

    cache = hf_home / "hub"
    cache.mkdir(parents=True, exist_ok=True)
    for name, value in {
        "HF_ENDPOINT": endpoint,
        "HF_HUB_OFFLINE": "0",
        "TRANSFORMERS_OFFLINE": "0",
        "HF_HOME": str(hf_home),
        "HF_HUB_CACHE": str(cache),
        "HF_HUB_DISABLE_TELEMETRY": "1",
    }.items():
        monkeypatch.setenv(name, value)
    hidden = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_OIDC_ID_TOKEN", "HF_OIDC_RESOURCE")
    for name in hidden:
        monkeypatch.delenv(name, raising=False)
    patched: dict[str, object] = {
        "HF_HUB_OFFLINE": False,
        "ENDPOINT": endpoint,
        "HUGGINGFACE_CO_URL_TEMPLATE": endpoint + "/{repo_id}/resolve/{revision}/{filename}",
        "HF_HOME": str(hf_home),
        "HF_HUB_CACHE": str(cache),
        "HUGGINGFACE_HUB_CACHE": str(cache),
        "HF_ASSETS_CACHE": str(hf_home / "assets"),
        "HF_TOKEN_PATH": str(hf_home / "token"),
        "HF_STORED_TOKENS_PATH": str(hf_home / "stored_tokens"),
    }
    for name, constant in patched.items():
        monkeypatch.setattr(constants, name, constant)
    # Copied at import by scan_cache_dir()'s module.
    cache_manager = sys.modules.get("huggingface_hub.utils._cache_manager")
    if cache_manager is not None:
        monkeypatch.setattr(cache_manager, "HF_HUB_CACHE", str(cache), raising=False)
    # transformers keeps one HfApi, whose endpoint is fixed when it is first made: start without it.
    transformers_hub = sys.modules.get("transformers.utils.hub")
    if transformers_hub is not None:
        monkeypatch.setattr(transformers_hub, "_hf_api", None, raising=False)
    # Pooled connections belong to an earlier test's stand-in.
    huggingface_hub.close_session()
    return cache


@pytest.fixture(scope="session")
def hub_repos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tiny vidore repositories, ``{repo id: folder}``, built once per session (seed 0)."""
    from docretriever.testing.hub_layout import build_hub_repos

    return build_hub_repos(tmp_path_factory.mktemp("hub-repos"))


@pytest.fixture()
def hub(hub_repos: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[HubStandIn]:
    """A local Hub serving ``hub_repos``, with this process pointed at it and online; stopped at the end."""
    with HubStandIn(hub_repos) as stand_in:
        use_hub(monkeypatch, stand_in.endpoint, tmp_path / "hf-home")
        yield stand_in
        assert not stand_in.server_errors, stand_in.server_errors
    import huggingface_hub

    huggingface_hub.close_session()
    # transformers may have been imported during the test and made its HfApi for this stand-in.
    transformers_hub = sys.modules.get("transformers.utils.hub")
    if transformers_hub is not None and hasattr(transformers_hub, "_hf_api"):
        setattr(transformers_hub, "_hf_api", None)  # noqa: B010 (a private global of transformers)


@pytest.fixture()
def hub_cache(hub: HubStandIn, tmp_path: Path) -> Path:
    """The (initially empty) huggingface_hub cache folder the ``hub`` fixture set up."""
    return tmp_path / "hf-home" / "hub"


@pytest.fixture()
def no_cached_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache in the test's folder (``HF_HOME``, ``HF_HUB_CACHE`` and the
    constant huggingface_hub read at import): no model is on this computer, whatever this
    machine's own cache holds. Returns the hub cache folder."""
    import huggingface_hub.constants

    home = tmp_path / "hf-home"
    (home / "hub").mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(home / "hub"))
    return home / "hub"
