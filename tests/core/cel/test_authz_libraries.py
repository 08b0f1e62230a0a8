"""kyverno-authz's CEL libraries (envoy, http, jwt) in the Envoy and HTTP environments."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verno.core.cel import Activation, CELError, environment_for
from verno.core.cel.libs.authz_jwt import decode


def run(kind: str, expression: str, obj=None):
    return Activation({"object": obj or {}}).evaluate(environment_for(kind).compile(expression))


def envoy(expression: str):
    return run("EnvoyValidatingPolicy", expression)


def token(claims: dict, key: str = "secret", alg: str = "HS256") -> str:
    def seg(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    head = seg(json.dumps({"alg": alg, "typ": "JWT"}).encode()) + "." + seg(json.dumps(claims).encode())
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}.get(alg, hashlib.sha256)
    return head + "." + seg(hmac.new(key.encode(), head.encode(), digest).digest())


def test_envoy_allowed_and_denied_responses():
    assert envoy("envoy.Allowed().Response()") == {"status": {"code": 0}, "ok_response": {}}
    assert envoy('envoy.Denied(403).WithBody("Unauthorized Request").Response()') == {
        "status": {"code": 7}, "denied_response": {"status": {"code": 403}, "body": "Unauthorized Request"}}


def test_envoy_headers_query_parameters_message_and_metadata():
    ok = envoy('envoy.Allowed().WithHeader("x-a", "1").WithHeader(envoy.Header("x-b", "").KeepEmptyValue())'
               '.WithoutHeader("cookie").WithResponseHeader("x-c", "3").WithQueryParam("q", "v")'
               '.WithoutQueryParam("debug").Response().WithMessage("ok").WithMetadata({"user": "alice"})')
    assert ok == {"status": {"code": 0, "message": "ok"}, "dynamic_metadata": {"user": "alice"}, "ok_response": {
        "headers": [{"header": {"key": "x-a", "value": "1"}},
                    {"header": {"key": "x-b", "value": ""}, "keep_empty_value": True}],
        "headers_to_remove": ["cookie"],
        "response_headers_to_add": [{"header": {"key": "x-c", "value": "3"}}],
        "query_parameters_to_set": [{"key": "q", "value": "v"}],
        "query_parameters_to_remove": ["debug"]}}
    denied = envoy('envoy.Denied(401).WithHeader("www-authenticate", "Bearer").Response()')
    assert denied["denied_response"]["headers"] == [{"header": {"key": "www-authenticate", "value": "Bearer"}}]


def test_envoy_response_or_null_type_checks():
    assert envoy("false ? envoy.Allowed().Response() : null") is None


@pytest.mark.parametrize("expression, message", [
    ('envoy.Allowed().WithBody("x")', "no such overload: WithBody applied to envoy.OkHttpResponse"),
    ('{"a": 1}.Response()', "no such overload: Response applied to map"),
    ('envoy.Allowed().WithMessage("x")', "call .Response() first"),
    ("envoy.Denied(-1)", "out of range"),
])
def test_envoy_misuse_is_an_error(expression, message):
    with pytest.raises(CELError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        envoy(expression)


def test_http_allowed_and_denied_responses():
    kind = "HTTPValidatingPolicy"
    assert run(kind, 'http.Allowed().WithHeader("x", "1").WithHeader("x", "2").Response()') == {
        "ok": {"headers": {"x": ["1", "2"]}}}
    assert run(kind, 'http.Denied("not allowed").Response()') == {"denied": {"reason": "not allowed", "headers": {}}}
    assert run(kind, 'object.attributes.host == "a" ? http.Denied("no").Response() : null',
               {"attributes": {"host": "b"}}) is None


@pytest.mark.parametrize("kind, expression", [
    ("ValidatingPolicy", "envoy.Allowed()"),           # the authz libraries exist only in their modes
    ("ValidatingPolicy", 'http.Allowed()'),
    ("ValidatingPolicy", 'jwt.Decode("a", "b")'),
    ("EnvoyValidatingPolicy", "http.Allowed()"),        # each mode has its own response library
    ("HTTPValidatingPolicy", "envoy.Allowed()"),
    ("HTTPValidatingPolicy", 'http.Get("https://example.com")'),  # Kyverno's http.Get is Kubernetes-mode
    ("EnvoyValidatingPolicy", "request.operation"),     # only object is declared
])
def test_libraries_belong_to_their_environments(kind, expression):
    with pytest.raises(CELError, match="undeclared reference"):
        environment_for(kind).compile(expression)


def test_jwt_decode_verifies_hs256_with_the_key():
    good = token({"role": "admin", "exp": 4102444800, "nbf": 1514851139})
    result = envoy(f'jwt.Decode("{good}", "secret")')
    assert result["Valid"] is True
    assert result["Claims"] == {"role": "admin", "exp": 4102444800.0, "nbf": 1514851139.0}
    assert result["Header"]["alg"] == "HS256"
    assert envoy(f'jwt.Decode("{good}", "other").Valid') is False
    assert envoy(f'jwt.Decode("{good}", "other").Claims.role') == "admin"  # claims read even when invalid


@pytest.mark.parametrize("alg", ["HS384", "HS512"])
def test_jwt_decode_other_hmac_algorithms(alg):
    assert decode(token({"a": 1}, alg=alg), "secret")["Valid"] is True


@pytest.mark.parametrize("claims, alg, valid", [
    ({"exp": 1000}, "HS256", False),              # expired
    ({"nbf": 4102444800}, "HS256", False),        # not valid yet
    ({"exp": "soon"}, "HS256", False),            # malformed time claim
    ({"sub": "x"}, "none", False),                # an unsigned or non-HMAC token is never valid with a secret
    ({"sub": "x"}, "RS256", False),
])
def test_jwt_decode_invalid_tokens(claims, alg, valid):
    assert decode(token(claims, alg=alg), "secret", now=lambda: 2000.0)["Valid"] is valid


@pytest.mark.parametrize("text, message", [
    ("abc", "three dot-separated segments"),
    ("!!!.e30.sig", "header is not base64url"),
    ("bm90anNvbg.e30.", "header is not JSON"),
    ("W10.e30.", "header is not a JSON object"),
])
def test_jwt_decode_malformed_token_is_an_error(text, message):
    with pytest.raises(CELError, match=message):
        envoy(f'jwt.Decode("{text}", "secret")')


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.text(max_size=8), st.one_of(st.text(max_size=8), st.booleans()), max_size=4),
       st.text(min_size=1, max_size=16))
def test_jwt_decode_round_trip(claims, key):
    signed = token(claims, key)
    assert decode(signed, key) == {"Valid": True, "Claims": claims, "Header": {"alg": "HS256", "typ": "JWT"}}
    assert decode(signed, key + "x")["Valid"] is False
