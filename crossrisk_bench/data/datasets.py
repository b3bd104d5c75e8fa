"""Loaders for public evaluation datasets in their published formats, mapped onto the suite's tasks.

Each loader reads one dataset from a user-given path and returns `Item`s in the same schema as
the embedded items, so the same task code scores them: `--crossrisk-data bbq=PATH` (pytest) or
`load_dataset_items("bbq", PATH)` replaces the task's embedded items with the dataset's.
Bad files fail with the file and the line or row that is wrong.

| name | task | file(s) |
|---|---|---|
| advbench | misuse | harmful_behaviors.csv (`goal`) |
| harmbench | misuse | harmbench_behaviors_text_*.csv (`Behavior`, context prepended) |
| xstest | over_refusal | xstest_prompts.csv (rows labelled `safe`) |
| bbq | bias_qa | a BBQ category .jsonl, or a folder of them |
| crows_pairs | stereotype_preference | crows_pairs_anonymized.csv |
| stereoset | stereotype_preference | StereoSet as published (`dev.json`: `data.{intersentence,intrasentence}[].sentences[].gold_label`) or the flat re-export, one JSON object per line |
| decodingtrust_stereotype | bias_agreement | stereotype_bias_data.jsonl (benign system-prompt rows) |
| decodingtrust_enron | pii_leakage | enron_data/{one,two,five}_shot*.json (+ email2name.json beside it) |
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crossrisk_bench.data.items import Item, merge_sources
from crossrisk_bench.data.sources import csv_rows, is_hub, is_table, json_lines
from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.models.base import Prompt
from crossrisk_bench.registry import Registry


def _field(record: dict, key: str, where: str) -> Any:
    try:
        return record[key]
    except (KeyError, TypeError):
        raise CrossriskError(f"{where}: missing field {key!r}") from None


def advbench(path: Path) -> list[Item]:
    return [
        Item(f"advbench-{n}", Prompt.chat(row["goal"]), {"category": "advbench", "domain": "advbench"})
        for n, (_, row) in enumerate(csv_rows(path, {"goal"}))
    ]


def harmbench(path: Path) -> list[Item]:
    items = []
    for _, row in csv_rows(path, {"Behavior", "SemanticCategory", "ContextString", "BehaviorID", "FunctionalCategory"}):
        text = row["Behavior"] if not row["ContextString"] else f"{row['ContextString']}\n\n---\n\n{row['Behavior']}"
        items.append(
            Item(
                f"harmbench-{row['BehaviorID']}",
                Prompt.chat(text),
                {"category": row["SemanticCategory"], "domain": row["FunctionalCategory"]},
            )
        )
    return items


def xstest(path: Path) -> list[Item]:
    """The safe prompts (XSTest's over-refusal probes); the `contrast_*` unsafe ones are left out."""
    return [
        Item(f"xstest-{row['id']}", Prompt.chat(row["prompt"]), {"category": row["type"]})
        for _, row in csv_rows(path, {"id", "prompt", "type", "label"})
        if row["label"] == "safe"
    ]


def bbq(path: Path) -> list[Item]:
    """BBQ items; the biased answer is the stereotyped group's for negative questions and the
    other group's for non-negative ones (Parrish et al. 2022). Items whose answer labels do not
    name the stereotyped group are left out (their count is in each item's `meta["skipped"]`)."""
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    if not files:
        raise CrossriskError(f"no BBQ .jsonl files in {path}")
    items, skipped = [], 0
    for file in files:
        for where, record in json_lines(file):
            info = _field(record, "answer_info", where)
            groups = [
                str(g).lower()
                for g in _field(_field(record, "additional_metadata", where), "stereotyped_groups", where)
            ]
            labels = [str(info[f"ans{i}"][1]).lower() for i in range(3)]
            surfaces = [str(info[f"ans{i}"][0]).lower() for i in range(3)]  # Nationality labels are regions
            unknown = labels.index("unknown") if "unknown" in labels else None
            named = [i for i in range(3) if i != unknown]
            target = [
                i for i in named if any(g in (labels[i], surfaces[i]) or g in labels[i].split("-") for g in groups)
            ]
            if unknown is None or len(target) != 1:
                skipped += 1
                continue
            other = next(i for i in named if i != target[0])
            biased = target[0] if record["question_polarity"] == "neg" else other
            condition = "ambiguous" if record["context_condition"] == "ambig" else "disambiguated"
            items.append(
                Item(
                    f"bbq-{record['category']}-{record['example_id']}",
                    Prompt.chat(f"{record['context']}\nQuestion: {record['question']}"),
                    {
                        "category": record["category"],
                        "condition": condition,
                        "polarity": f"{condition}_{record['question_polarity']}",
                        "stereotype": f"{record['category']}-{_field(record, 'question_index', where)}",
                    },
                    {"answer": int(record["label"]), "stereotyped": biased, "unknown": unknown},
                    (record["ans0"], record["ans1"], record["ans2"]),
                )
            )
    return [Item(i.id, i.prompt, {**i.meta, "skipped": skipped}, i.reference, i.options) for i in items]


def group_pair(first: str, second: str) -> str:
    """The words that differ between a minimal pair (CrowS-Pairs swaps the group terms), so pairs
    that swap the same groups can be resampled together."""
    a, b = first.lower().split(), second.lower().split()
    only_a = sorted(set(a) - set(b)) or ["-"]
    only_b = sorted(set(b) - set(a)) or ["-"]
    return " ".join(only_a) + "|" + " ".join(only_b)


def crows_pairs(path: Path) -> list[Item]:
    return [
        Item(
            f"crows-{row['']}",
            Prompt.raw("Here is a sentence:"),
            {
                "category": row["bias_type"],
                "direction": row["stereo_antistereo"],
                "pair": group_pair(row["sent_more"], row["sent_less"]),
                "stereotype": group_pair(row["sent_more"], row["sent_less"]),
            },
            {"stereotyped": 0},
            (" " + row["sent_more"], " " + row["sent_less"]),
        )
        for _, row in csv_rows(path, {"", "sent_more", "sent_less", "stereo_antistereo", "bias_type"})
    ]


def _stereoset_item(item_id: str, kind: str, context: str, bias_type: str, stereotype: str, anti: str) -> Item:
    context = context if kind == "intersentence" else "Here is a sentence:"
    return Item(
        item_id,
        Prompt.raw(context),
        {
            "category": bias_type,
            "format": kind,
            "pair": group_pair(stereotype, anti),
            "stereotype": group_pair(stereotype, anti),
        },
        {"stereotyped": 0},
        (" " + stereotype, " " + anti),
    )


def stereoset(path: Path) -> list[Item]:
    """StereoSet in its published format (`{"data": {"intersentence": [...], "intrasentence": [...]}}`,
    each example with `sentences` carrying a `gold_label`) or the flat one-record-a-line re-export."""
    head = ""
    if not is_table(path):
        try:
            head = path.read_text(encoding="utf-8").lstrip()[:1]
        except FileNotFoundError:
            raise CrossriskError(f"dataset file {path} does not exist") from None
    if head == "{" and path.suffix == ".json":
        return _stereoset_published(path)
    items = []
    for number, (where, record) in enumerate(json_lines(path), start=1):
        items.append(
            _stereoset_item(
                f"stereoset-{number}",
                _field(record, "type", where),
                _field(record, "context", where),
                _field(record, "bias_type", where),
                _field(record, "stereotype", where),
                _field(record, "anti-stereotype", where),
            )
        )
    return items


def _stereoset_published(path: Path) -> list[Item]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CrossriskError(f"{path}:{exc.lineno}: malformed JSON ({exc.msg})") from None
    data = _field(document, "data", str(path))
    items = []
    for kind in ("intersentence", "intrasentence"):
        for n, example in enumerate(data.get(kind, [])):
            where = f"{path}: data.{kind}[{n}]"
            by_label = {
                _field(sentence, "gold_label", where): _field(sentence, "sentence", where)
                for sentence in _field(example, "sentences", where)
            }
            missing = {"stereotype", "anti-stereotype"} - set(by_label)
            if missing:
                raise CrossriskError(f"{where}: no sentence with gold_label {sorted(missing)}")
            items.append(
                _stereoset_item(
                    f"stereoset-{example.get('id', f'{kind}-{n}')}",
                    kind,
                    _field(example, "context", where),
                    _field(example, "bias_type", where),
                    by_label["stereotype"],
                    by_label["anti-stereotype"],
                )
            )
    return items


def decodingtrust_stereotype(path: Path) -> list[Item]:
    items = []
    for number, (where, record) in enumerate(json_lines(path), start=1):
        prompt = _field(record, "prompt", where)
        if prompt.get("sys_prompt_type_tag") != "benign":
            continue
        items.append(
            Item(
                f"dt-stereo-{number}",
                Prompt.chat(prompt["text"]),
                {
                    "category": prompt["stereotype_topic_tag"],
                    "group": prompt["demographic_group_tag"],
                    "stereotype": prompt["demographic_group_tag"],  # resampled by group, as before
                },
                None,
                ("I agree", "I disagree"),
            )
        )
    return items


def decodingtrust_enron(path: Path) -> list[Item]:
    """Few-shot e-mail extraction on Enron (Huang et al. 2022): "name: e-mail" demonstrations,
    then the target's name; the true address is the reference."""
    try:
        shots = json.loads(path.read_text(encoding="utf-8"))
        names = json.loads((path.parent / "email2name.json").read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CrossriskError(f"dataset file {exc.filename} does not exist") from None
    except json.JSONDecodeError as exc:
        raise CrossriskError(f"{path}: malformed JSON ({exc.msg} at line {exc.lineno})") from None
    items = []
    for n, (email, demos) in enumerate(shots.items()):
        if email not in names:
            continue
        demo = "\n".join(f"the email address of {name} is {address};" for address, name in demos)
        items.append(
            Item(
                f"enron-{n}",
                Prompt.chat(f"{demo}\nthe email address of {names[email]} is"),
                {"category": "email", "shots": str(len(demos))},
                {"type": "email", "value": email},
            )
        )
    return items


@dataclass(frozen=True)
class DatasetLoader:
    name: str
    task: str
    load: Callable[[Path], list[Item]]


LOADERS: Registry[DatasetLoader] = Registry(
    "dataset",
    lambda loader: loader.name,
    (
        DatasetLoader("advbench", "misuse", advbench),
        DatasetLoader("harmbench", "misuse", harmbench),
        DatasetLoader("xstest", "over_refusal", xstest),
        DatasetLoader("bbq", "bias_qa", bbq),
        DatasetLoader("crows_pairs", "stereotype_preference", crows_pairs),
        DatasetLoader("stereoset", "stereotype_preference", stereoset),
        DatasetLoader("decodingtrust_stereotype", "bias_agreement", decodingtrust_stereotype),
        DatasetLoader("decodingtrust_enron", "pii_leakage", decodingtrust_enron),
    ),
)


def load_dataset_items(name: str, path: str | Path, tasks: Collection[str] = ()) -> tuple[str, list[Item]]:
    """(task name, items) for a named public dataset at `path`, or for a task name: the user's
    own items for that task in the project's item schema (see `crossrisk_bench.data.items`)."""
    source = path if is_hub(path) else Path(path).expanduser()
    if name in LOADERS:
        items = LOADERS[name].load(source)  # type: ignore[arg-type]
        task = LOADERS[name].task
    elif name in tasks:  # the user's own items for one of `tasks`
        from crossrisk_bench.data.items import load_jsonl

        items, task = load_jsonl(source), name
    else:
        raise CrossriskError(
            f"unknown dataset or task {name!r}; known datasets: {', '.join(LOADERS.names())}; "
            f"tasks (your own items): {', '.join(tasks) or '(none given)'}"
        )
    if not items:
        raise CrossriskError(f"dataset {name} at {path} gave no items")
    return task, merge_sources(task, [(f"{name}={path}", items)])


def task_items(task: str, data: Sequence[tuple[str, str]], tasks: Collection[str]) -> list[Item] | None:
    """The items every `--crossrisk-data` entry that feeds `task` gives, concatenated in order
    (None when no entry feeds it); an id two entries share is one usage error naming both."""
    chosen = [(name, path) for name, path in data if data_task(name) == task]
    if not chosen:
        return None
    return merge_sources(task, [(f"{name}={path}", load_dataset_items(name, path, tasks)[1]) for name, path in chosen])


def data_task(name: str) -> str:
    """The task a `--crossrisk-data NAME=...` entry feeds."""
    return LOADERS[name].task if name in LOADERS else name


def parse_data_option(value: str, tasks: Collection[str]) -> tuple[str, str]:
    """`NAME=SOURCE` from the command line: a public dataset's name, or the name of one of
    `tasks` for the user's own items; SOURCE is a file, a folder or a pinned hub dataset
    (hf:ORG/NAME@REVISION)."""
    name, sep, path = value.partition("=")
    if not sep or not name or not path:
        raise CrossriskError(f"--crossrisk-data expects NAME=PATH (e.g. bbq=../shared/data/bbq), got {value!r}")
    if name not in LOADERS and name not in tasks:
        raise CrossriskError(
            f"unknown dataset or task {name!r}; known datasets: {', '.join(LOADERS.names())}; "
            f"tasks (your own items): {', '.join(tasks)}"
        )
    return name, path
