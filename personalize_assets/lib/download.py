"""Fetching a release archive like `wget -N`: conditional, checksummed, streamed.

http(s) sources are asked with If-None-Match / If-Modified-Since; file:// sources use the
file's size and mtime as their validators. The published `<zip>.md5` is used when the
server has one. Nothing here touches S3: the caller decides where the bytes go.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.utils import formatdate
from typing import BinaryIO, Callable

ALLOWED_SCHEMES = ("http", "https", "file")
DEFAULT_BASE_URL = "https://files.grouplens.org/datasets/movielens/"
USER_AGENT = "personalize-assets (+dagster)"


class SourceError(Exception):
    """The release could not be fetched; `transient` says whether trying again may help."""

    def __init__(self, message: str, transient: bool = False):
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class Validators:
    """What identifies one version of a remote file (HTTP ETag / Last-Modified)."""

    etag: str | None = None
    last_modified: str | None = None

    def same_version_as(self, other: "Validators | None") -> bool:
        if other is None:
            return False
        if self.etag and other.etag:
            return self.etag == other.etag
        return bool(self.last_modified) and self.last_modified == other.last_modified


@dataclass
class RemoteRelease:
    url: str
    validators: Validators
    size: int | None
    stream: BinaryIO | None  # None when the source said "not modified"

    @property
    def modified(self) -> bool:
        return self.stream is not None


def release_url(base_url: str, variant: str) -> str:
    return f"{base_url.rstrip('/')}/{variant}.zip"


def check_scheme(url: str) -> None:
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise SourceError(
            f"Download URL {url!r} uses {scheme or 'no'} scheme; only {', '.join(ALLOWED_SCHEMES)} "
            "are allowed. Fix MOVIELENS_BASE_URL."
        )


def _where(url: str) -> str:
    return f"{url} (from MOVIELENS_BASE_URL and MOVIELENS_VARIANT)"


def _local_path(url: str) -> str:
    return urllib.request.url2pathname(urllib.parse.urlsplit(url).path)


def _file_validators(path: str) -> tuple[Validators, int]:
    stat = os.stat(path)
    return Validators(etag=f"{stat.st_size}-{stat.st_mtime_ns}", last_modified=formatdate(stat.st_mtime, usegmt=True)), stat.st_size


def _open_http(url: str, method: str = "GET", headers: dict | None = None, timeout: float = 30.0):
    request = urllib.request.Request(url, method=method, headers={"User-Agent": USER_AGENT, **(headers or {})})
    return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - scheme checked by callers


def _http_error(url: str, error: Exception) -> SourceError:
    if isinstance(error, urllib.error.HTTPError):
        transient = error.code >= 500 or error.code in (408, 429)
        hint = "check MOVIELENS_VARIANT and MOVIELENS_BASE_URL" if error.code == 404 else "try again later"
        return SourceError(f"Download of {_where(url)} failed: HTTP {error.code} {error.reason}; {hint}.", transient)
    reason = getattr(error, "reason", error)
    return SourceError(
        f"Cannot reach {_where(url)}: {reason}. Check MOVIELENS_BASE_URL and the network.", transient=True
    )


def open_release(url: str, known: Validators | None = None, timeout: float = 30.0) -> RemoteRelease:
    """Open the archive for streaming, or report "not modified" when `known` is still current."""
    check_scheme(url)
    if url.lower().startswith("file:"):
        path = _local_path(url)
        try:
            validators, size = _file_validators(path)
            if validators.same_version_as(known):
                return RemoteRelease(url, validators, size, None)
            return RemoteRelease(url, validators, size, open(path, "rb"))
        except OSError as error:
            raise SourceError(f"Cannot read {_where(url)}: {error.strerror}. Check MOVIELENS_BASE_URL.") from error
    headers = {}
    if known and known.etag:
        headers["If-None-Match"] = known.etag
    if known and known.last_modified:
        headers["If-Modified-Since"] = known.last_modified
    try:
        response = _open_http(url, headers=headers, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 304:
            return RemoteRelease(url, known or Validators(), None, None)
        raise _http_error(url, error) from error
    except (urllib.error.URLError, OSError) as error:
        raise _http_error(url, error) from error
    validators = Validators(response.headers.get("ETag"), response.headers.get("Last-Modified"))
    length = response.headers.get("Content-Length")
    if validators.same_version_as(known):  # a server that ignores conditional requests
        response.close()
        return RemoteRelease(url, validators, int(length) if length else None, None)
    return RemoteRelease(url, validators, int(length) if length else None, response)


def probe_release(url: str, timeout: float = 15.0) -> Validators:
    """HEAD the archive: its current validators, without downloading it."""
    check_scheme(url)
    if url.lower().startswith("file:"):
        try:
            return _file_validators(_local_path(url))[0]
        except OSError as error:
            raise SourceError(f"Cannot read {_where(url)}: {error.strerror}.") from error
    try:
        with _open_http(url, method="HEAD", timeout=timeout) as response:
            return Validators(response.headers.get("ETag"), response.headers.get("Last-Modified"))
    except (urllib.error.URLError, OSError) as error:
        raise _http_error(url, error) from error


_MD5_BSD = re.compile(r"MD5\s*\((?P<name>[^)]*)\)\s*=\s*(?P<hash>[0-9a-fA-F]{32})")
_MD5_GNU = re.compile(r"^(?P<hash>[0-9a-fA-F]{32})\s+\*?(?P<name>\S.*)$", re.MULTILINE)


def parse_md5_file(text: str) -> str | None:
    """The hash in either `MD5 (file) = hash` or `hash  file` form (GroupLens uses both)."""
    match = _MD5_BSD.search(text) or _MD5_GNU.search(text)
    if match is None:
        bare = text.strip()
        return bare.lower() if re.fullmatch(r"[0-9a-fA-F]{32}", bare) else None
    return match.group("hash").lower()


def fetch_published_md5(url: str, timeout: float = 15.0) -> str | None:
    """The checksum published next to the archive, or None when there is none (404)."""
    md5_url = url + ".md5"
    if md5_url.lower().startswith("file:"):
        try:
            with open(_local_path(md5_url), encoding="utf-8", errors="replace") as handle:
                text = handle.read(4096)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise SourceError(f"Cannot read checksum file {md5_url}: {error.strerror}.") from error
    else:
        try:
            with _open_http(md5_url, timeout=timeout) as response:
                text = response.read(4096).decode("utf-8", errors="replace")
        except urllib.error.HTTPError as error:
            if error.code in (403, 404, 410):
                return None
            raise _http_error(md5_url, error) from error
        except (urllib.error.URLError, OSError) as error:
            raise _http_error(md5_url, error) from error
    checksum = parse_md5_file(text)
    if checksum is None:
        raise SourceError(f"Checksum file {md5_url} has no MD5 hash in it; its text starts {text[:80]!r}.")
    return checksum


class ChecksumMismatch(SourceError):
    pass


class VerifyingReader:
    """Passes bytes through while counting them, hashing them and reporting progress.

    At end of stream it checks the MD5 against `expected_md5` (if any) and the length
    against `expected_size` (if any), raising before the consumer can finish its write.
    """

    def __init__(self, stream: BinaryIO, url: str, expected_md5: str | None = None,
                 expected_size: int | None = None, progress: Callable[[int, int | None], None] | None = None,
                 progress_every: int = 64 * 1024 * 1024):
        self._stream, self._url = stream, url
        self._md5 = hashlib.md5()  # noqa: S324 - GroupLens publishes MD5; integrity, not security
        self.expected_md5, self.expected_size = expected_md5, expected_size
        self.bytes_read = 0
        self._progress, self._every, self._next_report = progress, progress_every, progress_every
        self._started = time.monotonic()

    def read(self, size: int = -1) -> bytes:
        try:
            chunk = self._stream.read(size)
        except (OSError, urllib.error.URLError) as error:
            raise SourceError(f"Download of {_where(self._url)} broke off after {self.bytes_read:,} bytes: {error}", True) from error
        if chunk:
            self._md5.update(chunk)
            self.bytes_read += len(chunk)
            if self._progress and self.bytes_read >= self._next_report:
                self._progress(self.bytes_read, self.expected_size)
                self._next_report += self._every
        else:
            self._verify()
        return chunk

    @property
    def md5(self) -> str:
        return self._md5.hexdigest()

    @property
    def seconds(self) -> float:
        return time.monotonic() - self._started

    def _verify(self) -> None:
        if self.expected_size is not None and self.bytes_read != self.expected_size:
            raise SourceError(
                f"Download of {_where(self._url)} ended after {self.bytes_read:,} of {self.expected_size:,} bytes.",
                transient=True,
            )
        if self.expected_md5 and self.md5 != self.expected_md5:
            raise ChecksumMismatch(
                f"Checksum mismatch for {self._url}: the published {self._url}.md5 says {self.expected_md5}, "
                f"the downloaded bytes hash to {self.md5}. The download is corrupt or the checksum is stale; "
                "nothing was published. Try again, or check the mirror behind MOVIELENS_BASE_URL."
            )

    def close(self) -> None:
        self._stream.close()
