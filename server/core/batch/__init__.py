"""Batched stepping: many matches of one game definition through one pass of each system.

See :mod:`server.core.batch.stepper` for the contract and docs/architecture.md
("Many small matches") for the design and its figures.
"""
