"""Noticing a new MovieLens release without downloading it: a HEAD probe compared with
what the release sensor saw last (its cursor) or, at first, with the stored archive.

The cursor is a small JSON object: the URL probed, its ETag / Last-Modified and when it
was probed, so the check interval survives daemon restarts.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

from .download import Validators

POLL_SECONDS_VARIABLE = "MOVIELENS_RELEASE_POLL_SECONDS"
# GroupLens publishes a few releases a year; an hourly HEAD request is plenty and polite.
DEFAULT_POLL_SECONDS = 3600.0


def poll_interval_seconds() -> float:
    """Seconds between two probes: MOVIELENS_RELEASE_POLL_SECONDS, else one hour."""
    text = (os.environ.get(POLL_SECONDS_VARIABLE) or "").strip()
    if not text:
        return DEFAULT_POLL_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise ValueError(
            f"{POLL_SECONDS_VARIABLE} is {text!r}; set it to a positive number of seconds "
            f"(e.g. 3600) or unset it for the default of {DEFAULT_POLL_SECONDS:g}."
        )
    return seconds


@dataclass(frozen=True)
class ReleaseCursor:
    """The release version the sensor saw last, and when it looked."""

    url: str
    etag: str | None
    last_modified: str | None
    checked_at: float  # epoch seconds

    @property
    def validators(self) -> Validators:
        return Validators(self.etag, self.last_modified)

    def serialize(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def parse(cls, text: str | None) -> ReleaseCursor | None:
        """The cursor a previous tick stored; None when there is none or it is unreadable
        (the next probe then starts afresh, as on a first tick)."""
        if not text:
            return None
        try:
            saved = json.loads(text)
            return cls(str(saved["url"]), saved.get("etag"), saved.get("last_modified"), float(saved["checked_at"]))
        except (ValueError, KeyError, TypeError):
            return None


def seconds_until_due(previous: ReleaseCursor | None, url: str, now: float, interval: float) -> float:
    """How long until the next probe; 0 when one is due (first tick, or another URL)."""
    if previous is None or previous.url != url:
        return 0.0
    return max(0.0, previous.checked_at + interval - now)


@dataclass(frozen=True)
class ReleaseCheck:
    """The outcome of one probe: the cursor to store and whether to refresh the archive."""

    cursor: ReleaseCursor
    changed: bool
    reason: str

    @property
    def run_key(self) -> str:
        # One run per release version, even if a tick is evaluated twice.
        return f"{self.cursor.url}|{self.cursor.etag or ''}|{self.cursor.last_modified or ''}"


def _describe(validators: Validators) -> str:
    parts = [f"ETag {validators.etag}" if validators.etag else "", validators.last_modified or ""]
    return ", ".join(p for p in parts if p)


def check_release(
    url: str,
    current: Validators,
    previous: ReleaseCursor | None,
    stored: Validators | None,
    now: float,
) -> ReleaseCheck:
    """Compare the probed `current` version of `url` with the last one seen.

    The baseline is the cursor when it is for this URL, else `stored` (the version of
    the archive last materialized from this URL). With neither, the release is new.
    """
    cursor = ReleaseCursor(url, current.etag, current.last_modified, now)
    if not (current.etag or current.last_modified):
        return ReleaseCheck(
            cursor, False,
            f"{url} answers without ETag or Last-Modified, so a new release cannot be told from "
            "the current one; materialize movielens_zip by hand to refresh it.",
        )
    if previous is not None and previous.url == url:
        baseline, seen = previous.validators, "at the last check"
    elif stored is not None:
        baseline, seen = stored, "in the stored archive"
    else:
        return ReleaseCheck(cursor, True, f"No archive of {url} has been materialized yet ({_describe(current)}).")
    if current.same_version_as(baseline):
        return ReleaseCheck(cursor, False, f"{url} is the same release as {seen} ({_describe(current)}).")
    return ReleaseCheck(
        cursor, True,
        f"{url} has a new release: {_describe(current)}; {seen}: {_describe(baseline) or 'no validators'}.",
    )
