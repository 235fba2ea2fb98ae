"""Lazy ``module:attribute`` references, so registries can list entries without importing frameworks."""

from __future__ import annotations

import importlib
from typing import Any


def resolve(reference: str) -> Any:
    module_name, _, attribute = reference.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute) if attribute else module
