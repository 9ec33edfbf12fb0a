"""Tests of the benchmark harness (benchmarks/): run by the default test command with the library's tests."""
