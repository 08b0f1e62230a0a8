"""Benchmark: key-based cosign verification of one Pod image against a real registry on loopback.

Starts Debian's ``docker-registry`` on 127.0.0.1, pushes an image signed in cosign's format, then
measures (median of N, warm pooled client):

* the bare registry round trip (one HEAD of the manifest);
* an uncached verification (``useCache: false``) of an image given by digest, by tag, and the number
  of registry requests each makes;
* a cached verification (``useCache: true``, the same image by digest);

and prints them as ratios to the bare round trip.

usage: python bench/verifyimages.py [--n 200]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "verifyimages"))
from vi_cosign import Pusher, push_signatures, signature  # noqa: E402
from vi_pki import new_key, public_pem  # noqa: E402
from vi_regserver import start_registry  # noqa: E402

from verno.core.egress import EgressPolicy  # noqa: E402
from verno.core.engine import Engine  # noqa: E402
from verno.core.models.policy import Policy  # noqa: E402
from verno.core.request import Request  # noqa: E402
from verno.core.sources import Sources  # noqa: E402
from verno.registry import Registries  # noqa: E402


def median_ms(fn, n: int) -> float:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def policy(pem: str, use_cache: bool) -> Policy:
    return Policy.model_validate({
        "apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": f"bench-{use_cache}"},
        "spec": {"rules": [{"name": "verify", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                            "verifyImages": [{"useCache": use_cache, "attestors": [{"entries": [{"keys": {
                                "publicKeys": pem, "rekor": {"ignoreTlog": True}}}]}]}]}]}})


def pod(image: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": image}]}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    n = ap.parse_args().n
    with tempfile.TemporaryDirectory() as tmp:
        reg = start_registry(Path(tmp))
        try:
            run(reg, n)
        finally:
            reg.stop()


def run(reg, n: int) -> None:
    pusher = Pusher(reg.base_url)
    digest = pusher.image("bench/app", "v1")
    key = new_key()
    push_signatures(pusher, "bench/app", digest, [signature(key, f"{reg.host}/bench/app", digest)])
    registries = Registries(credentials={}, allow_insecure=True, egress=EgressPolicy.parse(["127.0.0.1"]))
    client = registries.client(reg.host)
    requests: list[str] = []
    client._http.event_hooks["request"].append(lambda r: requests.append(f"{r.method} {r.url.path}"))
    sources = Sources(registry_access=True, registry_client=registries)
    engine = Engine()
    uncached, cached = engine.prepare(policy(public_pem(key), False)), engine.prepare(policy(public_pem(key), True))
    by_digest, by_tag = Request(pod(f"{reg.host}/bench/app@{digest}")), Request(pod(f"{reg.host}/bench/app:v1"))

    def verify(prepared, request):
        status = engine.evaluate([prepared], request, sources=sources)[0].rules[0].status.value
        assert status == "pass", status

    client.resolve("bench/app", "v1")  # warm the connection
    bare = median_ms(lambda: client.resolve("bench/app", "v1"), n)
    counts = {}
    for name, req in (("digest", by_digest), ("tag", by_tag)):
        requests.clear()
        verify(uncached, req)
        counts[name] = len(requests)
    un_digest = median_ms(lambda: verify(uncached, by_digest), n)
    un_tag = median_ms(lambda: verify(uncached, by_tag), n)
    verify(cached, by_digest)
    requests.clear()
    hit = median_ms(lambda: verify(cached, by_digest), n)
    hit_requests = len(requests)
    registries.close()
    print(f"verifyImages, key-based, one image, {n} runs each (median), registry on loopback")
    print(f"  bare registry round trip (HEAD manifest): {bare:8.3f} ms   1.00x")
    print(f"  uncached, image by digest:               {un_digest:8.3f} ms  {un_digest / bare:5.2f}x  "
          f"({counts['digest']} registry requests)")
    print(f"  uncached, image by tag:                  {un_tag:8.3f} ms  {un_tag / bare:5.2f}x  "
          f"({counts['tag']} registry requests)")
    print(f"  cached, image by digest:                 {hit:8.3f} ms  {hit / bare:5.2f}x  "
          f"({hit_requests} registry requests over {n} runs)")


if __name__ == "__main__":
    main()
