"""Benchmarks: each prints its figures and records them as a table in BENCHMARKS.md (never timed asserts)."""
