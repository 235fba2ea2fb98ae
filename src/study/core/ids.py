"""Identities: the one hash that names a case, a build or a record by everything that determines it, and the
digest of the code that measures it (so changing that code re-measures, and moving it does not)."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
from pathlib import Path

# Part of every case id: bump it when what a measurement means changes, so old records are re-measured.
HARNESS_VERSION = 6


def content_id(inputs: dict, length: int = 16, compact: bool = False) -> str:
    """The id of whatever ``inputs`` (JSON-serialisable; tuples as lists) fully determine: the same inputs, the same
    id. ``compact``: JSON without spaces, as a profile's content hash has always been written (results imported
    from a device are checked against it, so its spelling stays)."""
    separators = (",", ":") if compact else None
    text = json.dumps(inputs, sort_keys=True, separators=separators, default=list)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


_SOURCES: dict[tuple, str] = {}  # per process, by file and its change time: a run digests the same modules often


def _source_without_imports(path: Path) -> str:
    """A module's code with its import statements dropped: where it imports from is not what it computes."""
    from study.core.fsutil import by_file_state

    return by_file_state(_SOURCES, path, _parse_without_imports)


def _parse_without_imports(path: Path) -> str:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list):
            node.body = [n for n in body if not isinstance(n, (ast.Import, ast.ImportFrom))] or [ast.Pass()]
    return ast.dump(tree)


def module_path(module: str) -> Path:
    """The file of a module of this package, found without importing it (and so without its frameworks)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin:
        raise ModuleNotFoundError(module)
    return Path(spec.origin)


def code_digest(*modules: str) -> str:
    """A digest of the named modules' code (``study.build.quant.nets``, ...), blind to their imports and layout."""
    digest = hashlib.sha256()
    for module in modules:
        digest.update(module.encode())
        digest.update(_source_without_imports(module_path(module)).encode())
    return digest.hexdigest()[:16]
