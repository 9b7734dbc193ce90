"""Streaming S3 object I/O with boto3: all-or-nothing multipart writes and seekable ranged reads.

Objects of any size pass through bounded memory: a writer keeps at most a few parts in
flight, a reader fetches byte ranges on demand. A write becomes visible only when it
completes; any error aborts it, so the key keeps its previous object untouched.
"""

from __future__ import annotations

import io
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

MIB = 1024 * 1024
# S3 needs parts of at least 5 MiB (except the last) and at most 10,000 of them.
# 16 MiB parts ingest into SeaweedFS as fast as 32 MiB ones (measured) with half the memory
# in flight; 10,000 of them allow objects up to 156 GiB.
DEFAULT_PART_SIZE = 16 * MIB
MAX_PARTS = 10_000


@dataclass(frozen=True)
class StoredObject:
    """What S3 reports about an object we wrote or found."""

    bucket: str
    key: str
    size: int
    etag: str
    metadata: dict

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def head_object(client, bucket: str, key: str) -> StoredObject | None:
    """The object's size, ETag and user metadata, or None when there is no such key."""
    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except client.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    return StoredObject(bucket, key, head["ContentLength"], head["ETag"].strip('"'), head.get("Metadata", {}))


class MultipartWriter(io.RawIOBase):
    """A write-only binary stream that lands in S3 as one object, or not at all.

    Parts upload on a small thread pool while the caller keeps producing bytes, so
    serialising and uploading overlap. `close()` completes the object; `abort()` (or
    leaving a `with` block by an exception) discards everything written.
    """

    def __init__(self, client, bucket: str, key: str, *, content_type: str = "application/octet-stream",
                 metadata: dict | None = None, part_size: int = DEFAULT_PART_SIZE, max_in_flight: int = 3):
        super().__init__()
        self._client, self.bucket, self.key = client, bucket, key
        self._extra = {"ContentType": content_type, "Metadata": dict(metadata or {})}
        self._part_size = part_size
        self._pending: list[bytes] = []  # written since the last part, not yet uploaded
        self._pending_size = 0
        self._upload_id: str | None = None
        self._parts: list[Future] = []
        self._pool: ThreadPoolExecutor | None = None
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self._max_in_flight = max_in_flight
        self._finished = False
        self.bytes_written = 0
        self.result: StoredObject | None = None

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        if self._finished:
            raise ValueError(f"write to s3://{self.bucket}/{self.key} after it was closed")
        view = memoryview(data).cast("B")
        # One copy on the way in (the caller may reuse its buffer) and one to join a part:
        # parts are at least part_size, so a part and the pieces of the next are all that is held.
        self._pending.append(bytes(view))
        self._pending_size += len(view)
        self.bytes_written += len(view)
        if self._pending_size >= self._part_size:
            self._submit_part(self._take_pending())
        return len(view)

    def _take_pending(self) -> bytes:
        body = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending, self._pending_size = [], 0
        return body

    def _submit_part(self, body: bytes) -> None:
        if self._upload_id is None:
            created = self._client.create_multipart_upload(Bucket=self.bucket, Key=self.key, **self._extra)
            self._upload_id = created["UploadId"]
            self._pool = ThreadPoolExecutor(self._max_in_flight, thread_name_prefix="s3-part")
        number = len(self._parts) + 1
        if number > MAX_PARTS:
            raise ValueError(f"s3://{self.bucket}/{self.key} needs more than {MAX_PARTS} parts; raise part_size")
        for done in self._parts:  # surface a failed part early instead of at close()
            if done.done() and done.exception():
                raise done.exception()
        self._slots.acquire()
        future = self._pool.submit(self._upload_part, number, body)
        future.add_done_callback(lambda _: self._slots.release())
        self._parts.append(future)

    def _upload_part(self, number: int, body: bytes) -> dict:
        answer = self._client.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, PartNumber=number, Body=body
        )
        return {"PartNumber": number, "ETag": answer["ETag"]}

    def close(self) -> None:
        """Complete the object (publishing it at the key)."""
        if self._finished:
            return
        try:
            if self._upload_id is None:
                answer = self._client.put_object(Bucket=self.bucket, Key=self.key, Body=self._take_pending(),
                                                 **self._extra)
            else:
                if self._pending:
                    self._submit_part(self._take_pending())
                parts = [future.result() for future in self._parts]
                answer = self._client.complete_multipart_upload(
                    Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, MultipartUpload={"Parts": parts}
                )
            self.result = StoredObject(self.bucket, self.key, self.bytes_written,
                                       answer["ETag"].strip('"'), dict(self._extra["Metadata"]))
            self._finished = True
        except BaseException:
            self.abort()
            raise
        finally:
            self._shutdown_pool()
            super().close()

    def abort(self) -> None:
        """Discard everything written; the key keeps whatever it held before."""
        if self._finished:
            return
        self._finished = True
        self._pending, self._pending_size = [], 0
        for future in self._parts:
            future.cancel()
        self._shutdown_pool()
        if self._upload_id is not None:
            try:
                self._client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id)
            except Exception:  # noqa: BLE001 - the original error matters more; S3 expires orphans
                pass
        super().close()

    def _shutdown_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.abort()
        else:
            self.close()
        return False


class RangedReader(io.RawIOBase):
    """A seekable read-only view of one S3 object, fetched by byte ranges on demand.

    Wrap it in `io.BufferedReader` (see `open_object`) so small reads share one request.
    Pinned to the ETag seen at open: a concurrent overwrite fails loudly instead of mixing.
    """

    def __init__(self, client, bucket: str, key: str):
        super().__init__()
        self._client, self.bucket, self.key = client, bucket, key
        found = head_object(client, bucket, key)
        if found is None:
            raise FileNotFoundError(f"s3://{bucket}/{key} does not exist")
        self.size, self.etag = found.size, found.etag
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer) -> int:
        if self._position >= self.size:
            return 0
        end = min(self._position + len(buffer), self.size) - 1
        body = self._client.get_object(
            Bucket=self.bucket, Key=self.key, Range=f"bytes={self._position}-{end}", IfMatch=f'"{self.etag}"'
        )["Body"]
        count = 0
        view = memoryview(buffer)
        for chunk in body.iter_chunks(1024 * 1024):
            view[count: count + len(chunk)] = chunk
            count += len(chunk)
        self._position += count
        return count


def open_object(client, bucket: str, key: str, buffer_size: int = 8 * MIB) -> io.BufferedReader:
    return io.BufferedReader(RangedReader(client, bucket, key), buffer_size=buffer_size)
