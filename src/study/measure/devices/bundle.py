"""The lean worker a device runs: the study's own Python code in one zip (``python study-worker-HASH.pyz``), whose
``__main__`` is ``study.measure.worker.device_main``. It imports only what the case needs: numpy, the runtime under
test and the engine's standard-library trackers, never the converters, pandas or pydantic (the device has none).

The zip is deterministic (sorted names, fixed dates), so its name carries the hash of its content: the device keeps
one per version of the code, pushed once.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

from study.core import paths

MAIN = "import sys\nfrom study.measure.worker import device_main\nsys.exit(device_main())\n"
EPOCH = (1980, 1, 1, 0, 0, 0)


def package_dir() -> Path:
    return Path(__file__).resolve().parents[2]


def bundle_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        entries = [(path.relative_to(package_dir().parent).as_posix(), path.read_bytes())
                   for path in sorted(package_dir().rglob("*.py")) if "__pycache__" not in path.parts]
        for name, data in [("__main__.py", MAIN.encode()), *entries]:
            info = zipfile.ZipInfo(name, EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def worker_bundle() -> Path:
    """The bundle of the code on disk now, written once per content into the user's cache."""
    from study.core.fsutil import write_bytes_atomic

    data = bundle_bytes()
    path = paths.machine_cache_dir() / "device-worker" / f"study-worker-{hashlib.sha256(data).hexdigest()[:16]}.pyz"
    if not path.is_file():
        write_bytes_atomic(path, data)
    return path
