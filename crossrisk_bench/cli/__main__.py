"""`python -m crossrisk_bench.cli`: the `crossrisk` command without its console script."""

import sys

from crossrisk_bench.cli import main

sys.exit(main())
