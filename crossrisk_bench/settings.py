"""The run's settings: what the command line, the models file and the policy file said, read and
validated once (`Settings.from_options`), so every later step reads typed values and a user
error is found before any model loads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crossrisk_bench.config.options import cache_dir_from_options, flag, model_spec_from_options
from crossrisk_bench.errors import CrossriskError

if TYPE_CHECKING:
    from crossrisk_bench.config.policy import Policy
    from crossrisk_bench.data.items import Item
    from crossrisk_bench.defenses.base import DefenseSpec
    from crossrisk_bench.durability.attacks import AttackSpec
    from crossrisk_bench.judges.select import JudgeChoice
    from crossrisk_bench.models.loader import ModelSpec
    from crossrisk_bench.results import RunDocument

ALLOW_WEAKER_RELEASE = flag("allow-weaker-release")


@dataclass(frozen=True)
class Settings:
    """Everything the command line said about this run, validated."""

    model: ModelSpec
    cache_dir: Path
    use_cache: bool
    limit: int | None  # items per task, from --crossrisk-limit or the profile
    profile: str
    data: tuple[tuple[str, str], ...]  # (dataset name, path) pairs replacing embedded items
    report_dir: Path | None
    compare: RunDocument | None  # the previous release's results document
    models_file: Path
    policy_file: Path
    policy: Policy
    defenses: tuple[DefenseSpec, ...]  # each defended model, in models-file order
    seed: int
    batch_size: int
    threads: int | None
    on_inconclusive: str = "warn"  # the policy's choice, else the profile's
    judges: JudgeChoice | None = None  # which refusal and fulfilment judges score the run
    left_out: tuple[str, ...] = ()  # weights defenses left out because the base is served
    attacks: tuple[AttackSpec, ...] = ()  # each fine-tuning attack (--crossrisk-attacks)
    weakened: tuple[str, ...] = ()  # what weakens a floor profile (allowed by --crossrisk-allow-weaker-release)
    warnings: bool = False  # one PytestWarning per inconclusive cell (--crossrisk-warnings)

    @classmethod
    def from_options(cls, option: Any, *, durability_selected: bool = False) -> Settings:
        """Read the models file, the policy and the user's items named by pytest's (or the
        command's) options; raise one `CrossriskError` for the first thing that is wrong.
        `durability_selected`: the run selects durability tests, which need the attacks file."""
        from crossrisk_bench.config.models_file import base_spec, load_models, models_base, own_base
        from crossrisk_bench.config.policy import load_policy
        from crossrisk_bench.config.profiles import get_profile, items_limit, weakenings
        from crossrisk_bench.data.datasets import parse_data_option
        from crossrisk_bench.judges.select import parse_judge_options
        from crossrisk_bench.models.loader import DEFAULT_MODEL, resolve
        from crossrisk_bench.paths import FIXTURES
        from crossrisk_bench.tasks import TASKS

        models_file = Path(option.crossrisk_models or FIXTURES / "models.toml").expanduser()
        model = option.crossrisk_model or models_base(models_file) or DEFAULT_MODEL
        spec = model_spec_from_options(option, model)
        resolve(spec)
        limit = items_limit(option.crossrisk_profile, option.crossrisk_limit)
        data = tuple(parse_data_option(value, TASKS.names()) for value in option.crossrisk_data)
        policy_file = Path(option.crossrisk_policy or FIXTURES / "policy.toml").expanduser()
        defenses = load_models(models_file)
        for d in defenses:  # an entry's own base that cannot be found stops the run once, here
            if own_base(d):
                try:
                    resolve(base_spec(spec, own_base(d)))
                except CrossriskError as exc:
                    raise CrossriskError(f"{models_file}: the base of {d.name!r}: {exc}") from None
        left_out: tuple[str, ...] = ()
        if spec.backend != "hf":
            needs_weights = {d.name for d in defenses if d.kind == "weights" or "weights" in d.params.get("kinds", ())}
            left_out = tuple(d.name for d in defenses if d.name in needs_weights)
            defenses = tuple(d for d in defenses if d.name not in needs_weights)
            if not defenses:
                raise CrossriskError(
                    f"{models_file} lists only weights defenses, which need the model's weights; "
                    "a served base takes prompt and filter defenses and served checkpoints "
                    "(models.toml entries with base_url and model)"
                )
        policy = load_policy(policy_file, known_tasks=TASKS.names())
        _check_user_items(data, policy)
        attacks: tuple[AttackSpec, ...] = ()
        if option.crossrisk_attacks or durability_selected:
            from crossrisk_bench.durability.attacks import load_attacks

            attacks = load_attacks(Path(option.crossrisk_attacks or FIXTURES / "attacks.toml").expanduser())
        weakened = weakenings(option.crossrisk_profile, option.crossrisk_limit, policy.on_inconclusive)
        if weakened and not option.crossrisk_allow_weaker_release:
            raise CrossriskError(
                f"the {option.crossrisk_profile} profile is a floor and {' and '.join(weakened)} would weaken it; "
                f"drop it, or pass {ALLOW_WEAKER_RELEASE} (the report then says so)"
            )
        judges = parse_judge_options(
            option.crossrisk_judge, option.crossrisk_judge_model, option.crossrisk_judge_validation
        )
        compare = None
        if option.crossrisk_compare:
            from crossrisk_bench.report.outputs import load_document

            compare = load_document(Path(option.crossrisk_compare).expanduser())
        report = option.crossrisk_report
        return cls(
            model=spec,
            cache_dir=cache_dir_from_options(option),
            use_cache=not option.crossrisk_no_cache,
            limit=limit,
            profile=option.crossrisk_profile,
            data=data,
            report_dir=Path(report).expanduser() if report else None,
            compare=compare,
            models_file=models_file,
            policy_file=policy_file,
            policy=policy,
            defenses=defenses,
            seed=option.crossrisk_seed,
            batch_size=option.crossrisk_batch_size,
            threads=option.crossrisk_threads,
            on_inconclusive=policy.on_inconclusive or get_profile(option.crossrisk_profile).on_inconclusive,
            judges=judges,
            left_out=left_out,
            attacks=attacks,
            weakened=weakened,
            warnings=option.crossrisk_warnings,
        )

    def task_items(self, task_name: str) -> list[Item]:
        """The items `task_name` evaluates in this run: a `--crossrisk-data` dataset mapped to
        that task, else its embedded items (before the profile's limit)."""
        from crossrisk_bench.data.datasets import task_items
        from crossrisk_bench.tasks import TASKS

        given = task_items(task_name, self.data, TASKS.names())
        return TASKS.get(task_name).load_items() if given is None else given

    def header_lines(self) -> list[str]:
        """What the run is about to do, for the pytest header and the top of the matrix."""
        from crossrisk_bench.config.models_file import own_base

        spec = self.model
        model = spec.model + (f" + adapter {spec.adapter}" if spec.adapter else "")
        model += f"@{spec.revision}" if spec.revision else ""
        cache = f"{self.cache_dir / 'responses.sqlite'}" if self.use_cache else "off (--crossrisk-no-cache)"
        items = "all" if self.limit is None else self.limit
        where = (
            f"backend=openai url={spec.server.api_root}"
            if spec.server is not None
            else f"backend=hf device={spec.device} dtype={spec.dtype or 'float32 (bfloat16 on a GPU)'}"
        )
        lines = [
            f"crossrisk: model={model} {where} cache={cache}",
            f"crossrisk: profile={self.profile} items per task={items} seed={self.seed} "
            f"on_inconclusive={self.on_inconclusive}",
        ]
        own = [(d.name, own_base(d)) for d in self.defenses if own_base(d)]
        if own:
            lines.append("crossrisk: compared with their own base: " + ", ".join(f"{n} vs {b}" for n, b in own))
        if self.weakened:
            lines.append(f"crossrisk: {self.profile} weakened ({ALLOW_WEAKER_RELEASE}): {'; '.join(self.weakened)}")
        if self.left_out:
            lines.append(
                f"crossrisk: served base: weights defenses left out (they need local weights): "
                f"{', '.join(self.left_out)}"
            )
        return lines

    def run_record(self) -> dict[str, Any]:
        """The run's settings as results.json records them (never an API key)."""
        policy = self.policy
        return {
            "model": self.model.model,
            "adapter": self.model.adapter,
            "backend": self.model.as_dict(),
            "profile": self.profile,
            "items_per_task": self.limit,
            "seed": self.seed,
            "confidence": policy.confidence,
            "policy": str(self.policy_file),
            "models": str(self.models_file),
            "data": [list(d) for d in self.data],
            "on_inconclusive": self.on_inconclusive,
            "efficacy": policy.efficacy,
            "min_efficacy": policy.min_efficacy,
            "multiplicity": "benjamini-hochberg",
            "judges": self.judges.as_dict() if self.judges else None,
            **({"weakened": list(self.weakened)} if self.weakened else {}),
        }


def _check_user_items(data: tuple[tuple[str, str], ...], policy: Policy) -> None:
    """A repeated id or a cluster key the user's items lack stops the run once, here."""
    from crossrisk_bench.data.datasets import data_task, task_items
    from crossrisk_bench.tasks import TASKS
    from crossrisk_bench.verdict.compare import missing_cluster_key

    for task_name in dict.fromkeys(data_task(name) for name, _ in data):
        items = task_items(task_name, data, TASKS.names()) or []
        problem = missing_cluster_key(task_name, policy.cluster_by.get(task_name), items)
        if problem:
            path = ", ".join(p for n, p in data if data_task(n) == task_name)
            raise CrossriskError(
                f"{path}: {problem}; add it to every item's meta, or drop cluster_by.{task_name} from the policy"
            )
