"""Where everything lives in S3: the bucket/prefix resource and the one key layout.

Key layout under `<prefix>/` (default prefix `poc_data`):

    interactions.csv              Personalize Interactions dataset (fixed)
    item-meta.csv                 Personalize Items dataset (fixed)
    schemas/interactions.json     Avro schema of interactions.csv (fixed)
    schemas/items.json            Avro schema of item-meta.csv (fixed)
    raw/<variant>.json            pointer to the current release archive (written last)
    raw/<variant>/<run id>.zip    the release archive as downloaded
    intermediate/<asset>.parquet  DataFrames between steps
"""


import os

import dagster as dg
from dagster_aws.s3 import S3Resource
from pydantic import PrivateAttr

from .local_s3 import DEFAULT_BUCKET as LOCAL_DEFAULT_BUCKET
from .s3_objects import MultipartWriter, StoredObject, head_object, open_object

DEFAULT_PREFIX = "poc_data"

PUBLISHED_FILES = {"interactions_csv": "interactions.csv", "items_csv": "item-meta.csv"}
SCHEMA_FILES = {"interactions_csv": "schemas/interactions.json", "items_csv": "schemas/items.json"}


def published_key(prefix: str, asset_name: str) -> str:
    return f"{prefix}/{PUBLISHED_FILES[asset_name]}"


def schema_key(prefix: str, asset_name: str) -> str:
    return f"{prefix}/{SCHEMA_FILES[asset_name]}"


def intermediate_key(prefix: str, asset_name: str) -> str:
    return f"{prefix}/intermediate/{asset_name}.parquet"


def archive_pointer_key(prefix: str, variant: str) -> str:
    return f"{prefix}/raw/{variant}.json"


def archive_key(prefix: str, variant: str, run_id: str) -> str:
    return f"{prefix}/raw/{variant}/{run_id}.zip"


class BucketNotConfigured(dg.Failure):
    pass


class PersonalizeBucket(dg.ConfigurableResource):
    """The S3 bucket and prefix the graph writes to, reached through dagster-aws's S3Resource.

    Unset fields fall back, at run time, to PERSONALIZE_BUCKET and PERSONALIZE_PREFIX
    (with only AWS_ENDPOINT_URL_S3 set, the bucket defaults to `personalize-local`);
    the endpoint and credentials come from the standard AWS variables via boto3.
    """

    s3: dg.ResourceDependency[S3Resource]
    bucket: str | None = None
    prefix: str | None = None

    _client = PrivateAttr(default=None)

    @property
    def bucket_name(self) -> str:
        name = self.bucket or os.environ.get("PERSONALIZE_BUCKET")
        if not name and os.environ.get("AWS_ENDPOINT_URL_S3"):
            # A local S3-compatible server: use the bucket name the embedded S3 creates.
            name = LOCAL_DEFAULT_BUCKET
        if not name:
            raise BucketNotConfigured(
                "No S3 bucket configured: set PERSONALIZE_BUCKET (and the standard AWS variables "
                "for a real S3), or use `make run` / `make dev`, which start the embedded S3."
            )
        return name

    @property
    def key_prefix(self) -> str:
        return (self.prefix or os.environ.get("PERSONALIZE_PREFIX") or DEFAULT_PREFIX).strip("/")

    def client(self):
        # boto3 reads AWS_ENDPOINT_URL_S3, credentials, region and profiles from the environment.
        # One client per resource instance: building one loads the service model (~0.1 s).
        if self._client is None:
            self._client = self.s3.get_client()
        return self._client

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket_name}/{key}"

    def head(self, key: str) -> StoredObject | None:
        return head_object(self.client(), self.bucket_name, key)

    def writer(self, key: str, **kwargs) -> MultipartWriter:
        return MultipartWriter(self.client(), self.bucket_name, key, **kwargs)

    def reader(self, key: str):
        return open_object(self.client(), self.bucket_name, key)

    def put_bytes(self, key: str, body: bytes, content_type: str) -> StoredObject:
        with self.writer(key, content_type=content_type) as out:
            out.write(body)
        return out.result

    def get_bytes(self, key: str) -> bytes:
        return self.client().get_object(Bucket=self.bucket_name, Key=key)["Body"].read()

    def delete(self, key: str) -> None:
        self.client().delete_object(Bucket=self.bucket_name, Key=key)


def s3_resource() -> S3Resource:
    """dagster-aws's S3Resource with bounded retries; everything else from the environment."""
    return S3Resource(max_attempts=5)

