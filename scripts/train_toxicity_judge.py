"""Train the MiniLM toxicity classifier on ToxiGen's curated statements and write its weights.

Usage: .venv/bin/python scripts/train_toxicity_judge.py ../shared/data/toxigen/toxigen_demonstrations.csv

Writes fixtures/judges/toxicity_minilm_logreg.json: 384 logistic-regression weights and a bias
over the embedded MiniLM's sentence embeddings (not the data), with the data file's hash and
the leave-one-group-out accuracy (each of ToxiGen's target groups held out in turn). Deterministic.
"""

from __future__ import annotations

import sys
from pathlib import Path

from crossrisk_bench.judges.toxicity import TOXICITY_WEIGHTS, train_toxicity_classifier

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    record = train_toxicity_classifier(Path(sys.argv[1]), TOXICITY_WEIGHTS)
    print(
        f"wrote {TOXICITY_WEIGHTS}: leave-one-group-out accuracy {record['held_out_accuracy']:.3f} "
        f"(lexicon {record['lexicon_accuracy']:.3f}) on {record['rows']} statements"
    )
