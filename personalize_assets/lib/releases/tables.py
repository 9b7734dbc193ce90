"""The canonical MovieLens tables every release format is read into."""

import pyarrow as pa

RATINGS_SCHEMA = pa.schema(
    [("userId", pa.int32()), ("movieId", pa.int32()), ("rating", pa.float32()), ("timestamp", pa.int64())]
)
MOVIES_SCHEMA = pa.schema([("movieId", pa.int32()), ("title", pa.string()), ("genres", pa.string())])

# Column kinds for the line-by-line diagnosis of a file that failed to parse.
RATINGS_KINDS = [("userId", "int"), ("movieId", "int"), ("rating", "float"), ("timestamp", "int")]
MOVIES_KINDS = [("movieId", "int"), ("title", "str"), ("genres", "str")]
