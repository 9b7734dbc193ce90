"""The canonical MovieLens tables every release format is read into."""

import pyarrow as pa
import pyarrow.compute as pc

RATINGS_SCHEMA = pa.schema(
    [("userId", pa.int32()), ("movieId", pa.int32()), ("rating", pa.float32()), ("timestamp", pa.int64())]
)
MOVIES_SCHEMA = pa.schema([("movieId", pa.int32()), ("title", pa.string()), ("genres", pa.string())])

# Column kinds for the line-by-line diagnosis of a file that failed to parse.
RATINGS_KINDS = [("userId", "int"), ("movieId", "int"), ("rating", "float"), ("timestamp", "int")]
MOVIES_KINDS = [("movieId", "int"), ("title", "str"), ("genres", "str")]

INT32 = pa.int32()
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


def narrow_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """64-bit integer columns whose values fit in 32 bits, cast to 32 bits.

    Epoch seconds fit until 2038 and halve the largest column; milliseconds do not fit
    and stay 64-bit. Decided per batch so a whole table is never held twice.
    """
    for index, field in enumerate(batch.schema):
        if field.type != pa.int64():
            continue
        column = batch.column(index)
        bounds = pc.min_max(column).as_py()
        if bounds["min"] is None or (bounds["min"] >= _INT32_MIN and bounds["max"] <= _INT32_MAX):
            batch = batch.set_column(index, field.with_type(INT32), column.cast(INT32))
    return batch


def table_from_narrowed(batches: list[pa.RecordBatch], schema: pa.Schema) -> pa.Table:
    """One table from batches narrowed one by one: a column stays 32-bit only if every batch fit.

    `batches` is emptied as it is consumed, so each batch is released once converted.
    """
    if not batches:
        return schema.empty_table()
    wide = {name for batch in batches for name, type_ in zip(batch.schema.names, batch.schema.types)
            if type_ == pa.int64()}
    target = pa.schema([f.with_type(pa.int64()) if f.name in wide else f for f in batches[0].schema])
    unified = []
    while batches:
        batch = batches.pop(0)
        unified.append(batch if batch.schema.equals(target) else batch.cast(target))
    return pa.Table.from_batches(unified, schema=target)


def narrow_table(table: pa.Table) -> pa.Table:
    """narrow_batch for a table already in memory (the smaller legacy releases); a table
    without 64-bit columns (the CSV family narrows batch by batch while reading) is returned as is."""
    if pa.int64() not in table.schema.types:
        return table
    return table_from_narrowed([narrow_batch(b) for b in table.to_batches()], table.schema)
