"""Benchmarks: `make bench` or `python -m bench [name ...]`. They print figures, not pass/fail."""
