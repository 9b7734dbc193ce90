"""MovieLens tables -> Personalize datasets, as plain pandas functions (no Dagster)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from .personalize_schema import INTERACTIONS, ITEMS

# A title's year is its trailing "(YYYY)", or the first year of a trailing range such as
# "(2006–2007)" or "(2007-)". A four-digit number elsewhere ("1984", "Blade Runner 2049")
# is part of the name, not a year (the notebook's `.*(\d{4})` took those).
YEAR_PATTERN = r"\((?P<year>\d{4})(?P<range>\s*[-–—]\s*(?:\d{4})?\s*)?\)\s*$"  # dash, en dash, em dash


def ratings_to_interactions(ratings: pd.DataFrame, event_type: str = "review") -> pd.DataFrame:
    """Each rating becomes one Personalize interaction of `event_type`, the rating its value."""
    rows = len(ratings)
    frame = pd.DataFrame(
        {
            "USER_ID": ratings["userId"],
            "ITEM_ID": ratings["movieId"],
            "TIMESTAMP": ratings["timestamp"],
            # One category: a byte a row instead of a string a row.
            "EVENT_TYPE": pd.Categorical.from_codes(np.zeros(rows, dtype=np.int8), categories=[event_type]),
            "EVENT_VALUE": ratings["rating"],
        }
    )
    return frame[INTERACTIONS.columns]


def extract_year(titles: pd.Series) -> pd.DataFrame:
    """YEAR (nullable int) and how it was found: "trailing", "range" or "none"."""
    found = titles.astype(pd.ArrowDtype(pa.string())).str.extract(YEAR_PATTERN)
    year = found["year"].astype(pd.ArrowDtype(pa.int16()))
    # An optional group that did not take part comes back empty or missing, by backend.
    in_range = found["range"].fillna("").astype(str).str.len().to_numpy() > 0
    how = np.where(found["year"].isna().to_numpy(), "none", np.where(in_range, "range", "trailing"))
    return pd.DataFrame({"YEAR": year, "year_source": how}, index=titles.index)


def movies_to_items(movies: pd.DataFrame) -> pd.DataFrame:
    """Item metadata: the genres ('|'-separated, multi-categorical) and the release year."""
    frame = pd.DataFrame(
        {"ITEM_ID": movies["movieId"], "GENRES": movies["genres"], "YEAR": extract_year(movies["title"])["YEAR"]}
    )
    return frame[ITEMS.columns]
