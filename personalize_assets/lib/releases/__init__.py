"""MovieLens releases: one reader per published format, all yielding the same two tables.

Add a format by writing a class with `name`, `matches(member_names)`, `read_ratings` and
`read_movies` and listing it in FORMATS; nothing downstream changes.
"""

from __future__ import annotations

import posixpath
import zipfile

import pyarrow as pa

from .archive import ArchiveLimits, find_member, member_names, open_archive
from .csv_family import CsvRelease
from .legacy import Ml100kRelease, Ml10mRelease, Ml1mRelease
from .errors import ReleaseError
from .tables import MOVIES_SCHEMA, RATINGS_SCHEMA, narrow_table

# CSV first: an archive with ratings.csv is read as CSV even if it also holds legacy files.
FORMATS = [CsvRelease(), Ml100kRelease(), Ml1mRelease(), Ml10mRelease()]


def release_format(archive: zipfile.ZipFile, label: str):
    names = member_names(archive)
    for candidate in FORMATS:
        if candidate.matches(names):
            return candidate
    shown = ", ".join(sorted(names)[:12]) or "nothing"
    raise ReleaseError(
        f"{label} holds no MovieLens tables (it has: {shown}); expected ratings.csv and movies.csv "
        "or a legacy layout. Check MOVIELENS_VARIANT."
    )


def read_ratings(archive: zipfile.ZipFile, label: str) -> pa.Table:
    """Every rating, with the timestamp in 32 bits whenever the values allow (any format)."""
    return narrow_table(release_format(archive, label).read_ratings(archive, label))


def read_movies(archive: zipfile.ZipFile, label: str) -> pa.Table:
    return release_format(archive, label).read_movies(archive, label)


def read_readme(archive: zipfile.ZipFile) -> str | None:
    """The release's README (README.txt, or README for the oldest releases), if it has one."""
    for info in archive.infolist():
        if posixpath.basename(info.filename).lower() in ("readme.txt", "readme", "readme.md"):
            return archive.read(info).decode("utf-8", errors="replace")
    return None


__all__ = [
    "ArchiveLimits", "FORMATS", "MOVIES_SCHEMA", "RATINGS_SCHEMA", "ReleaseError",
    "find_member", "open_archive", "read_movies", "read_ratings", "read_readme", "release_format",
]
