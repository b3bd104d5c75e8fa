"""Test support shipped with the package: what tests/ and benchmarks/ (separate rootdirs, so
neither can import the other's modules) both need. Nothing in the package imports it."""
