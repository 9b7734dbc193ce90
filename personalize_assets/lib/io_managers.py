"""The three S3 IO managers: one storage format per kind of asset.

- ReleaseArchiveIOManager: the raw release zip (bytes already streamed to S3 by the
  asset) is recorded by a small pointer object, written last, so the current archive
  is replaced atomically.
- ParquetIOManager: DataFrames between steps, as Parquet, streamed in row groups.
- PersonalizeCsvIOManager: the objects Personalize imports, as CSV at the fixed keys,
  with their Avro schema beside them. Header order is checked against the contract
  before a byte is sent.
"""


import json
import zipfile
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .bucket import PersonalizeBucket, intermediate_key, published_key, schema_key
from .memory import frame_from_arrow, return_freed_memory
from .personalize_schema import INTERACTIONS, ITEMS, DatasetContract
from .releases import ArchiveLimits, open_archive
from .s3_objects import StoredObject

ARCHIVE_POINTER = "raw/current-release.json"
CONTRACTS: dict[str, DatasetContract] = {"interactions_csv": INTERACTIONS, "items_csv": ITEMS}
ROWS_PER_BATCH = 1_000_000
CSV_ROWS_PER_BATCH = 250_000


def _asset_name(context) -> str:
    return context.asset_key.path[-1]


# -- the release archive -------------------------------------------------------------------

@dataclass(frozen=True)
class ReleaseArchive:
    """One downloaded release archive in S3, and the source version it came from."""

    variant: str
    source_url: str
    bucket: str
    key: str
    size: int
    etag: str
    md5: str
    source_etag: str | None = None
    source_last_modified: str | None = None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def label(self) -> str:
        return f"{self.variant}.zip ({self.uri})"


class OpenedRelease:
    """What downstream assets receive: the archive's facts and a way to read its members."""

    def __init__(self, archive: ReleaseArchive, bucket: PersonalizeBucket, limits: ArchiveLimits = ArchiveLimits()):
        self.archive, self._bucket, self._limits = archive, bucket, limits

    def open_zip(self) -> zipfile.ZipFile:
        return open_archive(self._bucket.reader(self.archive.key), self.archive.label, self._limits)


def pointer_key(bucket: PersonalizeBucket) -> str:
    return f"{bucket.key_prefix}/{ARCHIVE_POINTER}"


def current_release(bucket: PersonalizeBucket) -> ReleaseArchive | None:
    """The archive the last successful download recorded, if it is still in the bucket."""
    if bucket.head(pointer_key(bucket)) is None:
        return None
    archive = ReleaseArchive(**json.loads(bucket.get_bytes(pointer_key(bucket))))
    found = bucket.head(archive.key)
    return archive if found is not None and found.etag == archive.etag else None


class ReleaseArchiveIOManager(dg.ConfigurableIOManager):
    """Stores the pointer to the release archive; loads it as an OpenedRelease."""

    bucket: dg.ResourceDependency[PersonalizeBucket]

    def handle_output(self, context: dg.OutputContext, obj: ReleaseArchive) -> None:
        previous = current_release(self.bucket)
        self.bucket.put_bytes(pointer_key(self.bucket), json.dumps(asdict(obj)).encode(), "application/json")
        if previous is not None and previous.key != obj.key:
            self.bucket.delete(previous.key)  # only once the pointer no longer names it
        context.add_output_metadata({"pointer": dg.MetadataValue.path(self.bucket.uri(pointer_key(self.bucket)))})

    def load_input(self, context: dg.InputContext) -> OpenedRelease:
        archive = current_release(self.bucket)
        if archive is None:
            raise dg.Failure(
                f"No release archive is recorded at {self.bucket.uri(pointer_key(self.bucket))}; "
                "materialize movielens_zip first."
            )
        return OpenedRelease(archive, self.bucket)


# -- intermediate DataFrames ---------------------------------------------------------------

class ParquetIOManager(dg.ConfigurableIOManager):
    """DataFrames as Parquet objects under `<prefix>/intermediate/`."""

    bucket: dg.ResourceDependency[PersonalizeBucket]

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        key = intermediate_key(self.bucket.key_prefix, _asset_name(context))
        table = pa.Table.from_pandas(obj, preserve_index=False)
        with self.bucket.writer(key, content_type="application/vnd.apache.parquet") as out:
            # Statistics would double the write time and nothing filters these files; only
            # categorical columns are worth a dictionary (ids and times are mostly distinct).
            dictionary = [f.name for f in table.schema if pa.types.is_dictionary(f.type)]
            with pq.ParquetWriter(out, table.schema, compression="lz4", use_dictionary=dictionary,
                                  write_statistics=False) as parquet:
                parquet.write_table(table, row_group_size=ROWS_PER_BATCH)
        del table
        return_freed_memory()
        context.add_output_metadata(_object_metadata(out.result))

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        key = intermediate_key(self.bucket.key_prefix, _asset_name(context.upstream_output))
        with self.bucket.reader(key) as source:
            # A row group at a time: only the table itself is held, not the whole file too.
            parquet = pq.ParquetFile(source, pre_buffer=False)
            table = pa.concat_tables([parquet.read_row_group(i) for i in range(parquet.num_row_groups)]
                                     or [parquet.schema_arrow.empty_table()])
        return frame_from_arrow(table)


def _object_metadata(stored: StoredObject) -> dict:
    return {
        "dagster/uri": dg.MetadataValue.path(stored.uri),
        "size_bytes": dg.MetadataValue.int(stored.size),
        "etag": dg.MetadataValue.text(stored.etag),
    }


# -- the objects Personalize imports -------------------------------------------------------

class ContractViolation(dg.Failure):
    """A Personalize object that does not match its schema is never uploaded."""


@dataclass(frozen=True)
class PublishedDataset:
    """A CSV in S3 that Personalize can import, and its schema beside it."""

    dataset_type: str
    csv_uri: str
    schema_uri: str
    etag: str
    size: int


def write_personalize_csv(frame: pd.DataFrame, contract: DatasetContract, sink) -> None:
    """The CSV Personalize reads: plain header in contract order, one row per record."""
    if list(frame.columns) != contract.columns:
        raise ContractViolation(
            f"{contract.dataset_type} columns are {list(frame.columns)} but the schema's field order is "
            f"{contract.columns}; nothing was uploaded."
        )
    sink.write((",".join(contract.columns) + "\n").encode())
    table = pa.Table.from_pandas(frame, preserve_index=False)
    # Categories are written as their text, a batch at a time, so no full text copy is made.
    plain = pa.schema([f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in table.schema])

    def encode(batch: pa.RecordBatch) -> pa.Buffer:
        columns = [column.cast(field.type) for column, field in zip(batch.columns, plain)]
        out = pa.BufferOutputStream()
        pacsv.write_csv(pa.RecordBatch.from_arrays(columns, schema=plain), out,
                        pacsv.WriteOptions(include_header=False))
        return out.getvalue()

    # Arrow encodes without the GIL: batches are encoded on both cores and written in order,
    # with at most a few batches (tens of MB) waiting.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="csv-encode") as pool:
        waiting: deque = deque()
        for batch in table.to_batches(max_chunksize=CSV_ROWS_PER_BATCH):
            waiting.append(pool.submit(encode, batch))
            if len(waiting) > 2:
                sink.write(waiting.popleft().result())
        while waiting:
            sink.write(waiting.popleft().result())


class PersonalizeCsvIOManager(dg.ConfigurableIOManager):
    """interactions.csv / item-meta.csv at the fixed keys, plus schemas/<dataset>.json."""

    bucket: dg.ResourceDependency[PersonalizeBucket]

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        name = _asset_name(context)
        contract = CONTRACTS[name]
        prefix = self.bucket.key_prefix
        with self.bucket.writer(published_key(prefix, name), content_type="text/csv") as out:
            write_personalize_csv(obj, contract, out)
        return_freed_memory()
        schema = self.bucket.put_bytes(schema_key(prefix, name), contract.avro_json().encode(), "application/json")
        context.add_output_metadata(
            {**_object_metadata(out.result), "schema_uri": dg.MetadataValue.path(schema.uri),
             "header": dg.MetadataValue.text(",".join(contract.columns))}
        )

    def load_input(self, context: dg.InputContext) -> PublishedDataset:
        name = _asset_name(context.upstream_output)
        prefix = self.bucket.key_prefix
        found = self.bucket.head(published_key(prefix, name))
        if found is None:
            raise dg.Failure(f"{self.bucket.uri(published_key(prefix, name))} is missing; materialize {name} first.")
        return PublishedDataset(CONTRACTS[name].dataset_type, found.uri,
                                self.bucket.uri(schema_key(prefix, name)), found.etag, found.size)


def published_header_and_schema(bucket: PersonalizeBucket, asset_name: str) -> tuple[list[str], list[str]]:
    """The CSV header as stored in S3 and the field names of the schema stored beside it."""
    prefix = bucket.key_prefix
    with bucket.reader(published_key(prefix, asset_name)) as source:
        header = source.readline(64 * 1024).decode("utf-8", errors="replace").rstrip("\r\n").split(",")
    schema = json.loads(bucket.get_bytes(schema_key(prefix, asset_name)))
    return header, [f["name"] for f in schema["fields"]]
