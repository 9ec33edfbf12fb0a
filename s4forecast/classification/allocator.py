"""The memory allocator under a long classification run on a CPU: which one serves ``malloc``, glibc's
heap-growth limit, and a hint of a faster one.

Batches of varying lengths (ListOps, Text) are large blocks of ever-changing sizes. glibc keeps freed
blocks in a heap that fragments (a ListOps run at the paper's size grew to 11.8 GB resident); with its mmap
threshold lowered (:func:`limit_heap_growth`) every large block is a fresh mapping that the kernel faults in
and zeroes, 37-44% of a step's CPU time (25-39% with glibc's huge pages). tcmalloc, preloaded, keeps freed
blocks by size class for the next batch: the same ListOps steps ran 1.5x faster than under glibc with huge
pages, with 2% of the CPU time in the kernel (``benchmarks/results/classifier_cost_alloc_*.md``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import sys
from pathlib import Path

MMAP_THRESHOLD = 256 * 1024  # bytes: larger blocks are mapped and unmapped on their own (limit_heap_growth)
PROC_MAPS = Path("/proc/self/maps")  # the libraries mapped into this process
PRELOADED = ("tcmalloc", "jemalloc")  # allocators that replace glibc's malloc when preloaded
TRANSPARENT_HUGE_PAGES = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def malloc_library() -> str:
    """The allocator that serves this process's ``malloc``: ``"tcmalloc"`` or ``"jemalloc"`` where one is
    mapped into the process (``LD_PRELOAD``), else the C library's name (``"glibc"``; ``""`` where unknown).

    Returns
    -------
    str
    """
    if PROC_MAPS.exists():
        maps = PROC_MAPS.read_text()
        for name in PRELOADED:
            if f"lib{name}" in maps:
                return name
    return platform.libc_ver()[0]


def limit_heap_growth() -> bool:
    """Under glibc's malloc, serve every allocation above :data:`MMAP_THRESHOLD` by its own mapping, returned
    to the system when freed (``mallopt(M_MMAP_THRESHOLD)``; glibc otherwise raises its threshold as blocks
    are freed and keeps them in the heap): a ListOps run at the paper's size on one CPU thread stayed within
    3.6 GB resident with it instead of growing to 11.8 GB. Returns whether it was set (False under another
    allocator).

    Returns
    -------
    bool
    """
    if not sys.platform.startswith("linux") or malloc_library() != "glibc" or not (name := ctypes.util.find_library("c")):
        return False
    try:
        return ctypes.CDLL(name).mallopt(-3, MMAP_THRESHOLD) == 1  # -3: M_MMAP_THRESHOLD (malloc.h)
    except (OSError, AttributeError):  # a libc without mallopt
        return False


def allocator_hint() -> str | None:
    """A one-line hint where this process runs under glibc's malloc and a faster setting is at hand: preload
    tcmalloc where the system has it; else ``GLIBC_TUNABLES=glibc.malloc.hugetlb=1`` where that applies and
    is unset (glibc >= 2.35, the kernel's transparent huge pages not ``never``). Both are read at process
    start, so the process cannot set them for itself. None where neither applies.

    Returns
    -------
    str or None
    """
    name, version = platform.libc_ver()
    if malloc_library() != "glibc" or name != "glibc":
        return None
    if tcmalloc := ctypes.util.find_library("tcmalloc_minimal") or ctypes.util.find_library("tcmalloc"):
        return (
            f"hint: LD_PRELOAD={tcmalloc} in the environment serves malloc by tcmalloc, which keeps freed blocks "
            "for the next batch: CPU steps over long sequences of varying lengths run faster"
        )
    if "glibc.malloc.hugetlb" in os.environ.get("GLIBC_TUNABLES", ""):
        return None
    if tuple(int(v) for v in version.split(".")[:2]) < (2, 35) or not TRANSPARENT_HUGE_PAGES.exists():
        return None
    if "[never]" in TRANSPARENT_HUGE_PAGES.read_text():
        return None
    return (
        "hint: GLIBC_TUNABLES=glibc.malloc.hugetlb=1 in the environment lets malloc use transparent huge pages, "
        "which makes CPU steps over long sequences faster (less time faulting in fresh pages)"
    )
