"""Benchmarks: each module prints figures and ratios against a baseline run in the same process,
ending with one line of JSON. ``python -m bench`` (``make bench``) runs them all."""
