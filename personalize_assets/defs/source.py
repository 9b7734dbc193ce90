"""Source assets: the release archive and the two MovieLens tables read from inside it."""


import dagster as dg
import pandas as pd

from ..lib.failures import user_facing_errors
from ..lib.io_managers import OpenedRelease
from ..lib.bucket import PersonalizeBucket
from ..lib.memory import frame_from_arrow
from ..lib.movielens_source import SYNTHETIC, MovieLensSource
from ..lib.release_download import fetch_release_into_bucket, generate_release_into_bucket
from ..lib.releases import read_movies, read_ratings
from ..lib.table_metadata import table_metadata


class MovieLensReleaseConfig(dg.Config):
    """Which release this run fetches (empty: MOVIELENS_VARIANT, else ml-latest-small)."""

    variant: str | None = None
    synthetic_ratings: int | None = None  # with variant "synthetic"; empty: MOVIELENS_SYNTHETIC_RATINGS
    synthetic_seed: int | None = None  # with variant "synthetic"; empty: MOVIELENS_SYNTHETIC_SEED


@dg.asset(
    group_name="source",
    kinds={"s3"},
    io_manager_key="archive_io_manager",
)
def movielens_zip(
    context: dg.AssetExecutionContext,
    config: MovieLensReleaseConfig,
    movielens: MovieLensSource,
    bucket: PersonalizeBucket,
) -> dg.Output:
    """The MovieLens release archive as GroupLens publishes it, copied into S3.

    Downloaded only when the source has a newer version than the stored copy (like
    `wget -N`), checked against the published MD5, and refused when its members are
    unsafe. The release's README is shown below.
    """
    variant = movielens.resolved_variant(config.variant)
    with user_facing_errors(f"store the {variant} archive"):
        if variant == SYNTHETIC:
            ratings, seed = movielens.synthetic_settings(config.synthetic_ratings, config.synthetic_seed)
            outcome = generate_release_into_bucket(bucket, ratings, seed, context.run.run_id, log=context.log.info)
        else:
            outcome = fetch_release_into_bucket(bucket, movielens.url(variant), variant, context.run.run_id,
                                                log=context.log.info)
    archive = outcome.archive
    url = archive.source_url
    return dg.Output(
        archive,
        metadata={
            "dagster/uri": dg.MetadataValue.path(archive.uri),
            "source_url": dg.MetadataValue.url(url) if variant != SYNTHETIC else url,
            "variant": variant,
            "format": outcome.release_format,
            "downloaded": outcome.downloaded,
            "status": "downloaded" if outcome.downloaded else "not modified: reused the stored copy",
            "size_bytes": archive.size,
            "md5": archive.md5,
            "published_md5": outcome.published_md5 or "(none published)",
            "source_etag": archive.source_etag or "",
            "source_last_modified": archive.source_last_modified or "",
            "readme": dg.MetadataValue.md(f"```\n{outcome.readme}\n```" if outcome.readme else "(no README)"),
        },
    )


@dg.asset(group_name="source", kinds={"pandas"}, io_manager_key="parquet_io_manager")
def ratings(movielens_zip: OpenedRelease) -> dg.Output[pd.DataFrame]:
    """Every rating in the release: userId, movieId, rating (0.5-5 stars), timestamp (epoch s)."""
    with user_facing_errors("read the release archive"), movielens_zip.open_zip() as archive:
        frame = frame_from_arrow(read_ratings(archive, movielens_zip.archive.label))
    return dg.Output(frame, metadata=table_metadata(frame, time_column="timestamp"))


@dg.asset(group_name="source", kinds={"pandas"}, io_manager_key="parquet_io_manager")
def movies(movielens_zip: OpenedRelease) -> dg.Output[pd.DataFrame]:
    """Every movie in the release: movieId, title with its year, '|'-separated genres."""
    with user_facing_errors("read the release archive"), movielens_zip.open_zip() as archive:
        frame = frame_from_arrow(read_movies(archive, movielens_zip.archive.label))
    return dg.Output(frame, metadata=table_metadata(frame))
