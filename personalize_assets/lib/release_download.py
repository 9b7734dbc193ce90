"""Bringing a release archive into S3: conditional, checksummed, checked, never half-published."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from typing import Callable

from .bucket import PersonalizeBucket, archive_key
from .download import Validators, VerifyingReader, fetch_published_md5, open_release
from .io_managers import OpenedRelease, ReleaseArchive, current_release
from .releases import ArchiveLimits, read_readme, release_format
from .s3_objects import MIB


@dataclass(frozen=True)
class DownloadOutcome:
    archive: ReleaseArchive
    downloaded: bool          # False: the source said the stored copy is current
    readme: str | None
    release_format: str
    published_md5: str | None
    seconds: float = 0.0


def fetch_release_into_bucket(bucket: PersonalizeBucket, url: str, variant: str, run_id: str,
                              log: Callable[[str], None] = print,
                              limits: ArchiveLimits = ArchiveLimits()) -> DownloadOutcome:
    """Like `wget -N` into S3: skip when unchanged, else stream, verify and check the archive.

    The new archive goes to a key of its own; the pointer to it is written only after
    every check passed (by the IO manager), so a failure leaves the previous one current.
    """
    previous = current_release(bucket)
    known = None
    if previous is not None and previous.source_url == url:
        known = Validators(previous.source_etag, previous.source_last_modified)
    remote = open_release(url, known)
    if not remote.modified:
        log(f"{url} is not modified since the stored copy {previous.uri}; not downloading it again.")
        readme, fmt = _inspect(OpenedRelease(previous, bucket, limits))
        return DownloadOutcome(previous, False, readme, fmt, None)

    published_md5 = fetch_published_md5(url)
    log(f"Downloading {url} ({_size(remote.size)}) into S3"
        + (f", checking MD5 {published_md5}" if published_md5 else ", no published MD5 to check"))

    def progress(done: int, total: int | None) -> None:
        log(f"  {_size(done)} of {_size(total)} downloaded")

    reader = VerifyingReader(remote.stream, url, published_md5, remote.size, progress)
    key = archive_key(bucket.key_prefix, variant, run_id)
    try:
        with bucket.writer(key, content_type="application/zip", metadata={"source-url": url}) as out:
            shutil.copyfileobj(reader, out, 4 * MIB)
    finally:
        reader.close()
    archive = ReleaseArchive(
        variant=variant, source_url=url, bucket=out.result.bucket, key=key, size=out.result.size,
        etag=out.result.etag, md5=reader.md5, source_etag=remote.validators.etag,
        source_last_modified=remote.validators.last_modified,
    )
    try:
        readme, fmt = _inspect(OpenedRelease(archive, bucket, limits))
    except Exception:
        bucket.delete(key)  # a rejected archive is never kept
        raise
    log(f"Stored {archive.uri}: {_size(archive.size)} in {reader.seconds:.1f}s, MD5 {archive.md5}")
    return DownloadOutcome(archive, True, readme, fmt, published_md5, reader.seconds)


def synthetic_source_url(ratings: int, seed: int) -> str:
    """Identifies one synthetic release: the same parameters give the same bytes."""
    return f"synthetic:ratings={ratings}&seed={seed}"


def generate_release_into_bucket(bucket: PersonalizeBucket, ratings: int, seed: int, run_id: str,
                                 log: Callable[[str], None] = print,
                                 limits: ArchiveLimits = ArchiveLimits()) -> DownloadOutcome:
    """A deterministic synthetic release (see lib/synthetic.py) written straight into S3.

    Generated again only when its parameters changed: the same ones give the same bytes.
    """
    from .synthetic import write_synthetic_release

    source = synthetic_source_url(ratings, seed)
    previous = current_release(bucket)
    if previous is not None and previous.source_url == source:
        log(f"The synthetic release {source} is already stored at {previous.uri}; not generating it again.")
        readme, fmt = _inspect(OpenedRelease(previous, bucket, limits))
        return DownloadOutcome(previous, False, readme, fmt, None)
    key = archive_key(bucket.key_prefix, "synthetic", run_id)
    log(f"Generating a synthetic release with {ratings:,} ratings (seed {seed}) into S3")
    md5 = _HashingSink()
    with bucket.writer(key, content_type="application/zip", metadata={"source-url": source}) as out:
        md5.target = out
        write_synthetic_release(md5, ratings=ratings, seed=seed, variant="synthetic")
    archive = ReleaseArchive(variant="synthetic", source_url=source, bucket=out.result.bucket, key=key,
                             size=out.result.size, etag=out.result.etag, md5=md5.hexdigest())
    readme, fmt = _inspect(OpenedRelease(archive, bucket, limits))
    return DownloadOutcome(archive, True, readme, fmt, None)


class _HashingSink:
    """A write-only stream that hashes what passes through to `target`."""

    def __init__(self):
        self.target = None
        self._md5 = hashlib.md5()  # noqa: S324 - an identity, not security

    def write(self, data) -> int:
        self._md5.update(data)
        return self.target.write(data)

    def flush(self) -> None:
        pass

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def hexdigest(self) -> str:
        return self._md5.hexdigest()


def _inspect(release: OpenedRelease) -> tuple[str | None, str]:
    """Open the stored archive: member paths, sizes and layout must pass before it counts."""
    with release.open_zip() as archive:
        fmt = release_format(archive, release.archive.label).name
        return read_readme(archive), fmt


def _size(count: int | None) -> str:
    return "unknown size" if count is None else f"{count / MIB:,.1f} MiB"
