"""Entity churn for the interest tests' random worlds: how newborn entities get handles."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def newborn_handles(free: list[int], next_handle: int, born: int) -> tuple[NDArray[np.int64], int]:
    """Handles for ``born`` new entities, reusing freed ones first (as the world does, most
    recently freed first; ``free`` is popped), then fresh ones; and the next fresh handle."""
    handles = []
    for _ in range(born):
        if free:
            handles.append(free.pop())
        else:
            handles.append(next_handle)
            next_handle += 1
    return np.array(handles, dtype=np.int64), next_handle
