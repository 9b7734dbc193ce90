"""What the Dagster UI shows about a table: schema, preview, statistics, time range."""

from __future__ import annotations

from datetime import datetime, timezone

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def markdown_table(frame: pd.DataFrame, max_rows: int = 10) -> str:
    """A small markdown table (pandas' to_markdown needs an extra package)."""
    shown = frame.head(max_rows)
    header = "| " + " | ".join(str(c) for c in shown.columns) + " |"
    lines = [header, "|" + "---|" * len(shown.columns)]
    for _, row in shown.iterrows():
        cells = ["" if pd.isna(v) else str(v).replace("|", "\\|") for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def column_schema(frame: pd.DataFrame) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[dg.TableColumn(name=str(name), type=str(dtype)) for name, dtype in frame.dtypes.items()]
    )


QUANTILE_SAMPLE = 200_000


def arrow_column(column: pd.Series) -> pa.ChunkedArray:
    """The column as Arrow, without a copy when it is Arrow-backed already."""
    return pa.Table.from_pandas(column.to_frame(), preserve_index=False).column(0)


def describe_markdown(frame: pd.DataFrame) -> str:
    """describe()-style statistics: exact count/mean/std/min/max by Arrow without copying the
    columns; quartiles from an evenly spaced sample (exact up to 200,000 rows)."""
    numeric = [name for name, dtype in frame.dtypes.items() if pd.api.types.is_numeric_dtype(dtype)]
    if not numeric:
        return "(no numeric columns)"
    rows = []
    for name in numeric:
        column = arrow_column(frame[name])
        if pa.types.is_dictionary(column.type):
            continue
        low_high = pc.min_max(column).as_py()
        step = max(1, len(column) // QUANTILE_SAMPLE)
        sample = column.take(pa.array(range(0, len(column), step))) if step > 1 else column
        quartiles = pc.quantile(sample, q=[0.25, 0.5, 0.75]).to_pylist() if len(column) else [None] * 3
        rows.append({
            "column": name, "count": len(column) - column.null_count,
            "mean": pc.mean(column).as_py(), "std": pc.stddev(column, ddof=1).as_py(),
            "min": low_high["min"], "25%": quartiles[0], "50%": quartiles[1], "75%": quartiles[2],
            "max": low_high["max"],
        })
    stats = pd.DataFrame(rows).round(3)
    return markdown_table(stats, max_rows=len(stats))


def epoch_range(seconds: pd.Series) -> str:
    """'1996-03-29 18:36:55 UTC .. 2018-09-24 14:27:30 UTC' for epoch seconds."""
    if seconds.empty or seconds.isna().all():
        return "(empty)"
    low, high = int(seconds.min()), int(seconds.max())
    fmt = "%Y-%m-%d %H:%M:%S UTC"
    try:
        return (f"{datetime.fromtimestamp(low, timezone.utc).strftime(fmt)} .. "
                f"{datetime.fromtimestamp(high, timezone.utc).strftime(fmt)}")
    except (OverflowError, OSError, ValueError):
        return f"{low} .. {high} (not valid epoch seconds)"


def table_metadata(frame: pd.DataFrame, time_column: str | None = None) -> dict:
    """The standard metadata every table asset in the graph reports."""
    metadata = {
        "dagster/row_count": dg.MetadataValue.int(len(frame)),
        "dagster/column_schema": column_schema(frame),
        "preview": dg.MetadataValue.md(markdown_table(frame)),
        "statistics": dg.MetadataValue.md(describe_markdown(frame)),
        "memory_mb": dg.MetadataValue.float(round(float(frame.memory_usage(deep=False).sum()) / 1e6, 1)),
    }
    if time_column is not None:
        metadata["time_range"] = dg.MetadataValue.text(epoch_range(frame[time_column]))
    return metadata
