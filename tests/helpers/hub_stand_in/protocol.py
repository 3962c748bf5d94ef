"""The Hub's HTTP protocol: one request in, one answer out, for the Hub's origin and for its CDN.

:class:`HubProtocol` routes ``/api/models/...`` to :mod:`.api`, answers ``/{repo}/resolve/{rev}/{path}``
(regular files directly, LFS files with a 302 to the CDN), serves the CDN's signed-looking addresses, honours
``Range: bytes=...`` and gzips text files for clients that accept it, and turns every failure into the
Hub's error answer. It never touches a socket: :mod:`.server` sends what it returns.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from . import api
from .faults import Faults
from .repository import HubRepo, RepoEntry
from .responses import FileBody, HubError, Response, error_response, hub_headers, json_response

__all__ = ["HubProtocol"]

# CloudFront compresses these types, from 1,000 bytes to 10 MB, for clients that accept gzip.
_GZIP_SUFFIXES = (".json", ".txt", ".md", ".jinja")
_GZIP_MIN, _GZIP_MAX = 1000, 10_000_000
_REPO_KEYWORDS = frozenset({"tree", "revision", "resolve", "refs", "paths-info", "commits", "discussions"})


class HubProtocol:
    """Answers requests for ``repos`` as the Hub and its CDN do, with the gates and failures of ``faults``.

    ``endpoint`` and ``cdn_endpoint`` are the addresses answers point to (the next tree page, the CDN
    redirect); the server sets them once it listens.
    """

    def __init__(
        self,
        repos: Mapping[str, HubRepo],
        faults: Faults,
        *,
        tree_page_size: int = api.TREE_PAGE_SIZE,
        tree_expand_page_size: int = api.TREE_EXPAND_PAGE_SIZE,
        gzip_text: bool = True,
    ) -> None:
        self.repos = repos
        self.faults = faults
        self.tree_page_size = tree_page_size
        self.tree_expand_page_size = tree_expand_page_size
        self.gzip_text = gzip_text
        self.endpoint = ""
        self.cdn_endpoint = ""

    def respond(self, role: str, method: str, raw_path: str, headers: Any, body: bytes) -> Response:
        """The answer to ``method raw_path`` on the ``"hub"`` or ``"cdn"`` origin."""
        split = urlsplit(raw_path)
        path = unquote(split.path)
        fault = self.faults.take_fail(path)
        if fault is not None:
            return error_response(HubError(fault, None, f"Injected failure ({fault})"), api=True)
        token = _bearer(headers.get("Authorization"))
        query = parse_qs(split.query, keep_blank_values=True)
        try:
            if role == "cdn":
                return self._cdn(method, split.path, query, headers)
            if method not in {"GET", "HEAD", "POST"}:
                raise HubError(405, None, "Method not allowed")
            segments = split.path.strip("/").split("/")
            if segments[:2] == ["api", "models"] and len(segments) > 2:
                return self._api(method, segments[2:], query, token, body)
            if segments == ["api", "agent-harnesses"]:
                # huggingface_hub fetches this registry once a day to tag its User-Agent; an empty one
                # detects no agent.
                return json_response({"standardEnvVars": ["AI_AGENT", "AGENT"], "harnesses": {}})
            if segments[:2] in (["api", "datasets"], ["api", "spaces"]):
                # Only model repositories are served.
                raise self._repo_not_found("/".join(segments[2:4]), token)
            if segments[:1] == ["api"]:
                raise HubError(404, None, "Not Found")
            if segments[:1] in (["datasets"], ["spaces"]):
                raise self._repo_not_found("/".join(segments[1:3]), token)
            return self._resolve(method, segments, headers, token)
        except HubError as error:
            return error_response(error, api=path.startswith("/api/"))

    # ------------------------------------------------------------------ the Hub API

    def _repo_and_rest(self, segments: list[str], token: str | None) -> tuple[HubRepo, list[str]]:
        cut = next((i for i in (1, 2) if i < len(segments) and segments[i] in _REPO_KEYWORDS), len(segments))
        repo_id = "/".join(unquote(s) for s in segments[:cut])
        repo = self.repos.get(repo_id)
        if repo is None or cut > 2:
            raise self._repo_not_found(repo_id, token)
        return repo, segments[cut:]

    def _repo_not_found(self, repo_id: str, token: str | None) -> HubError:
        # Without a token the Hub cannot tell "missing" from "private" and answers 401 (huggingface_hub
        # documents this), with the message of its authentication layer.
        if token is None:
            return HubError(401, "RepoNotFound", "Invalid username or password.")
        return HubError(404, "RepoNotFound", "Repository not found")

    def _revision(self, repo: HubRepo, revision: str) -> str:
        if revision in {"main", "refs/heads/main"} or revision.lower() == repo.sha:
            return repo.sha
        raise HubError(404, "RevisionNotFound", f"Invalid rev id: {revision}")

    def _api(
        self, method: str, segments: list[str], query: dict[str, list[str]], token: str | None, body: bytes
    ) -> Response:
        repo, rest = self._repo_and_rest(segments, token)
        if not rest and method in {"GET", "HEAD"}:
            return json_response(self._model_info(repo, query))
        kind = rest[0]
        if kind == "revision" and len(rest) == 2 and method in {"GET", "HEAD"}:
            self._revision(repo, unquote(rest[1]))
            return json_response(self._model_info(repo, query))
        if kind == "tree" and len(rest) >= 2 and method in {"GET", "HEAD"}:
            self._revision(repo, unquote(rest[1]))
            entries, next_page = api.tree_page(
                repo,
                rest[1],
                rest[2:],
                query,
                endpoint=self.endpoint,
                page_size=self.tree_page_size,
                expand_page_size=self.tree_expand_page_size,
            )
            return json_response(entries, [("Link", f'<{next_page}>; rel="next"')] if next_page else [])
        if kind == "refs" and len(rest) == 1:
            return json_response(api.refs(repo))
        if kind == "paths-info" and len(rest) == 2 and method == "POST":
            self._revision(repo, unquote(rest[1]))
            return json_response(api.paths_info(repo, body))
        raise HubError(404, None, "Not Found")

    def _model_info(self, repo: HubRepo, query: dict[str, list[str]]) -> dict[str, Any]:
        return api.model_info(repo, query, gated=self.faults.gate_of(repo.repo_id) is not None)

    # ------------------------------------------------------------------ file downloads

    def _resolve(self, method: str, segments: list[str], headers: Any, token: str | None) -> Response:
        if method not in {"GET", "HEAD"}:
            raise HubError(405, None, "Method not allowed")
        repo, rest = self._repo_and_rest(segments, token)
        if len(rest) < 3 or rest[0] != "resolve":
            raise HubError(404, None, "Not Found")
        self._check_gate(repo, token)
        sha = self._revision(repo, unquote(rest[1]))
        path = unquote("/".join(rest[2:]))
        entry = repo.files.get(path)
        common = [("X-Repo-Commit", sha), ("Accept-Ranges", "bytes"), *hub_headers()]
        if entry is None:
            raise HubError(404, "EntryNotFound", "Entry not found", [("X-Repo-Commit", sha)])
        name = path.rsplit("/", 1)[-1]
        disposition = f"inline; filename*=UTF-8''{quote(name)}; filename=\"{name}\";"
        if entry.is_lfs:
            location = self._cdn_url(repo, entry, disposition)
            text = f"Found. Redirecting to {location}".encode()
            return Response(
                302,
                [
                    ("Location", location),
                    ("X-Linked-Size", str(entry.size)),
                    ("X-Linked-ETag", f'"{entry.sha256}"'),
                    ("ETag", f'"{entry.sha256}"'),
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("Content-Length", str(len(text))),
                    *common,
                ],
                text,
            )
        key = f"{repo.repo_id}/{path}"
        file_headers = [("ETag", f'"{entry.blob_id}"'), ("Content-Disposition", disposition), *common]
        return self._file_response(method, entry, key, headers, file_headers, "text/plain; charset=utf-8")

    def _check_gate(self, repo: HubRepo, token: str | None) -> None:
        gate = self.faults.gate_of(repo.repo_id)
        if gate is None:
            return
        if token is None:
            raise HubError(
                401,
                "GatedRepo",
                f"Access to model {repo.repo_id} is restricted. You must have access to it and be "
                "authenticated to access it. Please log in.",
            )
        if gate.token is not None and token != gate.token:
            raise HubError(
                403,
                "GatedRepo",
                f"Access to model {repo.repo_id} is restricted and you are not in the authorized list. "
                f"Visit https://huggingface.co/{repo.repo_id} to ask for access.",
            )

    def _cdn_url(self, repo: HubRepo, entry: RepoEntry, disposition: str) -> str:
        prefix = repo.cdn_prefix
        params = urlencode(
            {
                "response-content-disposition": disposition,
                "response-content-type": "application/octet-stream",
                "Expires": "1924992000",
                "Policy": base64.urlsafe_b64encode(prefix.encode()).decode()[:32],
                "Signature": hashlib.sha1(f"{prefix}{entry.sha256}".encode()).hexdigest(),
                "Key-Pair-Id": "K3RPWS32NSSJCE",
            },
            quote_via=quote,
        )
        return f"{self.cdn_endpoint}/repos/{prefix[:2]}/{prefix[2:4]}/{prefix}/{entry.sha256}?{params}"

    def _cdn(self, method: str, raw_path: str, query: dict[str, list[str]], headers: Any) -> Response:
        parts = raw_path.strip("/").split("/")
        repo = next((r for r in self.repos.values() if len(parts) == 5 and r.cdn_prefix == parts[3]), None)
        entry = repo.by_sha256.get(parts[4]) if repo is not None else None
        if method not in {"GET", "HEAD"} or repo is None or entry is None:
            text = b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied</Code></Error>"
            return Response(
                403, [("Content-Type", "application/xml"), ("Content-Length", str(len(text)))], text
            )
        disposition = (query.get("response-content-disposition") or [""])[0]
        file_headers = [
            ("ETag", f'"{hashlib.md5(entry.local.read_bytes()).hexdigest()}"'),
            ("Accept-Ranges", "bytes"),
            ("Last-Modified", formatdate(1730728617, usegmt=True)),
            ("X-Cache", "Miss from cloudfront"),
            *([("Content-Disposition", disposition)] if disposition else []),
        ]
        content_type = (query.get("response-content-type") or ["binary/octet-stream"])[0]
        return self._file_response(
            method, entry, f"{repo.repo_id}/{entry.path}", headers, file_headers, content_type
        )

    def _file_response(
        self,
        method: str,
        entry: RepoEntry,
        key: str,
        request_headers: Any,
        headers: list[tuple[str, str]],
        content_type: str,
    ) -> Response:
        headers = [*headers, ("Content-Type", content_type)]
        accepts_gzip = "gzip" in (request_headers.get("Accept-Encoding") or "")
        compress = (
            self.gzip_text
            and method == "GET"
            and accepts_gzip
            and not entry.is_lfs
            and entry.path.endswith(_GZIP_SUFFIXES)
            and _GZIP_MIN <= entry.size <= _GZIP_MAX
        )
        if compress:
            # CloudFront: gzip, chunked, and no Range support on compressed answers.
            headers += [
                ("Content-Encoding", "gzip"),
                ("Transfer-Encoding", "chunked"),
                ("Vary", "Accept-Encoding"),
            ]
            return Response(200, headers, FileBody(entry, key, 0, entry.size, compress=True))
        try:
            span = _parse_range(request_headers.get("Range"), entry.size)
        except ValueError:
            headers = [h for h in headers if h[0] != "Content-Type"]
            text = b"Requested Range Not Satisfiable"
            return Response(
                416,
                [*headers, ("Content-Range", f"bytes */{entry.size}"), ("Content-Length", str(len(text)))],
                text,
            )
        if span is None:
            return Response(
                200,
                [*headers, ("Content-Length", str(entry.size))],
                FileBody(entry, key, 0, entry.size, False),
            )
        start, end = span
        headers += [
            ("Content-Range", f"bytes {start}-{end}/{entry.size}"),
            ("Content-Length", str(end - start + 1)),
        ]
        return Response(206, headers, FileBody(entry, key, start, end - start + 1, False))


def _bearer(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


def _parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end inclusive) of a single ``bytes=`` range, or None for the whole file.

    Raises ValueError when the range cannot be satisfied (the answer is then 416).
    """
    if not header:
        return None
    match = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
    if match is None:
        return None  # multiple or malformed ranges: served whole, as S3 does with what it cannot parse
    first, last = match.groups()
    if not first:
        if not last:
            return None
        suffix = int(last)
        if suffix == 0:
            raise ValueError(header)
        return max(size - suffix, 0), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        raise ValueError(header)
    return start, end
