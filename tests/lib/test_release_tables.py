"""Compact integer columns: 64-bit columns are held in 32 bits only when every value fits."""

import pyarrow as pa

from personalize_assets.lib.releases.tables import narrow_batch, narrow_table, table_from_narrowed

SECONDS = [838_985_046, 1_574_327_703]
MILLISECONDS = [838_985_046_000, 1_574_327_703_000]


def batch(stamps):
    return pa.record_batch({"userId": pa.array([1] * len(stamps), pa.int32()),
                            "timestamp": pa.array(stamps, pa.int64())})


def test_epoch_seconds_are_held_in_32_bits_with_the_same_values():
    table = narrow_table(pa.Table.from_batches([batch(SECONDS)]))
    assert table.schema.field("timestamp").type == pa.int32()
    assert table.column("timestamp").to_pylist() == SECONDS
    assert table.schema.field("userId").type == pa.int32()


def test_milliseconds_stay_64_bit():
    narrowed = narrow_batch(batch(MILLISECONDS))
    assert narrowed.schema.field("timestamp").type == pa.int64()
    assert narrowed.column(1).to_pylist() == MILLISECONDS


def test_one_batch_that_does_not_fit_keeps_the_whole_column_64_bit():
    batches = [narrow_batch(batch(SECONDS)), narrow_batch(batch(MILLISECONDS)), narrow_batch(batch(SECONDS))]
    schema = batches[0].schema
    table = table_from_narrowed(batches, schema)
    assert table.schema.field("timestamp").type == pa.int64()
    assert table.column("timestamp").to_pylist() == SECONDS + MILLISECONDS + SECONDS
    assert batches == []  # consumed, so each batch could be released as it was converted


def test_no_batches_give_an_empty_table_of_the_schema():
    schema = batch(SECONDS).schema
    assert table_from_narrowed([], schema).schema == schema
    assert table_from_narrowed([], schema).num_rows == 0
