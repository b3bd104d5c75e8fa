"""From two task results to a release verdict: the paired statistics, the policy's gate, the
judge-error correction, power and planning, stacked defenses, and the simulation that checks
the whole matrix's calibration."""
