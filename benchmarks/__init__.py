"""Reproducible measurements: ``python -m benchmarks <command> --help``."""
