"""Turning foreseeable failures into Dagster failures that speak to the user.

Bad input (a broken archive, a bad CSV line, a checksum mismatch) fails at once;
network and S3 hiccups are marked retryable so the assets' RetryPolicy tries again.
"""

from __future__ import annotations

import contextlib
import os

import dagster as dg
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from .download import SourceError
from .releases import ReleaseError

_S3_PERMANENT = {
    "InvalidAccessKeyId": "the access key is not known to the S3 endpoint; check AWS_ACCESS_KEY_ID",
    "SignatureDoesNotMatch": "the secret key does not match the access key; check AWS_SECRET_ACCESS_KEY",
    "AccessDenied": "the credentials are not allowed to do this; check the bucket policy or IAM role",
    "403": "access denied; check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and the bucket policy",
    "NoSuchBucket": "the bucket does not exist; create it or fix PERSONALIZE_BUCKET",
    "404": "not found; check that PERSONALIZE_BUCKET exists",
}


def _endpoint() -> str:
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or "AWS S3"


def s3_failure(error: Exception, doing: str) -> dg.Failure:
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        explanation = _S3_PERMANENT.get(code)
        if explanation:
            return dg.Failure(f"S3 refused to {doing} at {_endpoint()}: {code}, {explanation}.", allow_retries=False)
        return dg.Failure(f"S3 failed to {doing} at {_endpoint()}: {code} (HTTP {status}).",
                          allow_retries=status >= 500 or status == 429)
    if isinstance(error, NoCredentialsError):
        return dg.Failure(
            f"No AWS credentials to {doing}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE).",
            allow_retries=False,
        )
    return dg.Failure(
        f"S3 at {_endpoint()} is unreachable while trying to {doing} ({type(error).__name__}); "
        "check AWS_ENDPOINT_URL_S3 and that the server is running.",
        allow_retries=True,
    )


@contextlib.contextmanager
def user_facing_errors(doing: str):
    """Re-raise known failures as dg.Failure with a plain message (no traceback needed)."""
    try:
        yield
    except SourceError as error:
        raise dg.Failure(str(error), allow_retries=error.transient) from None
    except ReleaseError as error:
        raise dg.Failure(str(error), allow_retries=False) from None
    except (ClientError, NoCredentialsError, EndpointConnectionError, ConnectionClosedError, ReadTimeoutError) as error:
        raise s3_failure(error, doing) from None


# Transient failures are tried again with growing pauses; permanent ones fail at once
# (dg.Failure(allow_retries=False) bypasses the policy).
RETRY_POLICY = dg.RetryPolicy(max_retries=3, delay=1, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


def failure_text(error) -> str:
    """A step failure's message with the causes Dagster wraps it in (e.g. after retries)."""
    messages = []
    while error is not None:
        text = (error.message or "").strip()
        if text and not text.startswith("Exceeded max_retries"):
            # Dagster prefixes framework errors with their class path; the user needs the rest.
            if text.startswith(("dagster._core.errors.", "dagster._core.definitions.events.Failure")):
                text = text.split(": ", 1)[-1]
            messages.append(text)
        error = error.cause or getattr(error, "context", None)
    return "\n".join(dict.fromkeys(messages)) or "(no message)"
