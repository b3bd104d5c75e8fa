"""From two task results to a release verdict: the policy's gate on a prepared cell, pairing
and clustering, the judge-error correction, power and planning, stacked defenses, and the
simulation that checks the whole matrix's calibration (the statistics are `stats.py`)."""
