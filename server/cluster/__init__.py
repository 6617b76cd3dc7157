"""Running several nodes: the worker supervisor (``--workers``) and node identity."""
