"""Turning world state into bytes: area-of-interest state deltas and lockstep frames."""
