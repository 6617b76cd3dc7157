"""Hosting: matches, their lifecycle, the manager and the tick runner."""
