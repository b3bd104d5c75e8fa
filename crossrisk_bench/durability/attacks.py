"""Fine-tuning attacks as data (`fixtures/attacks.toml`): what to train on, how long, how fast,
over which seeds and learning rates.

The durability paper's first pitfall is a single configuration: a safeguard that survives one
learning rate and one seed can break at another (Qi et al. 2024). So an attack is a grid, and
every point of it (`AttackRun`) is trained and evaluated on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crossrisk_bench.durability.data import BUILDERS
from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.files import read_toml

KINDS = tuple(BUILDERS)
TOP_KEYS = {"seeds", "lrs", "attack"}
ATTACK_KEYS = {"name", "kind", "examples", "steps", "lrs", "seeds", "batch_size", "lora", "lora_r"}


@dataclass(frozen=True)
class AttackSpec:
    """One attack: its kind, data size and schedule, and the grid of learning rates and seeds."""

    name: str
    kind: str
    examples: int
    steps: int
    lrs: tuple[float, ...]
    seeds: tuple[int, ...]
    batch_size: int = 8
    lora: bool = True
    lora_r: int = 8

    def runs(self) -> list[AttackRun]:
        return [AttackRun(self, lr, seed) for lr in self.lrs for seed in self.seeds]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "examples": self.examples,
            "steps": self.steps,
            "lrs": list(self.lrs),
            "seeds": list(self.seeds),
            "batch_size": self.batch_size,
            "lora": self.lora,
            "lora_r": self.lora_r,
        }


@dataclass(frozen=True)
class AttackRun:
    """One point of an attack's grid: the attack at one learning rate and one seed."""

    attack: AttackSpec
    lr: float
    seed: int

    @property
    def id(self) -> str:
        return f"{self.attack.name}-lr{self.lr:g}-s{self.seed}"


def _positive_int(value: Any, key: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise CrossriskError(f"{where}: {key} must be a positive integer, got {value!r}")
    return value


def _grid(value: Any, key: str, where: str, *, number: type) -> tuple[Any, ...]:
    values = value if isinstance(value, list) else [value]
    ok = all(isinstance(v, (int, float) if number is float else int) and not isinstance(v, bool) for v in values)
    if not values or not ok or (number is float and any(v <= 0 for v in values)):
        kind = "positive numbers" if number is float else "integers"
        raise CrossriskError(f"{where}: {key} must be a non-empty list of {kind}, got {value!r}")
    return tuple(number(v) for v in values)


def attacks_from_mapping(data: dict[str, Any], where: str) -> tuple[AttackSpec, ...]:
    """Validate an attacks table; every error names the file, the entry and the key."""
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise CrossriskError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(TOP_KEYS)}")
    default_seeds = _grid(data.get("seeds", [0]), "seeds", where, number=int)
    default_lrs = _grid(data.get("lrs", [1e-4]), "lrs", where, number=float)
    specs = []
    for n, entry in enumerate(data.get("attack", []), start=1):
        at = f"{where}: attack {n}"
        bad = sorted(set(entry) - ATTACK_KEYS)
        if bad:
            raise CrossriskError(f"{at}: unknown key(s) {bad}; allowed: {sorted(ATTACK_KEYS)}")
        kind = entry.get("kind")
        if kind not in KINDS:
            raise CrossriskError(f"{at}: unknown attack kind {kind!r}; known kinds: {', '.join(KINDS)}")
        lora = entry.get("lora", True)
        if not isinstance(lora, bool):
            raise CrossriskError(f"{at}: lora must be true or false, got {lora!r}")
        specs.append(
            AttackSpec(
                name=str(entry.get("name", kind)),
                kind=kind,
                examples=_positive_int(entry.get("examples", 10), "examples", at),
                steps=_positive_int(entry.get("steps", 10), "steps", at),
                lrs=_grid(entry["lrs"], "lrs", at, number=float) if "lrs" in entry else default_lrs,
                seeds=_grid(entry["seeds"], "seeds", at, number=int) if "seeds" in entry else default_seeds,
                batch_size=_positive_int(entry.get("batch_size", 8), "batch_size", at),
                lora=lora,
                lora_r=_positive_int(entry.get("lora_r", 8), "lora_r", at),
            )
        )
    if not specs:
        raise CrossriskError(f"{where} declares no [[attack]]")
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise CrossriskError(f"{where}: attacks must have distinct names, got {names}")
    return tuple(specs)


def load_attacks(path: str | Path) -> tuple[AttackSpec, ...]:
    path = Path(path)
    return attacks_from_mapping(read_toml(path, "attacks file"), str(path))
