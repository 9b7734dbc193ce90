"""The Personalize data contract as plain checks over DataFrames (no Dagster here).

Each check returns a CheckOutcome: passed or not, one line saying why, and the evidence
(counts, ranges, offending rows) to show in the Dagster UI. Rules marked "Personalize"
are what an import job enforces or requires; the rest is the AWS notebook's advice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .table_metadata import arrow_column, epoch_range, markdown_table

EPOCH_1990 = 631_152_000  # 1990-01-01T00:00:00Z
MAX_ID_LENGTH = 256  # Personalize: USER_ID / ITEM_ID at most 256 characters
MAX_CATEGORY_LENGTH = 1_000  # Personalize: each categorical value at most 1,000 characters
MIN_INTERACTIONS = 1_000  # Personalize: at least 1,000 interaction records
MIN_USERS_WITH_TWO = 25  # Personalize: at least 25 users with 2 or more interactions
MIN_SHARE_WITH_TWO = 0.01  # at least 1% of users with 2 or more interactions
FIRST_FILM_YEAR = 1874  # Passage de Vénus, the oldest film MovieLens knows
RATING_SCALE = (0.5, 5.0)
EXAMPLES = 10


@dataclass
class CheckOutcome:
    passed: bool
    description: str
    metadata: dict = field(default_factory=dict)


def _examples(frame: pd.DataFrame, mask) -> str:
    mask = np.asarray(mask, dtype=bool)
    rows = frame[mask].head(EXAMPLES)
    shown = rows.reset_index().rename(columns={"index": "row"})
    return markdown_table(shown, EXAMPLES)


def _blank(column: pd.Series) -> np.ndarray:
    """Null, or (for text) empty after trimming."""
    missing = np.array(column.isna().to_numpy(dtype=bool, na_value=True))  # writable copy
    if pd.api.types.is_string_dtype(column.dtype) or column.dtype == object:
        missing |= (column.astype("string").str.strip().str.len() == 0).to_numpy(dtype=bool, na_value=True)
    return missing


def _text_length(column: pd.Series) -> np.ndarray:
    return column.astype("string").str.len().to_numpy(dtype=np.int64, na_value=0)


# -- interactions ------------------------------------------------------------------------------

def required_fields(interactions: pd.DataFrame) -> CheckOutcome:
    """USER_ID, ITEM_ID, TIMESTAMP, EVENT_TYPE present in every row; IDs at most 256 chars."""
    counts, bad = {}, np.zeros(len(interactions), dtype=bool)
    for name in ("USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"):
        blank = _blank(interactions[name])
        counts[f"{name}_missing"] = int(blank.sum())
        bad |= blank
    for name in ("USER_ID", "ITEM_ID"):
        if pd.api.types.is_integer_dtype(interactions[name].dtype):
            counts[f"{name}_longer_than_{MAX_ID_LENGTH}"] = 0  # a 64-bit integer prints in at most 20 chars
            continue
        too_long = _text_length(interactions[name]) > MAX_ID_LENGTH
        counts[f"{name}_longer_than_{MAX_ID_LENGTH}"] = int(too_long.sum())
        bad |= too_long
    total = int(bad.sum())
    metadata = dict(counts, rows_failing=total)
    if total:
        metadata["examples"] = _examples(interactions, bad)
    summary = ", ".join(f"{k}={v}" for k, v in counts.items() if v)
    return CheckOutcome(total == 0, f"{total:,} rows lack a required field or have an over-long ID ({summary})"
                        if total else "every row has USER_ID, ITEM_ID, TIMESTAMP and EVENT_TYPE", metadata)


def timestamps_are_epoch_seconds(interactions: pd.DataFrame, now: float | None = None) -> CheckOutcome:
    """Integer Unix seconds between 1990 and now: catches milliseconds and date strings."""
    column = interactions["TIMESTAMP"]
    if not pd.api.types.is_integer_dtype(column.dtype):
        sample = column.dropna().astype(str).head(3).tolist()
        return CheckOutcome(False, f"TIMESTAMP is {column.dtype}, not integer epoch seconds (e.g. {sample}); "
                            "convert dates to Unix seconds", {"dtype": str(column.dtype), "sample": str(sample)})
    upper = int((now or time.time()) + 86_400)  # a day of clock skew
    # Arrow compares into bit masks: no 64-bit copy of the column is made.
    values = arrow_column(column)
    bounds = pc.min_max(values).as_py()
    too_old = pc.less(values, _scalar_for(values, EPOCH_1990)).fill_null(True)  # a missing time is not valid either
    future = pc.greater(values, _scalar_for(values, upper)).fill_null(False)
    metadata = {
        "range": epoch_range(column),
        "min": int(bounds["min"] or 0),
        "max": int(bounds["max"] or 0),
        "before_1990": int(pc.sum(too_old).as_py() or 0),
        "in_the_future": int(pc.sum(future).as_py() or 0),
    }
    count = metadata["before_1990"] + metadata["in_the_future"]
    if not count:
        return CheckOutcome(True, f"all timestamps within {metadata['range']}", metadata)
    metadata["examples"] = _examples(interactions, pc.or_(too_old, future).to_numpy(zero_copy_only=False))
    hint = " They look like milliseconds: divide by 1000." if metadata["max"] > 100_000_000_000 else ""
    return CheckOutcome(False, f"{count:,} timestamps are outside 1990-01-01 .. now ({metadata['range']}).{hint}",
                        metadata)


def _scalar_for(values, number):
    """`number` as a scalar of the column's type when it fits, so Arrow compares the column
    as it is instead of first widening a copy of it to 64 bits."""
    try:
        return pa.scalar(number, type=values.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError):
        return pa.scalar(number)


def event_values_are_numbers(interactions: pd.DataFrame) -> CheckOutcome:
    column = interactions["EVENT_VALUE"]
    if not pd.api.types.is_numeric_dtype(column.dtype):
        return CheckOutcome(False, f"EVENT_VALUE is {column.dtype}, not a number", {"dtype": str(column.dtype)})
    values = arrow_column(column)
    if pa.types.is_floating(values.type):
        bad = pc.invert(pc.is_finite(values).fill_null(False))
    else:  # whole numbers are finite; only a missing one is bad
        bad = pc.is_null(values)
    count = int(pc.sum(bad).as_py() or 0)
    metadata = {"not_finite_or_missing": count}
    if count:
        metadata["examples"] = _examples(interactions, bad.to_numpy(zero_copy_only=False))
        return CheckOutcome(False, f"{count:,} EVENT_VALUEs are missing, NaN or infinite", metadata)
    return CheckOutcome(True, "every EVENT_VALUE is a finite number", metadata)


def event_values_on_rating_scale(interactions: pd.DataFrame, scale=RATING_SCALE) -> CheckOutcome:
    values = arrow_column(interactions["EVENT_VALUE"])
    outside = pc.or_kleene(pc.less(values, _scalar_for(values, scale[0])),
                           pc.greater(values, _scalar_for(values, scale[1]))).fill_null(False)
    count = int(pc.sum(outside).as_py() or 0)
    counts = pc.value_counts(values).to_pylist()
    histogram = pd.DataFrame([(c["values"], c["counts"]) for c in counts], columns=["EVENT_VALUE", "rows"])
    histogram = histogram.sort_values("EVENT_VALUE").head(30)
    metadata = {"outside_scale": count, "scale": f"{scale[0]} .. {scale[1]}",
                "histogram": markdown_table(histogram, 30)}
    if count:
        metadata["examples"] = _examples(interactions, outside.to_numpy(zero_copy_only=False))
        return CheckOutcome(False, f"{count:,} EVENT_VALUEs are outside the rating scale "
                            f"{scale[0]}..{scale[1]}", metadata)
    return CheckOutcome(True, f"every EVENT_VALUE is within {scale[0]}..{scale[1]}", metadata)


def interactions_per_user(interactions: pd.DataFrame) -> pd.Series:
    """How many interactions each user has (computed once, shared by the rules that need it)."""
    return interactions["USER_ID"].value_counts(sort=False)


def personalize_minimums(interactions: pd.DataFrame, per_user: pd.Series | None = None) -> CheckOutcome:
    """What Personalize needs to train at all."""
    per_user = interactions_per_user(interactions) if per_user is None else per_user
    users = len(per_user)
    with_two = int((per_user >= 2).sum())
    share = with_two / users if users else 0.0
    metadata = {"interactions": len(interactions), "users": users, "users_with_2_or_more": with_two,
                "share_of_users_with_2_or_more": round(share, 4)}
    problems = []
    if len(interactions) < MIN_INTERACTIONS:
        problems.append(f"{len(interactions):,} interactions (needs {MIN_INTERACTIONS:,})")
    if with_two < MIN_USERS_WITH_TWO:
        problems.append(f"{with_two} users with 2+ interactions (needs {MIN_USERS_WITH_TWO})")
    if share < MIN_SHARE_WITH_TWO:
        problems.append(f"{share:.2%} of users with 2+ interactions (needs {MIN_SHARE_WITH_TWO:.0%})")
    if problems:
        return CheckOutcome(False, "too little data for Personalize: " + "; ".join(problems), metadata)
    return CheckOutcome(True, f"{len(interactions):,} interactions, {with_two:,} users with 2+", metadata)


ACTIVITY_BUCKETS = [1, 2, 5, 10, 24, 50, 100, 500]


def suitability(interactions: pd.DataFrame, min_users: int = 50, min_items: int = 100,
                max_share_light_users: float = 0.5, per_user: pd.Series | None = None) -> CheckOutcome:
    """The notebook's advice: enough users and items, and most users with 24+ interactions."""
    per_user = interactions_per_user(interactions) if per_user is None else per_user
    users, items = len(per_user), int(interactions["ITEM_ID"].nunique())
    light = float((per_user < 24).mean()) if users else 1.0
    bins = pd.cut(per_user.to_numpy(), bins=[*ACTIVITY_BUCKETS, np.inf], right=False,
                  labels=[f"{a}-{b - 1}" for a, b in zip(ACTIVITY_BUCKETS, ACTIVITY_BUCKETS[1:])] + [f"{ACTIVITY_BUCKETS[-1]}+"])
    distribution = pd.Series(bins).value_counts(sort=False).rename_axis("interactions per user").reset_index(name="users")
    metadata = {"users": users, "items": items, "share_users_under_24": round(light, 4),
                "distribution": markdown_table(distribution, 20)}
    problems = []
    if users < min_users:
        problems.append(f"only {users} users (advice: {min_users}+)")
    if items < min_items:
        problems.append(f"only {items} items (advice: {min_items}+)")
    if light > max_share_light_users:
        problems.append(f"{light:.0%} of users have fewer than 24 interactions")
    if problems:
        return CheckOutcome(False, "; ".join(problems), metadata)
    return CheckOutcome(True, f"{users:,} users, {items:,} items, {light:.0%} of users under 24 interactions", metadata)


EVENT_KEY = ["USER_ID", "ITEM_ID", "TIMESTAMP"]
ROWS_PER_WINDOW = 1_000_000
ROWS_PER_PARTITION = 4_000_000


_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F), np.uint64(0x165667B19E3779F9))


class _EventKeys:
    """Which partition a row falls in (by USER_ID alone) and a 64-bit key per event.

    Integer columns are mixed arithmetically; anything else is hashed by pandas. Equal
    events always get equal keys; the rare unequal ones sharing a key are sorted out by
    the exact comparison that follows.
    """

    def __init__(self, interactions: pd.DataFrame, partitions: int):
        self.frame, self.partitions = interactions, partitions
        self.integer = all(pd.api.types.is_integer_dtype(interactions[name].dtype) for name in EVENT_KEY)
        self.columns = [arrow_column(interactions[name]) for name in EVENT_KEY] if self.integer else None

    def _numbers(self, index: int, start: int, stop: int, chosen=None) -> np.ndarray:
        column = self.columns[index].slice(start, stop - start)
        values = (column.fill_null(0) if column.null_count else column).to_numpy()
        if chosen is not None:
            values = values[chosen]
        return values.astype(np.uint64)  # wraps negatives: only equality matters

    def partition(self, start: int, stop: int) -> np.ndarray:
        if self.integer:
            users = self._numbers(0, start, stop)
        else:
            users = pd.util.hash_array(self.frame["USER_ID"].iloc[start:stop].astype(str).to_numpy())
        return (users % np.uint64(self.partitions)).astype(np.uint8)

    def keys(self, start: int, stop: int, chosen: np.ndarray) -> np.ndarray:
        if not self.integer:
            rows = self.frame.iloc[start:stop].iloc[chosen][EVENT_KEY]
            return pd.util.hash_pandas_object(rows, index=False).to_numpy().view(np.int64)
        mixed = self._numbers(0, start, stop, chosen)
        mixed *= _MIX[0]
        for index in (1, 2):
            part = self._numbers(index, start, stop, chosen)
            part *= _MIX[index]
            mixed ^= part
        return mixed.view(np.int64)


def _candidate_rows(interactions: pd.DataFrame) -> np.ndarray:
    """Rows whose event key occurs more than once, found partition by partition.

    Rows are split by USER_ID into partitions of about 4 million rows, each sorted on its
    own, so memory stays at tens of bytes per row of one partition, never whole-column copies.
    """
    rows = len(interactions)
    partitions = max(1, min(255, -(-rows // ROWS_PER_PARTITION)))
    events = _EventKeys(interactions, partitions)
    windows = [(start, min(start + ROWS_PER_WINDOW, rows)) for start in range(0, rows, ROWS_PER_WINDOW)]
    partition_of = np.zeros(rows, dtype=np.uint8)
    if partitions > 1:
        for start, stop in windows:
            partition_of[start:stop] = events.partition(start, stop)
    found = []
    for partition in range(partitions):
        keys, positions = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
        for start, stop in windows:
            chosen = np.flatnonzero(partition_of[start:stop] == partition)
            if len(chosen):
                keys.append(events.keys(start, stop, chosen))
                positions.append(chosen + start)
        keys, positions = np.concatenate(keys), np.concatenate(positions)
        ordered = np.sort(keys)
        repeated = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
        del ordered
        if len(repeated):
            found.append(positions[np.isin(keys, repeated)])
    return np.sort(np.concatenate(found)) if found else np.empty(0, dtype=np.int64)


def duplicate_events(interactions: pd.DataFrame) -> CheckOutcome:
    """Rows repeating the same (USER_ID, ITEM_ID, TIMESTAMP); the first occurrence is kept."""
    candidates = _candidate_rows(interactions)
    duplicated = np.zeros(len(interactions), dtype=bool)
    if len(candidates):
        exact = interactions.iloc[candidates][EVENT_KEY].duplicated(keep="first").to_numpy()
        duplicated[candidates[exact]] = True
    count = int(duplicated.sum())
    metadata = {"duplicate_rows": count}
    if count:
        metadata["examples"] = _examples(interactions, duplicated)
        return CheckOutcome(False, f"{count:,} rows repeat an earlier (USER_ID, ITEM_ID, TIMESTAMP)", metadata)
    return CheckOutcome(True, "no repeated (USER_ID, ITEM_ID, TIMESTAMP)", metadata)


def items_have_metadata(interactions: pd.DataFrame, items: pd.DataFrame) -> CheckOutcome:
    interacted = pd.Index(interactions["ITEM_ID"].unique())
    missing = interacted.difference(pd.Index(items["ITEM_ID"]))
    metadata = {"items_interacted_with": len(interacted), "without_metadata": len(missing),
                "examples": ", ".join(str(v) for v in missing[:EXAMPLES]) or "(none)"}
    if len(missing):
        return CheckOutcome(False, f"{len(missing):,} interacted ITEM_IDs have no row in the items dataset", metadata)
    return CheckOutcome(True, "every interacted ITEM_ID has item metadata", metadata)


# -- items --------------------------------------------------------------------------------------

def item_ids_unique(items: pd.DataFrame) -> CheckOutcome:
    blank = _blank(items["ITEM_ID"])
    repeated = items["ITEM_ID"].duplicated(keep=False).to_numpy(dtype=bool) & ~blank
    metadata = {"items": len(items), "missing_ids": int(blank.sum()),
                "repeated_ids": int(items["ITEM_ID"][repeated].nunique())}
    bad = blank | repeated
    if bad.any():
        metadata["examples"] = _examples(items, bad)
        return CheckOutcome(False, f"{metadata['missing_ids']} items lack an ITEM_ID and "
                            f"{metadata['repeated_ids']} ITEM_IDs appear more than once", metadata)
    return CheckOutcome(True, f"{len(items):,} distinct ITEM_IDs", metadata)


def genres_well_formed(items: pd.DataFrame) -> CheckOutcome:
    """GENRES present, '|'-separated without empty parts, each part at most 1,000 chars."""
    genres = items["GENRES"].astype("string")
    missing = _blank(items["GENRES"])
    parts = genres.fillna("").str.split("|")
    empty_part = parts.map(lambda values: any(not v.strip() for v in values)).to_numpy(dtype=bool) & ~missing
    too_long = parts.map(lambda values: max(len(v) for v in values)).to_numpy() > MAX_CATEGORY_LENGTH
    bad = missing | empty_part | too_long
    distinct = pd.Series([g for values in parts for g in values if g]).value_counts()
    metadata = {"missing": int(missing.sum()), "empty_parts": int(empty_part.sum()),
                f"parts_longer_than_{MAX_CATEGORY_LENGTH}": int(too_long.sum()), "distinct_genres": len(distinct),
                "genres": markdown_table(distinct.rename_axis("genre").reset_index(name="items"), 40)}
    if bad.any():
        metadata["examples"] = _examples(items, bad)
        return CheckOutcome(False, f"{int(bad.sum()):,} GENRES values are missing or badly separated", metadata)
    return CheckOutcome(True, f"{len(distinct)} distinct genres, all well formed", metadata)


def year_extraction(items: pd.DataFrame, titles: pd.DataFrame, max_share_without_year: float = 0.05,
                    this_year: int | None = None) -> CheckOutcome:
    """Years plausible (1874 .. next year) and few titles without one.

    `titles` has TITLE and year_source ("trailing", "range", "none") aligned with items.
    """
    latest = (this_year or datetime.now(timezone.utc).year) + 1
    years = items["YEAR"].to_numpy(dtype=np.float64, na_value=np.nan)
    implausible = ~np.isnan(years) & ((years < FIRST_FILM_YEAR) | (years > latest))
    without = titles["year_source"].to_numpy() == "none"
    not_trailing = titles["year_source"].to_numpy() == "range"
    share = float(without.mean()) if len(without) else 0.0
    metadata = {
        "titles": len(items), "without_year": int(without.sum()), "share_without_year": round(share, 4),
        "threshold": max_share_without_year, "implausible_years": int(implausible.sum()),
        "year_range": f"{int(np.nanmin(years))} .. {int(np.nanmax(years))}" if (~np.isnan(years)).any() else "(none)",
        "titles_without_year": "\n".join(f"- {t}" for t in titles["TITLE"][without].head(50)) or "(none)",
        "titles_with_a_year_range": "\n".join(f"- {t}" for t in titles["TITLE"][not_trailing].head(50)) or "(none)",
    }
    problems = []
    if implausible.any():
        problems.append(f"{int(implausible.sum())} years outside {FIRST_FILM_YEAR}..{latest}")
        metadata["examples"] = _examples(items.assign(TITLE=titles["TITLE"].to_numpy()), implausible)
    if share > max_share_without_year:
        problems.append(f"{share:.2%} of titles have no year (threshold {max_share_without_year:.2%})")
    if problems:
        return CheckOutcome(False, "; ".join(problems), metadata)
    return CheckOutcome(True, f"{int(without.sum())} titles without a year ({share:.2%})", metadata)
