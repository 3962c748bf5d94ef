"""What went wrong talking to the Hugging Face Hub, told as a person can act on it.

huggingface_hub raises its own classes for answers it understood (unknown repository, gated
model, missing revision) and lets httpx's transport errors through for the rest (no network, a
name that does not resolve, a proxy, a certificate). Each becomes one :class:`ModelError`.
"""

from __future__ import annotations

import errno
import ssl
from collections.abc import Iterator

from docretriever.embedding.model_source import DEFAULT_ENDPOINT, hub_endpoint
from docretriever.errors import ModelError, describe_os_error

_DNS_WORDS = ("name or service not known", "nodename nor servname", "getaddrinfo failed", "name resolution")
_OFFLINE_HINT = "Check the network connection, or choose a model folder on this computer."


def explain_hub_error(exc: BaseException, repo_id: str, *, resumable: bool = False) -> ModelError:
    """One :class:`ModelError` for an exception raised while planning or downloading ``repo_id``;
    ``details`` keeps the original for a bug report. ``resumable``: the download had started,
    so the message says that running it again resumes it."""
    from huggingface_hub import errors

    details = f"{exc.__class__.__module__}.{exc.__class__.__name__}: {exc}"
    host = hub_endpoint()
    hub = "the Hugging Face Hub" if host == DEFAULT_ENDPOINT else f"the Hugging Face Hub at {host}"
    status = _status(exc)
    again = " Run the download again: it resumes where it stopped." if resumable else ""
    message: str
    if isinstance(exc, errors.GatedRepoError):
        message = (
            f"The model {repo_id} is gated: accept its terms on its page on the Hub, then log in "
            "(hf auth login) or set HF_TOKEN, and try again."
        )
    elif isinstance(exc, errors.RepositoryNotFoundError):
        message = (
            f"{_capital(hub)} has no model {repo_id} (or it is private: log in with hf auth login or "
            "set HF_TOKEN). Check the id."
        )
    elif isinstance(exc, errors.RevisionNotFoundError):
        message = (
            f"The model {repo_id} has no such revision on {hub}. Check what follows the @ (a branch, "
            "a tag, or a commit hash written in full, 40 characters)."
        )
    elif isinstance(exc, errors.OfflineModeIsEnabled | errors.LocalEntryNotFoundError):
        message = (
            f"The model {repo_id} is not on this computer, and offline mode is on (HF_HUB_OFFLINE): "
            "unset HF_HUB_OFFLINE to download it, or choose a model folder."
        )
    elif status in (401, 403):
        message = (
            f"{_capital(hub)} refused access to {repo_id} (HTTP {status}): log in with hf auth login "
            f"or set HF_TOKEN to a token that may read it.{again}"
        )
    elif status == 404 and "/api/" in _url(exc):
        message = (
            f"{host} does not answer like the Hugging Face Hub (HTTP 404 for its API). Check HF_ENDPOINT, "
            "or unset it to use huggingface.co."
        )
    elif status == 404:
        message = f"A file of {repo_id} is missing on {hub} (HTTP 404). Check the id and revision."
    elif status is not None and status >= 500:
        message = f"{_capital(hub)} answered with an error (HTTP {status}). Try again later.{again}"
    elif isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        message = f"The download of {repo_id} stopped: {describe_os_error(exc)}.{again}"
    elif isinstance(exc, OSError) and exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        where = f" ({exc.filename})" if exc.filename else ""
        message = (
            f"The Hugging Face cache cannot be written{where}: {exc.strerror}. Set HF_HOME to a "
            "folder you can write, or choose a model folder."
        )
    elif _caused_by(exc, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in details:
        message = (
            f"The secure connection to {hub} could not be verified: a proxy or firewall may be "
            "intercepting it. Set SSL_CERT_FILE to your organisation's certificate bundle, or choose "
            "a model folder on this computer."
        )
    elif _named(exc, "ProxyError"):
        message = f"The proxy refused the connection to {hub}. Check the proxy settings (HTTPS_PROXY)."
    elif any(word in _text(exc) for word in _DNS_WORDS):
        message = f"The name of {hub} could not be resolved (no network, or DNS fails). {_OFFLINE_HINT}"
    elif _named(exc, "TimeoutException"):
        message = f"{_capital(hub)} did not answer in time. {_OFFLINE_HINT}{again}"
    elif _named(exc, "NetworkError", "RemoteProtocolError") or _caused_by(exc, ConnectionError):
        message = f"Cannot reach {hub}: the connection failed or was cut. {_OFFLINE_HINT}{again}"
    elif "Consistency check failed" in str(exc):
        message = f"A file of {repo_id} arrived incomplete.{again or ' Run the download again.'}"
    else:
        message = f"The model {repo_id} could not be downloaded. {_OFFLINE_HINT}{again}"
    return ModelError(message, details=details)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _url(exc: BaseException) -> str:
    for error in _chain(exc):
        request = getattr(getattr(error, "response", None), "request", None)
        if request is not None:
            return str(getattr(request, "url", ""))
    return ""


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _named(exc: BaseException, *names: str) -> bool:
    return any(cls.__name__ in names for error in _chain(exc) for cls in type(error).__mro__)


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    return any(isinstance(error, kind) for error in _chain(exc))


def _text(exc: BaseException) -> str:
    return " ".join(str(error).lower() for error in _chain(exc))


def _status(exc: BaseException) -> int | None:
    for error in _chain(exc):
        response = getattr(error, "response", None)
        code = getattr(response, "status_code", None)
        if isinstance(code, int):
            return code
    return None
