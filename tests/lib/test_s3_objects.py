"""All-or-nothing multipart writes and ranged reads, against the real local S3."""

import io
import uuid
import zipfile

import pytest

from personalize_assets.lib.s3_objects import MIB, MultipartWriter, head_object, open_object


@pytest.fixture
def key():
    return f"s3-objects-test/{uuid.uuid4().hex}"


def test_multipart_write_is_published_whole(local_s3, key):
    client = local_s3.client()
    payload = bytes(range(256)) * (45 * 1024)  # 11.25 MiB: three 5 MiB parts, the last short
    with MultipartWriter(client, local_s3.bucket, key, part_size=5 * MIB, max_in_flight=2) as out:
        for start in range(0, len(payload), 777_777):
            out.write(payload[start:start + 777_777])
    assert out.result.size == len(payload) and out.result.etag.endswith("-3")
    assert client.get_object(Bucket=local_s3.bucket, Key=key)["Body"].read() == payload


def test_a_failed_write_leaves_the_previous_object_untouched(local_s3, key):
    client = local_s3.client()
    client.put_object(Bucket=local_s3.bucket, Key=key, Body=b"the good object")
    with pytest.raises(RuntimeError, match="broke"):
        with MultipartWriter(client, local_s3.bucket, key, part_size=5 * MIB) as out:
            out.write(b"x" * (12 * MIB))  # two parts already uploaded
            raise RuntimeError("the producer broke mid-way")
    assert client.get_object(Bucket=local_s3.bucket, Key=key)["Body"].read() == b"the good object"
    uploads = client.list_multipart_uploads(Bucket=local_s3.bucket, Prefix=key).get("Uploads", [])
    assert uploads == []  # aborted, not left to linger


def test_ranged_reader_serves_zipfile_random_access(local_s3, key):
    client = local_s3.client()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a/ratings.csv", "userId,movieId\n" + "1,2\n" * 100_000)
        archive.writestr("a/README.txt", "hello")
    client.put_object(Bucket=local_s3.bucket, Key=key, Body=buffer.getvalue())
    with open_object(client, local_s3.bucket, key, buffer_size=64 * 1024) as source:
        with zipfile.ZipFile(source) as archive:
            assert archive.read("a/README.txt") == b"hello"
            assert archive.read("a/ratings.csv").count(b"\n") == 100_001
    assert head_object(client, local_s3.bucket, key + "-missing") is None
