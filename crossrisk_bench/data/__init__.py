"""What the tasks evaluate: items and their sources (embedded banks, public datasets, pinned hub
datasets, a user's JSONL) and the synthetic people behind the privacy items."""
