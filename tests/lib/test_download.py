"""The wget -N part: checksums in both published styles, schemes, file:// validators."""

import hashlib

import pytest

from personalize_assets.lib.download import (
    ChecksumMismatch, SourceError, VerifyingReader, open_release, parse_md5_file, probe_release, release_url,
)

DIGEST = "91f91ad0f0846e764ddf79cf44a0cbe1"


@pytest.mark.parametrize("text", [f"MD5 (ml-latest-small.zip) = {DIGEST}\n", f"{DIGEST}  ml-latest-small.zip\n",
                                  f"{DIGEST.upper()} *ml-latest-small.zip", DIGEST])
def test_both_md5_styles_parse(text):
    assert parse_md5_file(text) == DIGEST


def test_garbage_md5_file_is_none():
    assert parse_md5_file("<html>not found</html>") is None


@pytest.mark.parametrize("url", ["ftp://example.org/ml.zip", "gopher://x/ml.zip", "/no/scheme/ml.zip"])
def test_only_http_https_file_are_allowed(url):
    with pytest.raises(SourceError, match="only http, https, file"):
        open_release(url)


def test_file_urls_are_conditional(tmp_path):
    path = tmp_path / "ml-test.zip"
    path.write_bytes(b"zip bytes")
    url = release_url(path.parent.as_uri() + "/", "ml-test")
    first = open_release(url)
    assert first.modified
    first.stream.close()
    again = open_release(url, known=first.validators)
    assert not again.modified
    assert probe_release(url) == first.validators


def test_verifying_reader_rejects_a_wrong_checksum_at_end_of_stream():
    import io

    data = b"some archive bytes"
    good = VerifyingReader(io.BytesIO(data), "http://x/ml.zip", hashlib.md5(data).hexdigest(), len(data))
    assert good.read() == data and good.read() == b""
    bad = VerifyingReader(io.BytesIO(data), "http://x/ml.zip", "0" * 32, len(data))
    bad.read()
    with pytest.raises(ChecksumMismatch, match="0{32}"):
        bad.read()
    short = VerifyingReader(io.BytesIO(data), "http://x/ml.zip", None, len(data) + 5)
    short.read()
    with pytest.raises(SourceError, match="ended after"):
        short.read()
