"""Start the API-server stand-in: `python tests/apiserver/run.py --port PORT --kubeconfig FILE`.

Writes a kubeconfig for kubectl and verno, prints `ready` once serving, and serves until killed.
`--service-map ns/name=https://127.0.0.1:PORT` routes webhook `service` references to a local address;
`--load FILE` creates the objects of a YAML file (CRDs, namespaces, ...) before serving."""
from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if sys.path and Path(sys.path[0] or ".").resolve() == HERE:
    sys.path.pop(0)  # this folder's module names must not shadow anything
sys.path.insert(0, str(HERE.parent))

import yaml  # noqa: E402

from apiserver.server import APIServer  # noqa: E402
from apiserver.status import APIError  # noqa: E402


def service_map(entries: list[str]) -> dict[str, str]:
    out = {}
    for entry in entries:
        ref, sep, url = entry.partition("=")
        if not sep or ref.count("/") != 1 or not url.startswith("https://"):
            raise SystemExit(f"--service-map {entry!r}: expected namespace/name=https://host:port")
        out[ref] = url
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--kubeconfig", required=True, type=Path)
    parser.add_argument("--service-map", action="append", default=[], metavar="NS/NAME=URL")
    parser.add_argument("--load", action="append", default=[], type=Path, metavar="FILE")
    parser.add_argument("--history", type=int, default=5000, help="watch events kept (older: 410 Expired)")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    server = APIServer(args.host, args.port, service_map(args.service_map), history=args.history,
                       verbose=args.verbose)
    for path in args.load:
        try:
            docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        except (OSError, yaml.YAMLError) as exc:
            raise SystemExit(f"--load {path}: {exc}") from None
        for n, doc in enumerate(docs, 1):
            try:
                server.create(doc)
            except APIError as exc:
                raise SystemExit(f"--load {path}: document {n}: {exc.status['message']}") from None
    server.write_kubeconfig(args.kubeconfig)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("ready", flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.store.close_watches()
        server.httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
