"""Match recordings: a versioned file of inputs, frames and checkpoints, and its replayer.

``format`` holds the file layout (docs/replays.md), ``recorder`` writes recordings from a
live match, ``replayer`` re-simulates them (verify, bisect, export), and ``__main__`` is
the ``python -m server.replay FILE info|verify|bisect|export`` tool.
"""
