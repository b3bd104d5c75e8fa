"""`models.toml`: the base model and the defended models a run compares with it (registered
defenses by name, local checkpoints or adapters, or models served beside the base)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crossrisk_bench.defenses import get_defense
from crossrisk_bench.defenses.base import DefenseSpec, check_name
from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.files import read_toml
from crossrisk_bench.models.served import ServerOptions
from crossrisk_bench.risks import Risk

if TYPE_CHECKING:
    from crossrisk_bench.models.loader import ModelSpec

MODELS_KEYS = {"base", "defended"}
ENTRY_KEYS = {
    "defense",
    "name",
    "target",
    "checkpoint",
    "adapter",
    "description",
    "model",
    "base_url",
    "api_key_env",
    "base",
    "defenses",
}
SERVED_KEYS = ("model", "base_url", "api_key_env")


def models_base(path: str | Path) -> str | None:
    """The base model named by `models.toml` (`base = "..."`), used unless --crossrisk-model is given."""
    base = read_toml(Path(path), "models file").get("base")
    if base is not None and not isinstance(base, str):
        raise CrossriskError(f"{path}: 'base' must be a model name, directory or hub id (a string)")
    return base


def load_models(path: str | Path) -> tuple[DefenseSpec, ...]:
    """The defended models of `models.toml`: registered defenses by name, or external checkpoints."""
    path = Path(path)
    data = read_toml(path, "models file")
    unknown = sorted(set(data) - MODELS_KEYS)
    if unknown:
        raise CrossriskError(f"{path}: unknown key(s) {unknown}; allowed: {sorted(MODELS_KEYS)}")
    specs = []
    for n, entry in enumerate(data.get("defended", []), start=1):
        where = f"{path}: defended entry {n}"
        bad = sorted(set(entry) - ENTRY_KEYS)
        if bad:
            raise CrossriskError(f"{where}: unknown key(s) {bad}; allowed: {sorted(ENTRY_KEYS)}")
        entry_base = entry.get("base")
        if entry_base is not None and (not isinstance(entry_base, str) or not entry_base):
            raise CrossriskError(f"{where}: 'base' must be a model name, directory or hub id (a string)")
        if "defenses" in entry:
            specs.append(stack_spec(entry, where))
            continue
        if "defense" in entry:
            spec = get_defense(entry["defense"]).spec
            specs.append(replace(spec, params={**spec.params, "base": entry_base}) if entry_base else spec)
        elif "checkpoint" in entry or "adapter" in entry or "model" in entry:
            if "model" in entry and ("checkpoint" in entry or "adapter" in entry):
                raise CrossriskError(
                    f"{where}: give 'checkpoint'/'adapter' (a local model) or 'model' (a served one), not both"
                )
            for key in ("name", "target"):
                if key not in entry:
                    raise CrossriskError(f"{where}: an external checkpoint needs '{key}'")
            check_name(entry["name"], where)
            try:
                target = Risk(entry["target"])
            except ValueError:
                raise CrossriskError(f"{where}: target must be safety, fairness or privacy") from None
            specs.append(
                DefenseSpec(
                    entry["name"],
                    target,
                    "checkpoint",
                    entry.get("description", "external checkpoint"),
                    {k: entry[k] for k in ("checkpoint", "adapter", *SERVED_KEYS, "base") if k in entry},
                )
            )
        else:
            raise CrossriskError(
                f"{where}: give 'defense' (a registered name), 'checkpoint'/'adapter' (a local "
                "model) or 'model' with an optional 'base_url' (a served model)"
            )
    if not specs:
        raise CrossriskError(f"{path} lists no defended models")
    ids = [s.id for s in specs]
    if len(set(ids)) != len(ids):
        raise CrossriskError(f"{path}: defended models must have distinct names, got {ids}")
    return tuple(specs)


def stack_spec(entry: dict[str, Any], where: str) -> DefenseSpec:
    """`defenses = ["a", "b"]`: registered defenses applied in order (`defenses.stack`). The stack's
    target is its members' shared target, else the entry's `target`."""
    names = entry["defenses"]
    if not isinstance(names, list) or len(names) < 2 or not all(isinstance(n, str) for n in names):
        raise CrossriskError(f"{where}: 'defenses' must list two or more registered defense names")
    if len(set(names)) != len(names):
        raise CrossriskError(f"{where}: 'defenses' names a defense twice: {names}")
    bad = sorted(set(entry) - {"defenses", "name", "target", "description"})
    if bad:
        raise CrossriskError(f"{where}: a stack takes defenses, name, target and description, not {bad}")
    if "name" in entry:
        check_name(entry["name"], where)
    members = [get_defense(n).spec for n in names]  # an unknown name lists the known ones
    targets = {m.target for m in members}
    if "target" in entry:
        try:
            target = Risk(entry["target"])
        except ValueError:
            raise CrossriskError(f"{where}: target must be safety, fairness or privacy") from None
    elif len(targets) == 1:
        target = members[0].target
    else:
        raise CrossriskError(
            f"{where}: the stacked defenses aim at {sorted(t.value for t in targets)}; give the stack a 'target'"
        )
    return DefenseSpec(
        entry.get("name", "+".join(names)),
        target,
        "stack",
        entry.get("description", "stacked: " + ", then ".join(names)),
        {"defenses": list(names), "kinds": [m.kind for m in members]},
    )


def own_base(spec: DefenseSpec) -> str | None:
    """The base an entry of `models.toml` names for itself (`base = "..."`), or None: the run's base."""
    value = spec.params.get("base")
    return str(value) if value else None


def base_spec(run_base: ModelSpec, name: str) -> ModelSpec:
    """An entry's own base, loaded the way the run's base is (same backend, server, device and dtype)."""
    if run_base.backend == "hf":
        return run_base.with_model(name, None)
    return replace(run_base, model=name, adapter=None)


def checkpoint_spec(base: ModelSpec, params: Mapping[str, Any]) -> ModelSpec:
    """How to load an external checkpoint of `models.toml`: a local model or adapter loaded like
    the base, or (`model`, optional `base_url`/`api_key_env`) a model served beside the base."""
    if "model" not in params:
        if base.backend != "hf":
            raise CrossriskError(
                "a local checkpoint or adapter cannot be compared with a served base; "
                "serve it and give its 'model' name"
            )
        return base.with_model(params.get("checkpoint", base.model), params.get("adapter"))
    server = base.server
    if "base_url" in params or server is None:
        if "base_url" not in params:
            raise CrossriskError(f"served checkpoint {params['model']!r} needs a 'base_url' (the base is not served)")
        server = ServerOptions(
            params["base_url"],
            api_key_env=params.get("api_key_env"),
            **({"concurrency": server.concurrency, "timeout": server.timeout} if server else {}),
        )
    elif "api_key_env" in params:
        server = replace(server, api_key_env=params["api_key_env"])
    return replace(base, model=params["model"], adapter=None, backend="openai", server=server)
