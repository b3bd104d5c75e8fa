"""The pytest options (`--crossrisk-limit`) and the `crossrisk` command's (`--limit`) are one
declaration: every shared option accepts and refuses the same values, with the same defaults and
help, on both surfaces; suite-only options stay off the command.

Options are matched by how users spell them (`--crossrisk-NAME` against `--NAME`), not by the
shared `dest`, so the check holds whatever declares them.
"""

from __future__ import annotations

import argparse
import contextlib
import io
from collections.abc import Sequence
from typing import Any

import pytest
from _pytest.config.argparsing import Parser

from crossrisk_bench import plugin
from crossrisk_bench.cli import build_parser
from crossrisk_bench.config.options import MODEL_OPTIONS, OPTIONS, Option, flag, model_spec_from_options
from crossrisk_bench.config.profiles import PROFILES

SHARED = [o for o in OPTIONS if o.surface != "suite"]
SUITE_ONLY = [o for o in OPTIONS if o.surface == "suite"]
# values each option taking one must treat alike on both surfaces (numbers, bounds, names, pairs)
# command options that reuse a shared spelling with a meaning of their own: `attack --limit` defaults
# to the saved run's count, `judge --judge` names one judge of the kind being labelled
OWN_MEANING = {("attack", "limit"), ("judge", "judge")}
SAMPLES = ("3", "1", "0", "-2", "2.5", "inf", "x", "quick", "release", "refusal=keyword", "")


def _pytest_parser() -> Parser:
    parser = Parser(_ispytest=True)
    plugin.pytest_addoption(parser)
    return parser


def _commands() -> dict[str, argparse.ArgumentParser]:
    (sub,) = (a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _positionals(parser: argparse.ArgumentParser) -> list[str]:
    """Values for a command's required positional arguments, so that only the option under test varies."""
    found = []
    for action in parser._actions:
        if not action.option_strings and action.nargs not in ("*", "?"):
            found.append(str(next(iter(action.choices))) if action.choices else "x")
    return found


def _outcome(parse: Any, args: Sequence[str], dest: str) -> tuple[str, Any]:
    """("ok", the parsed value) or ("refused", None): what a user sees of one command line."""
    with contextlib.redirect_stderr(io.StringIO()):
        try:
            return "ok", getattr(parse(list(args)), dest)
        except (pytest.UsageError, SystemExit):
            return "refused", None


def _cases(option: Option, spelled: str) -> list[list[str]]:
    if option.action == "store_true":
        return [[], [spelled]]
    if option.action == "append":
        return [[], [spelled, "refusal=keyword"], [spelled, "a", spelled, "b=c"]]
    return [[], *([spelled, value] for value in SAMPLES)]


@pytest.mark.parametrize("option", SHARED, ids=lambda o: o.name)
def test_shared_option_parses_alike_on_both_surfaces(option: Option) -> None:
    pytest_parser = _pytest_parser()
    pytest_action = pytest_parser.optparser._option_string_actions[flag(option.name)]
    commands = {
        n: p
        for n, p in _commands().items()
        if f"--{option.name}" in p._option_string_actions and (n, option.name) not in OWN_MEANING
    }
    assert commands, f"--{option.name} is declared shared, but no crossrisk command has it"
    drifts = []
    for name, command in commands.items():
        cli_action = command._option_string_actions[f"--{option.name}"]
        if (cli_action.help or "") != pytest_action.help.replace("--crossrisk-", "--"):
            drifts.append(f"crossrisk {name} --{option.name}: help {cli_action.help!r} != {pytest_action.help!r}")
        for args in _cases(option, flag(option.name)):
            under_pytest = _outcome(pytest_parser.parse, args, pytest_action.dest)
            cli_args = [name, *_positionals(command), *(a.replace("--crossrisk-", "--") for a in args)]
            under_cli = _outcome(build_parser().parse_args, cli_args, cli_action.dest)
            if under_pytest != under_cli:
                drifts.append(f"{args}: pytest {under_pytest}, crossrisk {name} {under_cli}")
    assert not drifts, "\n".join(drifts)


def test_own_meanings_are_not_the_shared_options() -> None:
    """The exceptions above stay exceptions: were they the shared option, they would be checked."""
    for command, name in OWN_MEANING:
        assert _commands()[command]._option_string_actions[f"--{name}"].dest != f"crossrisk_{name}"


def test_limit_zero_is_refused_on_both_surfaces() -> None:
    """The drift that started this: `crossrisk eval --limit 0` ran, `pytest --crossrisk-limit 0` did not."""
    with pytest.raises(pytest.UsageError, match="invalid _positive_int value: '0'"):
        _pytest_parser().parse([flag("limit"), "0"])
    with contextlib.redirect_stderr(io.StringIO()) as err, pytest.raises(SystemExit):
        build_parser().parse_args(["eval", "--limit", "0"])
    assert "argument --limit: invalid _positive_int value: '0'" in err.getvalue()


@pytest.mark.parametrize("option", SUITE_ONLY, ids=lambda o: o.name)
def test_suite_only_option_is_not_on_the_command(option: Option) -> None:
    for name, command in _commands().items():
        assert option.dest not in {a.dest for a in command._actions}, f"crossrisk {name} has {option.name}"


def test_every_model_command_takes_every_model_option() -> None:
    """A served model needs its concurrency and timeout wherever a model is named."""
    for name, command in _commands().items():
        if "--model" in command._option_string_actions:
            missing = [o.name for o in MODEL_OPTIONS if f"--{o.name}" not in command._option_string_actions]
            assert missing == [], f"crossrisk {name} lacks {missing}"


def test_one_function_builds_the_same_served_spec_from_both_surfaces() -> None:
    served = ["--backend", "openai", "--base-url", "http://127.0.0.1:1/v1", "--concurrency", "3", "--timeout", "5"]
    from_cli = model_spec_from_options(build_parser().parse_args(["prepare", *served]), "m")
    from_pytest = model_spec_from_options(
        _pytest_parser().parse([a.replace("--", "--crossrisk-", 1) if a.startswith("--") else a for a in served]), "m"
    )
    assert from_cli == from_pytest
    assert (from_cli.server.concurrency, from_cli.server.timeout) == (3, 5.0)


def test_help_names_every_profile_and_the_cache_variable() -> None:
    helps = {o.name: o.help for o in OPTIONS}
    assert all(p.name in helps["profile"] for p in PROFILES)
    assert "$CROSSRISK_CACHE_DIR" in helps["cache"]


def test_flag_spells_a_declared_option() -> None:
    assert flag("limit") == "--crossrisk-limit"
    assert flag("no-cache", prefix="") == "--no-cache"
    with pytest.raises(KeyError):
        flag("limt")
