"""Durability: do defenses, and their side effects, survive fine-tuning attacks?

`attacks.toml` declares the attacks (`attacks`), `attack` trains one on one model,
`run` compares every attacked model with the base attacked the same way, and `summary` turns the
cells into worst cases, survival and fragility flags (pure)."""
