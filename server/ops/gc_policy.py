"""The server process's garbage-collector policy: fewer, cheaper collections.

CPython collects generation 0 every 700 net allocations of tracked objects and walks
every tracked object in a full (generation 2) collection. Under load a server allocates
a few containers per message (tens of thousands of messages a second), so young
collections run dozens of times a second and promote whatever is briefly alive at that
instant (frames in flight, decoded bodies) into the old generations, which then fill and
trigger full collections: measured with ``gc.callbacks`` under ``python -m benchmarks e2e
--matches 100 --players-per-match 8 --entities-per-match 50`` (Intel Xeon 2-core VM),
six full collections in 35 s, 25-37 ms each, those in the steady window freeing nothing.
Such a stall starts every match's tick late at once.

:func:`apply_gc_policy` is called once by the process owner (``python -m server``)
when the server is built (definitions loaded, host and gateway made) and before it
starts: before its socket listens and its first matches are created.

- the young threshold is raised (``young_threshold`` allocations, default 20000 from
  ``ServerConfig.gc_young_threshold``; 0 keeps CPython's 700), so far fewer short-lived
  objects are caught alive and promoted;
- one collection, then :func:`gc.freeze` moves every survivor (modules, classes,
  functions, definitions, the config: things that live for the whole run) to the
  permanent generation, which no later collection walks.

Nothing made at run time is frozen, so cycles among matches, seats and frames are still
found and freed. Same workload and machine, two interleaved runs each side: no full
collection in the steady window (there were 2-3, 30-34 ms each), the bots' state age
p99 37.8 and 29.2 -> 15.9 and 14.9 ms, CPU unchanged within the machine's noise, RSS +4
MB (docs/benchmarks.md, "Garbage collection").
"""

from __future__ import annotations

import gc


def apply_gc_policy(young_threshold: int) -> int:
    """Raise the young threshold (unless ``young_threshold`` is 0), collect once and
    freeze the survivors; returns how many objects are frozen."""
    if young_threshold < 0:
        raise ValueError(f"gc_young_threshold must be >= 0, not {young_threshold}")
    if young_threshold:
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(young_threshold, older, oldest)
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
