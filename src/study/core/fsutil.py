"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


def by_file_state(cache: dict, path: Path, compute):
    """``compute(path)``, kept in ``cache`` under the file's path, size and change time: within one process a file
    read again unchanged is not read again, and a changed one is."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in cache:
        cache[key] = compute(path)
    return cache[key]


def write_bytes_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path, obj) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def csv_text(frame) -> str:
    """A DataFrame as CSV text without its index, for ``write_text_atomic``."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue()


def write_rows_atomic(path: Path, rows: list[dict], columns) -> "pd.DataFrame":
    """Rows (dicts) as a table with exactly ``columns`` (missing keys blank), written atomically as CSV."""
    import pandas as pd

    frame = pd.DataFrame([{c: row.get(c) for c in columns} for row in rows], columns=list(columns))
    write_text_atomic(path, csv_text(frame))
    return frame


def display_path(path: Path) -> str:
    """A path as a user should read it in a message: relative to the study's root when inside it."""
    from study.core import paths

    try:
        return str(Path(path).resolve().relative_to(paths.root()))
    except ValueError:
        return str(path)


def npy_bytes(array) -> bytes:
    """An array as .npy bytes, or a tuple of arrays (several inputs or outputs) as .npz bytes; no pickle."""
    import numpy as np

    buffer = io.BytesIO()
    if isinstance(array, tuple):
        np.savez(buffer, *array)
    else:
        np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def load_arrays(path: Path):
    """What ``npy_bytes`` wrote: an array, or a tuple of arrays in their order (never unpickled)."""
    import numpy as np

    loaded = np.load(path, allow_pickle=False)
    if isinstance(loaded, np.ndarray):
        return loaded
    with loaded:
        return tuple(loaded[f"arr_{i}"] for i in range(len(loaded.files)))
