"""Publish assets: the CSVs (and their schemas) that Personalize imports from S3."""

import dagster as dg
import pandas as pd



@dg.multi_asset(
    outs={
        "interactions_csv": dg.AssetOut(
            group_name="publish", kinds={"s3", "csv"}, io_manager_key="personalize_csv_io_manager",
            description="`<prefix>/interactions.csv`, the Interactions dataset Personalize imports, "
                        "with its Avro schema at `<prefix>/schemas/interactions.json`.",
        ),
        "items_csv": dg.AssetOut(
            group_name="publish", kinds={"s3", "csv"}, io_manager_key="personalize_csv_io_manager",
            description="`<prefix>/item-meta.csv`, the Items dataset Personalize imports, "
                        "with its Avro schema at `<prefix>/schemas/items.json`.",
        ),
    },
    internal_asset_deps={"interactions_csv": {dg.AssetKey("interactions_df")}, "items_csv": {dg.AssetKey("items_df")}},
)
def personalize_csvs(interactions_df: pd.DataFrame, items_df: pd.DataFrame):
    """Publishes both datasets in one step, so a blocking check failing on either dataset
    keeps both published objects as they were (never a new interactions.csv beside an old
    item-meta.csv)."""
    yield dg.Output(interactions_df, output_name="interactions_csv", metadata={"dagster/row_count": len(interactions_df)})
    yield dg.Output(items_df, output_name="items_csv", metadata={"dagster/row_count": len(items_df)})
