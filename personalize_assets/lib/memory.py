"""Hand memory that a step freed back to the operating system, and build DataFrames on
Arrow's memory without copying it.

Both allocators keep freed memory for reuse: Arrow's (mimalloc) until asked, and glibc's
in its heaps. With every step in one process, the next step would otherwise start on top
of the last one's high-water mark.
"""

import ctypes
import ctypes.util
from functools import cache

import pandas as pd
import pyarrow as pa

_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
# Blocks of 4 MiB and more (upload parts, encoded CSV batches) come straight from the OS
# and go back when freed; glibc would otherwise raise this limit to 32 MiB after the first
# large block is freed and keep such blocks in its heap. Measured on 25M ratings: peak
# ~970 -> ~900 MB, for about 1 CPU-s of extra page faults.
_MMAP_THRESHOLD = 4 << 20


@cache
def _glibc():
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    if libc is None or not hasattr(libc, "malloc_trim"):  # not glibc
        return None
    libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
    return libc


def return_freed_memory() -> None:
    """Called at step boundaries. (No gc.collect(): with Dagster's object graph each one
    cost ~0.3 s, and the frames are freed by reference counting anyway.)"""
    pa.default_memory_pool().release_unused()
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def _arrow_backed(data_type: pa.DataType):
    # Keep Arrow memory as is (no copy, nullable ints); categories stay pandas categoricals.
    return None if pa.types.is_dictionary(data_type) else pd.ArrowDtype(data_type)


def frame_from_arrow(table: pa.Table) -> pd.DataFrame:
    """The table as a DataFrame on the same memory; the table is used up (self_destruct)
    and what the reading left over is given back."""
    frame = table.to_pandas(types_mapper=_arrow_backed, self_destruct=True, split_blocks=True)
    del table
    return_freed_memory()
    return frame
