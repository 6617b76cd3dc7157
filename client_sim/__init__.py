"""Headless bot clients that speak the real Tickwire protocol."""
