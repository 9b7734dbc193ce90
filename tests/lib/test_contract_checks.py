"""Each contract rule, directly on small frames: the rule passes good data and catches bad."""

import numpy as np
import pandas as pd
import pytest

from personalize_assets.lib import contract_checks as contract
from personalize_assets.lib.transforms import extract_year


def interactions(users=30, items=40, start=1_000_000_000, **overrides):
    rows = [(u, i, start + u * 1000 + i, "review", 4.0) for u in range(1, users + 1) for i in range(1, items + 1)]
    frame = pd.DataFrame(rows, columns=["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "EVENT_VALUE"])
    for column, values in overrides.items():
        frame[column] = values
    return frame


def test_good_interactions_pass_every_blocking_rule():
    frame = interactions()
    for rule in (contract.required_fields, contract.timestamps_are_epoch_seconds,
                 contract.event_values_are_numbers, contract.personalize_minimums, contract.duplicate_events):
        outcome = rule(frame)
        assert outcome.passed, (rule.__name__, outcome.description)


def test_missing_and_overlong_ids_are_counted_with_examples():
    frame = interactions()
    frame["USER_ID"] = frame["USER_ID"].astype(str)
    frame.loc[3, "USER_ID"] = " "
    frame.loc[7, "USER_ID"] = "u" * 257
    outcome = contract.required_fields(frame)
    assert not outcome.passed
    assert outcome.metadata["USER_ID_missing"] == 1 and outcome.metadata["USER_ID_longer_than_256"] == 1
    example_rows = [line.split("|")[1].strip() for line in outcome.metadata["examples"].splitlines()[2:]]
    assert example_rows == ["3", "7"]


def test_milliseconds_and_date_strings_are_caught():
    frame = interactions()
    millis = contract.timestamps_are_epoch_seconds(frame.assign(TIMESTAMP=frame["TIMESTAMP"] * 1000))
    assert not millis.passed and "milliseconds" in millis.description
    dates = contract.timestamps_are_epoch_seconds(frame.assign(TIMESTAMP="2018-09-24"))
    assert not dates.passed and "not integer epoch seconds" in dates.description
    future = contract.timestamps_are_epoch_seconds(frame, now=900_000_000)
    assert not future.passed and future.metadata["in_the_future"] == len(frame)


def test_event_values_must_be_finite_and_are_advised_on_scale():
    frame = interactions()
    frame.loc[0, "EVENT_VALUE"] = np.inf
    assert contract.event_values_are_numbers(frame).metadata["not_finite_or_missing"] == 1
    scale = contract.event_values_on_rating_scale(interactions(EVENT_VALUE=7.0))
    assert not scale.passed and scale.metadata["outside_scale"] > 0


def test_personalize_minimums():
    assert not contract.personalize_minimums(interactions(users=20, items=40)).passed  # 800 rows, 20 users
    few_repeaters = pd.concat([interactions(users=24, items=50),
                               interactions(users=100, items=1).assign(USER_ID=lambda f: f["USER_ID"] + 10_000)])
    outcome = contract.personalize_minimums(few_repeaters)
    assert not outcome.passed and "(needs 25)" in outcome.description and "needs 1%" not in outcome.description
    low_share = pd.concat([interactions(users=30, items=40),
                           interactions(users=4000, items=1).assign(USER_ID=lambda f: f["USER_ID"] + 10_000)])
    outcome = contract.personalize_minimums(low_share)
    assert not outcome.passed and "(needs 1%)" in outcome.description and "(needs 25)" not in outcome.description


def test_duplicates_are_warned_with_count():
    frame = interactions()
    doubled = pd.concat([frame, frame.iloc[:5]], ignore_index=True)
    outcome = contract.duplicate_events(doubled)
    assert not outcome.passed and outcome.metadata["duplicate_rows"] == 5


@pytest.mark.parametrize("ids", ["integers", "text"])
@pytest.mark.parametrize("rows_per_partition", [4_000_000, 100])  # one partition, and many
def test_duplicates_are_the_later_rows_of_an_exact_repeat(monkeypatch, ids, rows_per_partition):
    monkeypatch.setattr(contract, "ROWS_PER_PARTITION", rows_per_partition)
    monkeypatch.setattr(contract, "ROWS_PER_WINDOW", 70)  # windows that cut across everything
    frame = interactions()
    if ids == "text":
        frame = frame.assign(USER_ID="u" + frame["USER_ID"].astype(str), ITEM_ID="i" + frame["ITEM_ID"].astype(str))
    repeats = frame.iloc[[3, 500, 1199]]
    same_pair_later = frame.iloc[[10]].assign(TIMESTAMP=frame["TIMESTAMP"].iloc[10] + 60)  # not a duplicate
    doubled = pd.concat([frame, repeats, same_pair_later, repeats.iloc[[0]]], ignore_index=True)
    outcome = contract.duplicate_events(doubled)
    assert not outcome.passed and outcome.metadata["duplicate_rows"] == 4
    shown = [int(line.split("|")[1]) for line in outcome.metadata["examples"].splitlines()[2:]]
    assert shown == [1200, 1201, 1202, 1204]


def test_no_duplicates_across_many_partitions(monkeypatch):
    monkeypatch.setattr(contract, "ROWS_PER_PARTITION", 100)
    monkeypatch.setattr(contract, "ROWS_PER_WINDOW", 70)
    assert contract.duplicate_events(interactions()).passed


def test_suitability_reports_light_users():
    outcome = contract.suitability(interactions(users=60, items=10))
    assert not outcome.passed and outcome.metadata["share_users_under_24"] == 1.0
    assert "10-23" in outcome.metadata["distribution"]


def test_items_rules():
    items = pd.DataFrame({"ITEM_ID": [1, 2, 2, None], "GENRES": ["A|B", "A||B", "C", "x" * 1001],
                          "YEAR": pd.array([1995, 1700, None, 2000], dtype="Int16")})
    unique = contract.item_ids_unique(items)
    assert not unique.passed and unique.metadata["repeated_ids"] == 1 and unique.metadata["missing_ids"] == 1
    genres = contract.genres_well_formed(items)
    assert not genres.passed and genres.metadata["empty_parts"] == 1 and genres.metadata["parts_longer_than_1000"] == 1
    titles = pd.Series(["A (1995)", "B (1700)", "C", "D (2000–2001)"])
    year = contract.year_extraction(items, extract_year(titles).assign(TITLE=titles.to_numpy()), 0.5, this_year=2026)
    assert not year.passed and year.metadata["implausible_years"] == 1
    assert "- C" in year.metadata["titles_without_year"] and "D (2000–2001)" in year.metadata["titles_with_a_year_range"]


@pytest.mark.parametrize("undated, passes", [(3, True), (6, False)])
def test_some_undated_titles_pass_by_default_but_a_failing_year_rule_does_not(undated, passes):
    titles = pd.Series([f"Title {n}" if n < undated else f"Title {n} (1999)" for n in range(100)])
    years = extract_year(titles)
    items = pd.DataFrame({"ITEM_ID": range(100), "GENRES": "Drama", "YEAR": years["YEAR"]})
    outcome = contract.year_extraction(items, years.assign(TITLE=titles.to_numpy()), this_year=2026)
    assert outcome.passed is passes
    assert outcome.metadata["without_year"] == undated


def test_items_coverage():
    outcome = contract.items_have_metadata(interactions(items=5), pd.DataFrame({"ITEM_ID": [1, 2, 3]}))
    assert not outcome.passed and outcome.metadata["without_metadata"] == 2
