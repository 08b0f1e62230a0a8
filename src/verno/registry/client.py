"""An OCI distribution client over httpx: one pooled client per registry.

Every call has a timeout. A registry that cannot be reached raises :class:`RegistryUnreachable`
naming the registry and the image, never hangs. Plain HTTP is used only when the caller allows it
(``allowInsecureRegistry`` / ``--allow-insecure-registry``): such a client first tries HTTPS without
certificate checks and falls back to HTTP once for good when the registry does not speak TLS.
"""
from __future__ import annotations

import hashlib
import json
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from verno.registry.auth import ANONYMOUS, Credentials, parse_challenge
from verno.registry.errors import AuthError, NotFound, RegistryError, RegistryUnreachable

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_TYPES = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST)
#: distribution 2.8 answers 404 unless the OCI types are listed: always send all of them
ACCEPT = ", ".join(MANIFEST_TYPES)
DEFAULT_TIMEOUT = 10.0
_HUB_API = "registry-1.docker.io"


@dataclass(frozen=True)
class Descriptor:
    digest: str
    media_type: str
    size: int


@dataclass
class Manifest:
    digest: str
    media_type: str
    raw: bytes
    _json: Any = field(default=None, repr=False)

    @property
    def json(self) -> dict[str, Any]:
        if self._json is None:
            self._json = json.loads(self.raw)
        return self._json

    @property
    def is_index(self) -> bool:
        return self.media_type in (OCI_INDEX, DOCKER_LIST) or "manifests" in self.json


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def ssl_context(ca: str | Path | None) -> ssl.SSLContext | bool:
    """A context trusting the system roots, plus ``ca`` (a PEM string or a file) when given."""
    if ca is None:
        return True
    ctx = ssl.create_default_context()
    text = str(ca)
    if "-----BEGIN" in text:
        ctx.load_verify_locations(cadata=text)
    else:
        ctx.load_verify_locations(cafile=text)
    return ctx


class RegistryClient:
    """A client for one registry host (``127.0.0.1:5000``, ``ghcr.io``, ``docker.io``)."""

    def __init__(self, registry: str, *, credentials: Credentials = ANONYMOUS, ca: str | Path | None = None,
                 insecure: bool = False, timeout: float = DEFAULT_TIMEOUT,
                 transport: httpx.BaseTransport | None = None):
        self.registry = registry
        self.host = _HUB_API if registry == "docker.io" else registry
        self.credentials = credentials
        self.insecure = insecure
        self.timeout = timeout
        self._scheme = "https"
        self._fallback_pending = insecure
        self._tokens: dict[str, str] = {}
        self._basic = False
        verify: ssl.SSLContext | bool = False if insecure else ssl_context(ca)
        self._http = httpx.Client(verify=verify, transport=transport, follow_redirects=True,
                                  timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)))

    # -- transport ---------------------------------------------------------------------------------------
    def close(self) -> None:
        self._http.close()

    def _url(self, path: str) -> str:
        return f"{self._scheme}://{self.host}{path}"

    def _send(self, method: str, path: str, subject: str, headers: dict[str, str]) -> httpx.Response:
        try:
            return self._http.request(method, self._url(path), headers=headers)
        except httpx.TimeoutException:
            raise RegistryUnreachable(self.registry, subject, f"no answer within {self.timeout:g}s") from None
        except httpx.ConnectError as exc:
            if self._fallback_pending and self._scheme == "https":
                self._scheme, self._fallback_pending = "http", False
                return self._send(method, path, subject, headers)
            hint = "" if self.insecure else " (a plain-HTTP registry needs allowInsecureRegistry)"
            raise RegistryUnreachable(self.registry, subject, f"unreachable: {exc or type(exc).__name__}{hint}") \
                from None
        except httpx.HTTPError as exc:
            raise RegistryUnreachable(self.registry, subject, f"{type(exc).__name__}: {exc}") from None

    def _auth_header(self, scope: str) -> dict[str, str]:
        token = self._tokens.get(scope) or self.credentials.token
        if token:
            return {"Authorization": f"Bearer {token}"}
        if self._basic:
            return {"Authorization": self.credentials.basic_header()}
        return {}

    def request(self, method: str, path: str, subject: str, repo: str,
                headers: dict[str, str] | None = None) -> httpx.Response:
        """One authenticated request; a 401 is answered by its challenge once, then retried."""
        scope = f"repository:{repo}:pull"
        headers = dict(headers or {})
        resp = self._send(method, path, subject, {**headers, **self._auth_header(scope)})
        if resp.status_code == 401:
            self._answer_challenge(resp, scope, subject)
            resp = self._send(method, path, subject, {**headers, **self._auth_header(scope)})
        if resp.status_code in (401, 403):
            who = "anonymous access" if self.credentials.anonymous else f"user {self.credentials.username!r}"
            raise AuthError(self.registry, subject, f"{resp.status_code} {_reason(resp)} for {who}")
        return resp

    def _answer_challenge(self, resp: httpx.Response, scope: str, subject: str) -> None:
        scheme, params = parse_challenge(resp.headers.get("www-authenticate", ""))
        if scheme == "basic":
            if self.credentials.anonymous:
                raise AuthError(self.registry, subject, "401 authentication required and no credentials known")
            self._basic = True
            return
        if scheme != "bearer" or "realm" not in params:
            raise AuthError(self.registry, subject, f"401 with an unsupported challenge {scheme!r}")
        query = {"scope": params.get("scope") or scope}
        if params.get("service"):
            query["service"] = params["service"]
        auth = None if self.credentials.anonymous else (self.credentials.username, self.credentials.password)
        try:
            tr = self._http.get(params["realm"], params=query, auth=auth)
        except httpx.HTTPError as exc:
            raise RegistryUnreachable(self.registry, subject, f"token service {params['realm']}: {exc}") from None
        if tr.status_code != 200:
            raise AuthError(self.registry, subject, f"token service answered {tr.status_code}")
        body = tr.json()
        token = body.get("token") or body.get("access_token")
        if not token:
            raise AuthError(self.registry, subject, "token service answered without a token")
        self._tokens[scope] = token

    # -- the distribution API ----------------------------------------------------------------------------
    def resolve(self, repo: str, reference: str) -> Descriptor:
        """Tag (or digest) -> descriptor by one HEAD request (a GET when the registry omits the digest)."""
        subject = f"{self.registry}/{repo}:{reference}" if ":" not in reference else f"{self.registry}/{repo}@{reference}"
        resp = self.request("HEAD", f"/v2/{repo}/manifests/{reference}", subject, repo, {"Accept": ACCEPT})
        _check(resp, self.registry, subject, "manifest")
        digest = resp.headers.get("docker-content-digest")
        if not digest:
            m = self.manifest(repo, reference)
            return Descriptor(m.digest, m.media_type, len(m.raw))
        return Descriptor(digest, _media_type(resp), int(resp.headers.get("content-length") or 0))

    def manifest(self, repo: str, reference: str) -> Manifest:
        """GET a manifest; when ``reference`` is a digest the bytes are checked against it."""
        by_digest = reference.startswith("sha256:")
        subject = f"{self.registry}/{repo}{'@' if by_digest else ':'}{reference}"
        resp = self.request("GET", f"/v2/{repo}/manifests/{reference}", subject, repo, {"Accept": ACCEPT})
        _check(resp, self.registry, subject, "manifest")
        raw = resp.content
        digest = sha256_digest(raw)
        if by_digest and digest != reference:
            raise RegistryError(self.registry, subject, f"manifest content has digest {digest}")
        return Manifest(digest, _media_type(resp), raw)

    def blob(self, repo: str, digest: str) -> bytes:
        subject = f"{self.registry}/{repo}@{digest}"
        resp = self.request("GET", f"/v2/{repo}/blobs/{digest}", subject, repo)
        _check(resp, self.registry, subject, "blob")
        if digest.startswith("sha256:") and sha256_digest(resp.content) != digest:
            raise RegistryError(self.registry, subject, "blob content does not match its digest")
        return resp.content

    def referrers(self, repo: str, digest: str, artifact_type: str | None = None) -> list[dict[str, Any]]:
        """Descriptors of the artifacts whose ``subject`` is ``digest``: the OCI 1.1 referrers API, or
        the tag-schema fallback (tag ``sha256-<hex>`` holding an index) when the registry lacks it."""
        subject = f"{self.registry}/{repo}@{digest}"
        path = f"/v2/{repo}/referrers/{digest}"
        if artifact_type:
            path += f"?artifactType={artifact_type}"
        resp = self.request("GET", path, subject, repo, {"Accept": OCI_INDEX})
        if resp.status_code == 200 and _media_type(resp) == OCI_INDEX:
            entries = resp.json().get("manifests") or []
        elif resp.status_code in (404, 405, 400) or resp.status_code == 200:
            try:
                entries = self.manifest(repo, digest.replace(":", "-", 1)).json.get("manifests") or []
            except NotFound:
                entries = []
        else:
            _check(resp, self.registry, subject, "referrers")
            entries = []
        if artifact_type:
            entries = [e for e in entries if e.get("artifactType") == artifact_type]
        return entries


def _media_type(resp: httpx.Response) -> str:
    return resp.headers.get("content-type", "").split(";")[0].strip()


def _reason(resp: httpx.Response) -> str:
    try:
        errors = resp.json().get("errors") or []
        if errors:
            return "; ".join(f"{e.get('code', '')}: {e.get('message', '')}" for e in errors)
    except (ValueError, AttributeError):
        pass
    return resp.reason_phrase


def _check(resp: httpx.Response, registry: str, subject: str, what: str) -> None:
    if resp.status_code == 404:
        raise NotFound(registry, subject, f"{what} not found")
    if resp.status_code >= 400:
        raise RegistryError(registry, subject, f"{what}: {resp.status_code} {_reason(resp)}")
