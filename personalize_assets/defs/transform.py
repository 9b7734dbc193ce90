"""Transform assets: MovieLens tables reshaped into Personalize's datasets."""


import dagster as dg
import pandas as pd

from ..lib.table_metadata import table_metadata
from ..lib.transforms import movies_to_items, ratings_to_interactions


@dg.asset(group_name="transform", kinds={"pandas"}, io_manager_key="parquet_io_manager")
def interactions_df(ratings: pd.DataFrame) -> dg.Output[pd.DataFrame]:
    """Personalize Interactions: each rating is a 'review' event by USER_ID on ITEM_ID at
    TIMESTAMP, with the rating as EVENT_VALUE."""
    frame = ratings_to_interactions(ratings)
    return dg.Output(frame, metadata=table_metadata(frame, time_column="TIMESTAMP"))


@dg.asset(group_name="transform", kinds={"pandas"}, io_manager_key="parquet_io_manager")
def items_df(movies: pd.DataFrame) -> dg.Output[pd.DataFrame]:
    """Personalize Items: GENRES ('|'-separated, categorical) and YEAR, the title's trailing
    "(YYYY)" or the first year of a range; empty when the title has none."""
    frame = movies_to_items(movies)
    metadata = table_metadata(frame)
    metadata["titles_without_year"] = dg.MetadataValue.int(int(frame["YEAR"].isna().sum()))
    return dg.Output(frame, metadata=metadata)
