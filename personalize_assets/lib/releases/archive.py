"""Opening a release archive safely: member paths and decompressed sizes are checked first."""

from __future__ import annotations

import posixpath
import zipfile
from dataclasses import dataclass
from typing import BinaryIO

from .errors import ReleaseError

GIB = 1024**3


@dataclass(frozen=True)
class ArchiveLimits:
    """Refuse archives that would expand beyond these (zip bombs, runaway inputs).

    ml-32m expands to about 0.9 GiB at a ratio near 4; real text rarely beats 20.
    """

    max_total_bytes: int = 16 * GIB
    max_ratio: float = 200.0


def _unsafe_reason(name: str) -> str | None:
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "an absolute path"
    parts = name.replace("\\", "/").split("/")
    if ".." in parts:
        return "a '..' component"
    return None


def open_archive(fileobj: BinaryIO, label: str, limits: ArchiveLimits = ArchiveLimits()) -> zipfile.ZipFile:
    """A ZipFile over `fileobj` after checking every member; `label` names it in errors."""
    try:
        archive = zipfile.ZipFile(fileobj)
    except zipfile.BadZipFile as error:
        raise ReleaseError(
            f"{label} is not a readable zip archive ({error}); it is truncated or corrupt. "
            "Download it again (rerun) or check the file behind MOVIELENS_BASE_URL."
        ) from error
    total = 0
    for info in archive.infolist():
        reason = _unsafe_reason(info.filename)
        if reason:
            raise ReleaseError(
                f"{label} is rejected: member {info.filename!r} has {reason}, which could write outside "
                "its folder. Use an archive whose members have relative paths."
            )
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 1024 * 1024 and ratio > limits.max_ratio:
            raise ReleaseError(
                f"{label} is rejected: member {info.filename!r} expands {ratio:,.0f}-fold "
                f"({info.compress_size:,} -> {info.file_size:,} bytes), above the limit of "
                f"{limits.max_ratio:,.0f}; this looks like a zip bomb."
            )
    if total > limits.max_total_bytes:
        raise ReleaseError(
            f"{label} is rejected: its members expand to {total:,} bytes, above the limit of "
            f"{limits.max_total_bytes:,} bytes."
        )
    return archive


def find_member(archive: zipfile.ZipFile, filename: str, label: str) -> zipfile.ZipInfo:
    """The one member called `filename` (in any folder of the archive)."""
    found = [
        info for info in archive.infolist()
        if not info.is_dir() and posixpath.basename(info.filename) == filename
    ]
    if not found:
        names = ", ".join(sorted(i.filename for i in archive.infolist() if not i.is_dir())[:12])
        raise ReleaseError(
            f"{label} has no {filename}; it holds: {names or 'nothing'}. "
            "Check MOVIELENS_VARIANT names a MovieLens release, or fix the archive."
        )
    if len(found) > 1:
        raise ReleaseError(f"{label} has {len(found)} files called {filename}: {[i.filename for i in found]}.")
    return found[0]


def member_names(archive: zipfile.ZipFile) -> set[str]:
    return {posixpath.basename(i.filename) for i in archive.infolist() if not i.is_dir()}
