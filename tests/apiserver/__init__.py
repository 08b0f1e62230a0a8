"""A Kubernetes API-server stand-in for tests: `python tests/apiserver/run.py --port PORT --kubeconfig FILE`,
or `apiserver.server.APIServer` in-process. See docs/architecture.md ("tests/apiserver")."""
