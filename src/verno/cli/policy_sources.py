"""Policy sets named on the command line: files and directories, or ``git:REV:PATH`` read from the current
repository's history (``git ls-tree`` / ``git show``, run as bounded subprocesses).

A ``git:`` source reads the files under PATH at REV that a directory walk would read (``.yaml``, ``.yml``,
``.json``, in sorted order); its documents are named ``git:REV:FILE`` in errors. An unknown revision, a
path not in that revision, a repository that is not one, or a missing ``git`` is an error naming it.
"""
from __future__ import annotations

import subprocess
from collections.abc import Iterable, Iterator

from verno.core.errors import LoadError
from verno.core.loading import YAML_EXTENSIONS, Document, iter_path_documents
from verno.core.yamlio import iter_documents

GIT_PREFIX = "git:"
#: seconds one git command may take
GIT_TIMEOUT = 30.0
#: bytes of policy text one ``git:`` source may hold (and files it may list)
GIT_MAX_BYTES = 64 * 1024 * 1024
GIT_MAX_FILES = 10_000


def is_git_source(spec: str) -> bool:
    return spec.startswith(GIT_PREFIX)


def iter_source_documents(specs: Iterable[str]) -> Iterator[Document]:
    """The documents of each source in turn: paths as ``verno apply`` reads them, ``git:`` sources from git."""
    paths: list[str] = []
    for spec in specs:
        if is_git_source(spec):
            yield from iter_path_documents(paths)
            paths = []
            yield from _git_documents(spec)
        else:
            paths.append(spec)
    yield from iter_path_documents(paths)


def _parse(spec: str) -> tuple[str, str]:
    body = spec[len(GIT_PREFIX):]
    rev, sep, path = body.partition(":")
    if not sep or not rev:
        raise LoadError(spec, "expected git:REV:PATH (a revision such as HEAD or main, then a path in it; "
                              "use git:REV:. for the whole tree)")
    path = path.strip("/") or "."
    return rev, path


def _git(spec: str, *args: str) -> bytes:
    try:
        proc = subprocess.run(["git", *args], capture_output=True, timeout=GIT_TIMEOUT, check=False)
    except FileNotFoundError:
        raise LoadError(spec, "git is not installed (needed to read a git: policy source)") from None
    except subprocess.TimeoutExpired:
        raise LoadError(spec, f"git {args[0]} took longer than {GIT_TIMEOUT:.0f}s") from None
    if proc.returncode != 0:
        raise _GitFailed(proc.stderr.decode("utf-8", "replace").strip())
    return proc.stdout


class _GitFailed(Exception):
    pass


def _git_documents(spec: str) -> Iterator[Document]:
    rev, path = _parse(spec)
    try:
        _git(spec, "rev-parse", "--is-inside-work-tree")
    except _GitFailed:
        raise LoadError(spec, "not inside a git repository (run verno from the repository whose history "
                              "holds the policies)") from None
    try:
        commit = _git(spec, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}").decode().strip()
    except _GitFailed:
        raise LoadError(spec, f"unknown revision {rev!r} in this repository") from None
    # paths relative to the current directory, as a file path would be (git show's ./ form)
    target = f"./{path}" if path != "." else "."
    try:
        kind = _git(spec, "cat-file", "-t", f"{commit}:{target}").decode().strip()
    except _GitFailed:
        raise LoadError(spec, f"path {path!r} does not exist in revision {rev!r}") from None
    if kind == "blob":
        files = [path]
    elif kind == "tree":
        # names relative to the current directory, as ``git show REV:./NAME`` reads them
        listing = _git(spec, "ls-tree", "-r", "-z", "--name-only", commit, "--", target)
        files = sorted(name for name in listing.decode("utf-8", "replace").split("\0")
                       if name.endswith(YAML_EXTENSIONS))
        if len(files) > GIT_MAX_FILES:
            raise LoadError(spec, f"more than {GIT_MAX_FILES} policy files")
    else:
        raise LoadError(spec, f"path {path!r} in revision {rev!r} is a {kind}, not a file or directory")
    total = 0
    for name in files:
        source = f"{GIT_PREFIX}{rev}:{name}"
        where = f"{commit}:{name}" if name.startswith("../") else f"{commit}:./{name}"
        size = int(_git(source, "cat-file", "-s", where).decode().strip() or 0)
        total += size
        if total > GIT_MAX_BYTES:
            raise LoadError(spec, f"policy files larger than {GIT_MAX_BYTES // (1024 * 1024)} MiB in all")
        data = _git(source, "cat-file", "blob", where)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise LoadError(source, f"not UTF-8 text: {exc.reason} at byte {exc.start}") from None
        for index, value in iter_documents(text, source):
            yield Document(source, index, value)
