"""The one Definitions object: assets, checks, jobs and the S3 resources they share."""

import dagster as dg

from .defs import jobs, publish, source, transform
from .lib.bucket import PersonalizeBucket, s3_resource
from .lib.io_managers import ParquetIOManager, PersonalizeCsvIOManager, ReleaseArchiveIOManager
from .lib.movielens_source import MovieLensSource

_bucket = PersonalizeBucket(s3=s3_resource())

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([source, transform, publish]),
    jobs=[jobs.movielens_to_personalize],
    resources={
        "bucket": _bucket,
        "movielens": MovieLensSource(),
        "archive_io_manager": ReleaseArchiveIOManager(bucket=_bucket),
        "parquet_io_manager": ParquetIOManager(bucket=_bucket),
        "personalize_csv_io_manager": PersonalizeCsvIOManager(bucket=_bucket),
    },
)
