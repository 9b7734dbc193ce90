"""Sensors: import into Personalize once both CSVs are republished; refresh the archive
when GroupLens publishes a new release."""

import time
import warnings

import dagster as dg

from ..lib.download import SourceError, Validators, probe_release
from ..lib.movielens_source import SYNTHETIC, MovieLensSource
from ..lib.release_watch import (
    POLL_SECONDS_VARIABLE,
    ReleaseCursor,
    check_release,
    poll_interval_seconds,
    seconds_until_due,
)
from . import jobs, personalize

PUBLISHED_CSVS = [dg.AssetKey("interactions_csv"), dg.AssetKey("items_csv")]
ARCHIVE = dg.AssetKey("movielens_zip")

# Dagster marks multi-asset sensors as superseded by Declarative Automation, except where
# "a specific job must be targeted" or side effects are wanted: both are the case here (a
# Personalize import is a side effect on AWS, run by its own job), so the notice is muted.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.SupersessionWarning)

    @dg.multi_asset_sensor(
        monitored_assets=PUBLISHED_CSVS,
        job=personalize.personalize_import,
        minimum_interval_seconds=10,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Runs personalize_import once both interactions_csv and items_csv have been "
        "materialized since its last run and the runs that published them have succeeded (their "
        "blocking checks passed), so Personalize always imports a verified, matching pair of CSVs. "
        "Running by default; the import is a dry run unless PERSONALIZE_ROLE_ARN is set.",
    )
    def personalize_import_sensor(context: dg.MultiAssetSensorEvaluationContext):
        records = context.latest_materialization_records_by_key()
        waiting = [key.to_user_string() for key, record in records.items() if record is None]
        if waiting:
            fresh = [key.to_user_string() for key, record in records.items() if record is not None]
            return dg.SkipReason(
                f"Waiting for a new materialization of {' and '.join(waiting)}"
                + (f" (new since the last import: {', '.join(fresh)})." if fresh else ".")
            )
        unfinished = _publishing_run_not_succeeded(context.instance, {r.run_id for r in records.values() if r.run_id})
        if unfinished is not None and not unfinished.is_finished:
            # The CSVs' own checks run after them in the same run: wait for their verdict.
            return dg.SkipReason(f"Waiting for run {unfinished.run_id} ({unfinished.job_name}), which "
                                 "published the CSVs, to finish.")
        context.advance_all_cursors()
        if unfinished is not None:
            return dg.SkipReason(
                f"Run {unfinished.run_id} ({unfinished.job_name}), which published the CSVs, ended "
                f"{unfinished.status.value}, so they are not imported. Once the cause is fixed, "
                "materialize them again."
            )
        return dg.RunRequest(
            run_key="csvs-" + "-".join(str(records[key].storage_id) for key in PUBLISHED_CSVS),
            # Which runs published the CSVs being imported (none for reported events).
            tags={
                f"personalize_assets/{key.to_user_string()}_run": records[key].run_id
                for key in PUBLISHED_CSVS
                if records[key].run_id
            },
        )


def _publishing_run_not_succeeded(instance: dg.DagsterInstance, run_ids: set[str]) -> dg.DagsterRun | None:
    """The first run among `run_ids` that has not (yet) succeeded, if any."""
    for run_id in sorted(run_ids):
        run = instance.get_run_by_id(run_id)
        if run is not None and run.status != dg.DagsterRunStatus.SUCCESS:
            return run
    return None


def _stored_validators(instance: dg.DagsterInstance, url: str) -> Validators | None:
    """The source version of the archive last materialized from `url`, if any."""
    event = instance.get_latest_materialization_event(ARCHIVE)
    if event is None or event.asset_materialization is None:
        return None
    metadata = {name: getattr(value, "value", value) for name, value in event.asset_materialization.metadata.items()}
    if metadata.get("source_url") != url:
        return None
    return Validators(metadata.get("source_etag") or None, metadata.get("source_last_modified") or None)


@dg.sensor(
    job=jobs.movielens_to_personalize,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Asks the MovieLens source (MOVIELENS_BASE_URL + MOVIELENS_VARIANT + .zip) with a HEAD "
    "request, every MOVIELENS_RELEASE_POLL_SECONDS (default 3600), whether its ETag or Last-Modified "
    "changed; if so, runs movielens_to_personalize to refresh the archive and everything downstream. "
    "The first check compares with the archive last materialized and, when there is none, requests "
    "the first download. An unreachable source is a skipped tick with the reason. Stopped by "
    "default, since it polls an outside site: turn it on here.",
)
def movielens_release_sensor(context: dg.SensorEvaluationContext, movielens: MovieLensSource):
    variant = movielens.resolved_variant()
    if variant == SYNTHETIC:
        return dg.SkipReason("MOVIELENS_VARIANT is synthetic: the release is generated here, there is no source "
                             "to watch. Set MOVIELENS_VARIANT to a GroupLens release, or stop this sensor.")
    url = movielens.url(variant)
    previous = ReleaseCursor.parse(context.cursor)
    now = time.time()
    interval = poll_interval_seconds()
    wait = seconds_until_due(previous, url, now, interval)
    if wait > 0:
        return dg.SkipReason(f"Next check of {url} in {wait:.0f} s ({POLL_SECONDS_VARIABLE}={interval:g}).")
    try:
        current = probe_release(url)
    except SourceError as error:
        # The cursor stays as it was, so the next tick tries again.
        return dg.SkipReason(f"Could not check for a new release: {error}")
    check = check_release(url, current, previous, _stored_validators(context.instance, url), now)
    if not check.changed:
        return dg.SensorResult(skip_reason=dg.SkipReason(check.reason), cursor=check.cursor.serialize())
    context.log.info(check.reason)
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=check.run_key,
                run_config={"ops": {"movielens_zip": {"config": {"variant": variant}}}},
                tags={"personalize_assets/release_url": url},
            )
        ],
        cursor=check.cursor.serialize(),
    )
