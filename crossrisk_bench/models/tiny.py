"""A tiny Llama built in code, so that most tests run in seconds without SmolLM2.

About 1M parameters (hidden 128, 4 layers), a byte-level BPE tokenizer trained on a built-in
corpus, a ChatML chat template, and a few hundred training steps on synthetic dialogues so that
it answers in the template's format and stops at `<|im_end|>`. Everything is seeded and run on
one thread, so two builds give bitwise-identical weights. It is saved as safetensors so that
tests exercise the same local-directory loading path that users' checkpoints take.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from pathlib import Path

TINY_NAME = "tiny-llama"
_LAYOUT_VERSION = 1
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|pad|>", "<|im_start|>", "<|im_end|>"]

_COLOURS = ["red", "blue", "green", "yellow", "black", "white", "purple", "orange"]
_THINGS = ["apple", "sky", "car", "house", "bird", "book", "river", "stone", "flower", "door"]
_NAMES = ["Alice", "Bob", "Carol", "Dan", "Eve", "Frank", "Grace", "Heidi"]


def dialogues(count: int, seed: int) -> list[tuple[str, str]]:
    """Synthetic question/answer pairs; short, regular, and learnable in a minute."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        kind = rng.randrange(4)
        thing, colour, name = rng.choice(_THINGS), rng.choice(_COLOURS), rng.choice(_NAMES)
        if kind == 0:
            out.append((f"What colour is the {thing}?", f"The {thing} is {colour}."))
        elif kind == 1:
            out.append((f"Who owns the {thing}?", f"{name} owns the {thing}."))
        elif kind == 2:
            out.append(("Can you help me, please?", "Sure, I can help."))
        else:
            out.append((f"Tell me about {name}.", f"{name} likes the {colour} {thing}."))
    return out


def render_chat(question: str, answer: str | None = None) -> str:
    text = f"<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n"
    return text if answer is None else text + f"{answer}<|im_end|>\n"


def tiny_dir(cache_dir: Path) -> Path:
    return cache_dir / "models" / f"{TINY_NAME}-v{_LAYOUT_VERSION}"


def ensure_tiny(cache_dir: Path) -> Path:
    """The tiny model under the cache directory, built on first use (once, across processes)."""
    from filelock import FileLock

    target = tiny_dir(cache_dir)
    if (target / "model.safetensors").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock", timeout=600):
        if not (target / "model.safetensors").is_file():
            staging = target.with_name(target.name + ".partial")
            shutil.rmtree(staging, ignore_errors=True)
            build_tiny(staging)
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
    return target


def build_tiny(directory: Path, *, seed: int = 0, train_steps: int = 80, hidden: int = 128, layers: int = 4) -> Path:
    """Build, briefly train and save the tiny model and tokenizer into `directory`."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from crossrisk_bench.models.torch_state import forked_rng, torch_threads

    start = time.perf_counter()
    corpus = dialogues(2000, seed)
    texts = [render_chat(q, a) for q, a in corpus]
    bpe = Tokenizer(models.BPE(unk_token=None))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        pad_token="<|pad|>",
        eos_token="<|im_end|>",
        bos_token="<|im_start|>",
        chat_template=CHAT_TEMPLATE,
    )
    config = LlamaConfig(
        vocab_size=bpe.get_vocab_size(),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
        tie_word_embeddings=False,
    )
    with torch_threads(1), forked_rng():  # the same weights on every machine; the caller's state kept
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
        if train_steps:
            _train(model, tokenizer, texts, steps=train_steps, seed=seed)
    model.eval()
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)
    (directory / "crossrisk-meta.json").write_text(
        json.dumps(
            {
                "name": TINY_NAME,
                "seed": seed,
                "train_steps": train_steps,
                "build_seconds": round(time.perf_counter() - start, 1),
            },
            indent=2,
        )
    )
    return directory


def _train(model, tokenizer, texts: list[str], *, steps: int, seed: int, batch: int = 32) -> None:
    import torch

    rng = random.Random(seed)
    optimiser = torch.optim.AdamW(model.parameters(), lr=6e-3)
    model.train()
    for _ in range(steps):
        enc = tokenizer(rng.sample(texts, batch), return_tensors="pt", padding=True, add_special_tokens=False)
        labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
        loss = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], labels=labels).loss
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()
