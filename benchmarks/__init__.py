"""The benchmark suite (shipped in the wheel as `crossrisk_bench.benchmarks`: `pytest --pyargs crossrisk_bench.benchmarks`)."""
