"""The one Definitions object: assets, checks, jobs and the S3 resources they share."""

import dagster as dg

from .defs import checks, jobs, publish, source, transform
from .defs import personalize, sensors
from .lib.bucket import PersonalizeBucket, s3_resource
from .lib.io_managers import ParquetIOManager, PersonalizeCsvIOManager, ReleaseArchiveIOManager
from .lib.movielens_source import MovieLensSource
from .lib.personalize_resource import PersonalizeSettings

_bucket = PersonalizeBucket(s3=s3_resource())

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([source, transform, publish, personalize]),
    asset_checks=dg.load_asset_checks_from_modules([checks]),
    jobs=[jobs.movielens_to_personalize, personalize.personalize_import],
    executor=dg.in_process_executor,  # for every other run too: see defs/jobs.py
    sensors=[sensors.personalize_import_sensor, sensors.movielens_release_sensor],
    resources={
        "bucket": _bucket,
        "movielens": MovieLensSource(),
        "personalize": PersonalizeSettings(),
        "archive_io_manager": ReleaseArchiveIOManager(bucket=_bucket),
        "parquet_io_manager": ParquetIOManager(bucket=_bucket),
        "personalize_csv_io_manager": PersonalizeCsvIOManager(bucket=_bucket),
    },
)
