"""Publish assets: the CSVs (and their schemas) that Personalize imports from S3."""


import dagster as dg
import pandas as pd

from ..lib.failures import RETRY_POLICY


@dg.asset(group_name="publish", kinds={"s3", "csv"}, io_manager_key="personalize_csv_io_manager",
          retry_policy=RETRY_POLICY)
def interactions_csv(interactions_df: pd.DataFrame) -> dg.Output[pd.DataFrame]:
    """`<prefix>/interactions.csv`, the Interactions dataset Personalize imports, with its
    Avro schema at `<prefix>/schemas/interactions.json`."""
    return dg.Output(interactions_df, metadata={"dagster/row_count": len(interactions_df)})


@dg.asset(group_name="publish", kinds={"s3", "csv"}, io_manager_key="personalize_csv_io_manager",
          retry_policy=RETRY_POLICY)
def items_csv(items_df: pd.DataFrame) -> dg.Output[pd.DataFrame]:
    """`<prefix>/item-meta.csv`, the Items dataset Personalize imports, with its Avro schema
    at `<prefix>/schemas/items.json`."""
    return dg.Output(items_df, metadata={"dagster/row_count": len(items_df)})
