"""What the model-loading commands share: the model under test, loaded from the shared options."""

from __future__ import annotations

import argparse
from typing import Any

from crossrisk_bench.config.options import MODEL_OPTIONS, add_options, cache_dir_from_options, model_spec_from_options
from crossrisk_bench.config.options import options as named
from crossrisk_bench.models.loader import DEFAULT_MODEL


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The model options pytest has as --crossrisk-*, and --cache."""
    add_options(parser.add_argument, (*MODEL_OPTIONS, *named("cache")), prefix="")


def load_model(args: argparse.Namespace) -> Any:
    """The model under test, loaded (the command has no models file: no model given is the default)."""
    from crossrisk_bench.models.loader import load_backend

    spec = model_spec_from_options(args, args.crossrisk_model or DEFAULT_MODEL)
    return load_backend(
        spec, cache_dir=cache_dir_from_options(args), use_cache=not getattr(args, "crossrisk_no_cache", False)
    )
