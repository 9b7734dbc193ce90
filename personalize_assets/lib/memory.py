"""Hand memory that a step freed back to the operating system.

Both allocators keep freed memory for reuse: Arrow's (mimalloc) until asked, and glibc's
in per-thread heaps. With every step in one process, the next step would otherwise start
on top of the last one's high-water mark.
"""

import ctypes
import ctypes.util
import gc

import pyarrow as pa

_M_MMAP_THRESHOLD = -3


def _libc():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


def return_freed_memory() -> None:
    gc.collect()
    pa.default_memory_pool().release_unused()
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):  # glibc only
        # Blocks over 1 MiB come straight from the OS and go back when freed (glibc would
        # otherwise raise that limit to 32 MiB after the first large block is freed).
        libc.mallopt(_M_MMAP_THRESHOLD, 1 << 20)
        libc.malloc_trim(0)
