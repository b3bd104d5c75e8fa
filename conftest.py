"""Root conftest: intentionally thin. The installed plugin (`crossrisk_bench.plugin`, entry point
`pytest11`) provides the options, markers and fixtures for `benchmarks/` and `tests/`."""
