"""The pure simulation core: numpy and the standard library only.

Nothing here imports asyncio, sockets, metrics libraries or reads a wall clock for
simulation time: time comes in as a tick number and a fixed ``dt``. Everything is
testable by calling functions (the Sans-I/O idea the websockets library uses).
"""
