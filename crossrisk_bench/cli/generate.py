"""`crossrisk generate`: answer prompts with a model (greedy decoding, cached)."""

from __future__ import annotations

import argparse

from crossrisk_bench.cli.common import add_model_arguments, load_model
from crossrisk_bench.config.options import add_options, options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("prompts", nargs="+", help="user messages")
    parser.add_argument("--system", default=None, help="system prompt")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    add_options(parser.add_argument, options("no-cache"), prefix="")


def run(args: argparse.Namespace) -> int:
    from crossrisk_bench.models.base import DecodingConfig, Prompt

    backend = load_model(args)
    prompts = [Prompt.chat(p, system_prompt=args.system) for p in args.prompts]
    for prompt, generation in zip(
        prompts, backend.generate(prompts, DecodingConfig(max_new_tokens=args.max_new_tokens))
    ):
        print(f"> {prompt.messages[-1].content}\n{generation.text}\n")
    return 0
