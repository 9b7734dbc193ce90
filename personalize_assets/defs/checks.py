"""Asset checks: the Personalize data contract, evaluated before anything is published.

Blocking checks (severity ERROR) stop the publish step, so the CSVs already in the bucket
stay as they were; WARN checks are advice shown in the UI. Each DataFrame is loaded once
per group of checks.
"""

import dagster as dg
import pandas as pd

from ..lib import contract_checks as contract
from ..lib.bucket import PersonalizeBucket
from ..lib.contract_checks import CheckOutcome
from ..lib.io_managers import published_header_and_schema
from ..lib.transforms import extract_year

WARN = dg.AssetCheckSeverity.WARN


def _result(name: str, asset: str, outcome: CheckOutcome, severity=dg.AssetCheckSeverity.ERROR):
    metadata = {
        key: dg.MetadataValue.md(value) if isinstance(value, str) and ("\n" in value or value.startswith("|"))
        else value
        for key, value in outcome.metadata.items()
    }
    metadata["summary"] = dg.MetadataValue.text(outcome.description)
    return dg.AssetCheckResult(check_name=name, asset_key=asset, passed=outcome.passed, severity=severity,
                               metadata=metadata, description=outcome.description)


def _spec(name: str, asset: str, description: str, blocking: bool, **kwargs) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(name, asset=asset, description=description, blocking=blocking, **kwargs)


INTERACTION_CHECKS = [
    _spec("interactions_required_fields", "interactions_df",
          "USER_ID, ITEM_ID, TIMESTAMP and EVENT_TYPE in every row; IDs at most 256 characters.", True),
    _spec("interactions_timestamps_epoch_seconds", "interactions_df",
          "TIMESTAMP is integer Unix seconds between 1990 and now (catches milliseconds and date strings).", True),
    _spec("interactions_event_value_numeric", "interactions_df", "EVENT_VALUE is a finite number.", True),
    _spec("interactions_event_value_scale", "interactions_df",
          "WARN: EVENT_VALUE within the MovieLens rating scale 0.5..5.", False),
    _spec("interactions_personalize_minimums", "interactions_df",
          "Personalize's minimums: 1,000 interactions; 25 users, and 1% of users, with 2+ interactions.", True),
    _spec("interactions_suitability", "interactions_df",
          "WARN (notebook advice): 50+ users, 100+ items, most users with 24+ interactions.", False),
    _spec("interactions_duplicate_events", "interactions_df",
          "WARN: repeated (USER_ID, ITEM_ID, TIMESTAMP) events.", False),
    _spec("interactions_items_have_metadata", "interactions_df",
          "WARN: every interacted ITEM_ID has a row in the items dataset.", False, additional_deps=["items_df"]),
]


@dg.multi_asset_check(specs=INTERACTION_CHECKS, description="The Personalize contract for the Interactions dataset.")
def interactions_contract(interactions_df: pd.DataFrame, items_df: pd.DataFrame):
    frame = interactions_df
    yield _result("interactions_required_fields", "interactions_df", contract.required_fields(frame))
    yield _result("interactions_timestamps_epoch_seconds", "interactions_df", contract.timestamps_are_epoch_seconds(frame))
    yield _result("interactions_event_value_numeric", "interactions_df", contract.event_values_are_numbers(frame))
    numeric = pd.api.types.is_numeric_dtype(frame["EVENT_VALUE"].dtype)
    scale = contract.event_values_on_rating_scale(frame) if numeric else CheckOutcome(False, "EVENT_VALUE is not numeric")
    yield _result("interactions_event_value_scale", "interactions_df", scale, WARN)
    per_user = contract.interactions_per_user(frame)
    yield _result("interactions_personalize_minimums", "interactions_df",
                  contract.personalize_minimums(frame, per_user=per_user))
    yield _result("interactions_suitability", "interactions_df", contract.suitability(frame, per_user=per_user), WARN)
    yield _result("interactions_duplicate_events", "interactions_df", contract.duplicate_events(frame), WARN)
    yield _result("interactions_items_have_metadata", "interactions_df",
                  contract.items_have_metadata(frame, items_df), WARN)


class ItemChecksConfig(dg.Config):
    """Thresholds for the Items checks (editable in the launchpad)."""

    # YEAR is optional for Personalize, and big catalogues hold series and new entries without
    # one (ml-latest-small: 0.12%); what must stop a run is the year rule failing wholesale,
    # as after a change of title format, which shows as a large share.
    max_share_without_year: float = 0.05


ITEM_CHECKS = [
    _spec("items_unique_ids", "items_df", "ITEM_ID present and unique.", True),
    _spec("items_genres_format", "items_df",
          "GENRES present, '|'-separated without empty parts, each part at most 1,000 characters.", True),
    _spec("year_extraction_check", "items_df",
          "YEAR within 1874..next year; the share of titles without a year under the threshold (default 5%). "
          "Lists the titles without a year and those whose year came from a range.", True,
          additional_deps=["movies"]),
]


@dg.multi_asset_check(specs=ITEM_CHECKS, description="The Personalize contract for the Items dataset.")
def items_contract(config: ItemChecksConfig, items_df: pd.DataFrame, movies: pd.DataFrame):
    yield _result("items_unique_ids", "items_df", contract.item_ids_unique(items_df))
    yield _result("items_genres_format", "items_df", contract.genres_well_formed(items_df))
    titles = extract_year(movies["title"]).assign(TITLE=movies["title"].to_numpy())
    yield _result("year_extraction_check", "items_df",
                  contract.year_extraction(items_df, titles, config.max_share_without_year))


def _header_check(asset_name: str):
    @dg.asset_check(asset=asset_name, name=f"{asset_name}_header_matches_schema", blocking=True,
                    description=f"The stored {asset_name} header equals its uploaded schema's field order.")
    def header_matches_schema(bucket: PersonalizeBucket) -> dg.AssetCheckResult:
        header, fields = published_header_and_schema(bucket, asset_name)
        passed = header == fields
        return dg.AssetCheckResult(passed=passed, metadata={"header": ",".join(header), "schema_fields": ",".join(fields)},
                                   description="header equals schema field order" if passed
                                   else f"header {header} differs from schema fields {fields}")
    return header_matches_schema


interactions_csv_header = _header_check("interactions_csv")
items_csv_header = _header_check("items_csv")
