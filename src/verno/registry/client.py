"""An OCI distribution client over httpx: one pooled client per registry, behind the egress fence.

Every call has a timeout and a deadline, and every body a size limit. Connections go only where the
:class:`~verno.core.egress.EgressPolicy` allows (public addresses, plus what ``--allow-egress`` names);
redirects are followed by hand, to HTTPS only, each hop checked again. A registry that gives no usable
answer raises :class:`RegistryUnreachable` naming the registry and the image, with the same text whether
the port was closed, the connection reset or the answer late (the cause goes to the debug log); what a
registry answers is never quoted in an error beyond its status and a standard error code. Plain HTTP is
used only when the caller allows it (``allowInsecureRegistry`` / ``--allow-insecure-registry``): such a
client first tries HTTPS without certificate checks and falls back to HTTP once for good when the
registry does not speak TLS.
"""
from __future__ import annotations

import hashlib
import json
import logging
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from verno.core import egress_http
from verno.core.egress import STRICT, EgressDenied, EgressPolicy
from verno.core.egress_http import Reply, TooLarge, Unreachable
from verno.registry.auth import ANONYMOUS, Credentials, parse_challenge
from verno.registry.errors import AuthError, NotFound, RegistryError, RegistryRefused, RegistryUnreachable

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_TYPES = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST)
#: distribution 2.8 answers 404 unless the OCI types are listed: always send all of them
ACCEPT = ", ".join(MANIFEST_TYPES)
DEFAULT_TIMEOUT = 10.0
_HUB_API = "registry-1.docker.io"
#: body limits: manifests and indexes (containerd's limit), blobs (configs, signature and attestation
#: layers), token service answers
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_BLOB_BYTES = 32 * 1024 * 1024
MAX_TOKEN_BYTES = 1024 * 1024
#: the error codes of the distribution spec: the only text of an error answer an error message repeats
_SPEC_CODES = frozenset({
    "BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID", "MANIFEST_BLOB_UNKNOWN",
    "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "NAME_INVALID", "NAME_UNKNOWN", "SIZE_INVALID", "UNAUTHORIZED",
    "DENIED", "UNSUPPORTED", "TOOMANYREQUESTS"})
log = logging.getLogger("verno.registry")


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
    """A client for one registry host (``127.0.0.1:5000``, ``ghcr.io``, ``docker.io``).

    :param egress: where connections may go; by default public addresses only.
    :param transport: an httpx transport used instead of the fenced one (tests of the protocol only).
    """

    def __init__(self, registry: str, *, credentials: Credentials = ANONYMOUS, ca: str | Path | None = None,
                 insecure: bool = False, timeout: float = DEFAULT_TIMEOUT,
                 transport: httpx.BaseTransport | None = None, egress: EgressPolicy = STRICT):
        self.registry = registry
        self.host = _HUB_API if registry == "docker.io" else registry
        self.credentials = credentials
        self.insecure = insecure
        self.timeout = timeout
        self.egress = egress
        self._scheme = "https"
        self._fallback_pending = insecure
        self._tokens: dict[str, str] = {}
        self._basic = False
        origin = httpx.URL(f"https://{self.host}")
        unverified = frozenset({f"{origin.host}:{origin.port}" if origin.port else origin.host}) if insecure \
            else frozenset()
        self._http = egress_http.client(egress, public=True, verify=ssl_context(ca), timeout=timeout,
                                        unverified_hosts=unverified, transport=transport)

    # -- transport ---------------------------------------------------------------------------------------
    def close(self) -> None:
        self._http.close()

    def _url(self, path: str, scheme: str) -> str:
        return f"{scheme}://{self.host}{path}"

    def _fetch(self, method: str, url: str, subject: str, headers: dict[str, str], max_bytes: int,
               plain_http: bool) -> Reply:
        try:
            return egress_http.fetch(self._http, method, url, headers=headers, plain_http=plain_http,
                                     max_bytes=max_bytes, deadline=self.timeout)
        except EgressDenied as exc:
            raise RegistryRefused(self.registry, subject, str(exc)) from None
        except TooLarge as exc:
            raise RegistryError(self.registry, subject, str(exc)) from None

    def _send(self, method: str, path: str, subject: str, headers: dict[str, str],
              max_bytes: int = MAX_MANIFEST_BYTES) -> Reply:
        scheme = self._scheme  # another thread may switch it meanwhile: this request's own
        try:
            return self._fetch(method, self._url(path, scheme), subject, headers, max_bytes, scheme == "http")
        except Unreachable as exc:
            # an insecure registry that does not speak TLS: plain HTTP from now on, also when another
            # request's fallback switched already while this one was trying HTTPS
            if scheme == "https" and (self._fallback_pending or self._scheme == "http") and not exc.timeout:
                self._scheme, self._fallback_pending = "http", False
                return self._send(method, path, subject, headers, max_bytes)
            hint = "" if self.insecure else " (a plain-HTTP registry needs allowInsecureRegistry)"
            raise RegistryUnreachable(self.registry, subject, hint) from None

    def _auth_header(self, scope: str) -> dict[str, str]:
        token = self._tokens.get(scope) or self.credentials.token
        if token:
            return {"Authorization": f"Bearer {token}"}
        if self._basic:
            return {"Authorization": self.credentials.basic_header()}
        return {}

    def request(self, method: str, path: str, subject: str, repo: str,
                headers: dict[str, str] | None = None, max_bytes: int = MAX_MANIFEST_BYTES) -> Reply:
        """One authenticated request; a 401 is answered by its challenge once, then retried."""
        scope = f"repository:{repo}:pull"
        headers = dict(headers or {})
        resp = self._send(method, path, subject, {**headers, **self._auth_header(scope)}, max_bytes)
        if resp.status_code == 401:
            self._answer_challenge(resp, scope, subject)
            resp = self._send(method, path, subject, {**headers, **self._auth_header(scope)}, max_bytes)
        if resp.status_code in (401, 403):
            who = "anonymous access" if self.credentials.anonymous else f"user {self.credentials.username!r}"
            raise AuthError(self.registry, subject, f"{_reason(resp)} for {who}")
        return resp

    def _answer_challenge(self, resp: Reply, scope: str, subject: str) -> None:
        scheme, params = parse_challenge(resp.headers.get("www-authenticate", ""))
        if scheme == "basic":
            if self.credentials.anonymous:
                raise AuthError(self.registry, subject, "401 authentication required and no credentials known")
            self._basic = True
            return
        if scheme != "bearer" or "realm" not in params:
            raise AuthError(self.registry, subject, "401 with an unsupported challenge (neither Basic nor Bearer "
                                                    "with a realm)")
        query = {"scope": params.get("scope") or scope}
        if params.get("service"):
            query["service"] = params["service"]
        realm = httpx.URL(params["realm"])
        try:
            url = realm.copy_merge_params(query)
        except (httpx.InvalidURL, TypeError):
            raise AuthError(self.registry, subject, "401 with an invalid token service URL") from None
        headers = {} if self.credentials.anonymous else {"Authorization": self.credentials.basic_header()}
        try:
            tr = self._fetch("GET", str(url), subject, headers, MAX_TOKEN_BYTES, plain_http=self.insecure)
        except Unreachable:
            raise RegistryUnreachable(self.registry, subject, " (its token service)") from None
        if tr.status_code != 200:
            raise AuthError(self.registry, subject, f"token service answered {tr.status_code} {tr.reason}")
        try:
            body = tr.json()
        except ValueError:
            body = None
        token = (body.get("token") or body.get("access_token")) if isinstance(body, dict) else None
        if not token or not isinstance(token, str):
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
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise RegistryError(self.registry, subject, "the manifest is not a JSON object")
        return Manifest(digest, _media_type(resp), raw, parsed)

    def blob(self, repo: str, digest: str) -> bytes:
        subject = f"{self.registry}/{repo}@{digest}"
        resp = self.request("GET", f"/v2/{repo}/blobs/{digest}", subject, repo, max_bytes=MAX_BLOB_BYTES)
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
            try:
                index = resp.json()
            except ValueError:
                index = None
            if not isinstance(index, dict):
                raise RegistryError(self.registry, subject, "the referrers answer is not a JSON object")
            entries = index.get("manifests") or []
        elif resp.status_code in (404, 405, 400) or resp.status_code == 200:
            try:
                entries = self.manifest(repo, digest.replace(":", "-", 1)).json.get("manifests") or []
            except NotFound:
                entries = []
        else:
            _check(resp, self.registry, subject, "referrers")
            entries = []
        if not isinstance(entries, list):
            raise RegistryError(self.registry, subject, "the referrers index's manifests is not a list")
        entries = [e for e in entries if isinstance(e, dict)]
        if artifact_type:
            entries = [e for e in entries if e.get("artifactType") == artifact_type]
        return entries


def _media_type(resp: Reply) -> str:
    return resp.headers.get("content-type", "").split(";")[0].strip()


def _reason(resp: Reply) -> str:
    """The status, its standard phrase and the spec error codes of the answer; never its free text."""
    codes: list[str] = []
    try:
        errors = resp.json().get("errors") or []
        codes = [e["code"] for e in errors if isinstance(e, dict) and e.get("code") in _SPEC_CODES]
    except (ValueError, AttributeError, TypeError):
        pass
    if resp.content:
        log.debug("error answer %s from %s: %r", resp.status_code, resp.url.host, resp.content[:512])
    text = f"{resp.status_code} {resp.reason}".rstrip()
    return f"{text} ({', '.join(dict.fromkeys(codes))})" if codes else text


def _check(resp: Reply, registry: str, subject: str, what: str) -> None:
    if resp.status_code == 404:
        raise NotFound(registry, subject, f"{what} not found")
    if resp.status_code >= 400:
        raise RegistryError(registry, subject, f"{what}: {_reason(resp)}")
    if resp.status_code >= 300:
        raise RegistryError(registry, subject, f"{what}: {resp.status_code} {resp.reason} without a usable redirect")
