"""The pure transforms: MovieLens frames -> Personalize frames, and the year rule."""

import pandas as pd
import pytest

from personalize_assets.lib.personalize_schema import INTERACTIONS, ITEMS
from personalize_assets.lib.transforms import extract_year, movies_to_items, ratings_to_interactions


@pytest.mark.parametrize(
    "title, year, source",
    [
        ("Toy Story (1995)", 1995, "trailing"),
        ("Death Note: Desu nôto (2006–2007)", 2006, "range"),  # en dash
        ("Some Series (1999-2001)", 1999, "range"),
        ("Open Run (2007- )", 2007, "range"),
        ("Cosmos (1980) ", 1980, "trailing"),  # trailing space
        ("Blade Runner 2049 (2017)", 2017, "trailing"),  # digits in the name are not the year
        ("1984 (1956)", 1956, "trailing"),
        ("Babylon 5", None, "none"),
        ("Generation Iron 2", None, "none"),
        ("2001: A Space Odyssey", None, "none"),  # the notebook's .*(\d{4}) would say 2001
        ("Film (1984) (a.k.a. Other)", None, "none"),  # a year that is not trailing is not taken
    ],
)
def test_year_is_the_trailing_year_or_the_first_of_a_range(title, year, source):
    found = extract_year(pd.Series([title]))
    value = found["YEAR"].iloc[0]
    assert (pd.isna(value) and year is None) or value == year
    assert found["year_source"].iloc[0] == source


def test_ratings_become_review_events_in_schema_order():
    ratings = pd.DataFrame({"userId": [1, 1, 2], "movieId": [10, 20, 10], "rating": [4.0, 0.5, 5.0],
                            "timestamp": [964982703, 964981247, 1537799250]})
    interactions = ratings_to_interactions(ratings)
    assert list(interactions.columns) == INTERACTIONS.columns
    assert interactions["USER_ID"].tolist() == [1, 1, 2]
    assert interactions["ITEM_ID"].tolist() == [10, 20, 10]
    assert interactions["EVENT_VALUE"].tolist() == [4.0, 0.5, 5.0]
    assert interactions["TIMESTAMP"].tolist() == [964982703, 964981247, 1537799250]
    assert interactions["EVENT_TYPE"].astype(str).tolist() == ["review"] * 3


def test_movies_become_items_with_genres_kept_and_title_dropped():
    movies = pd.DataFrame({"movieId": [1, 2], "title": ["Toy Story (1995)", "Babylon 5"],
                           "genres": ["Adventure|Animation|Children", "(no genres listed)"]})
    items = movies_to_items(movies)
    assert list(items.columns) == ITEMS.columns
    assert items["GENRES"].tolist() == ["Adventure|Animation|Children", "(no genres listed)"]
    assert items["YEAR"].iloc[0] == 1995 and pd.isna(items["YEAR"].iloc[1])
