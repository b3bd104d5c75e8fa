"""Reading the suite's own config files with one-line errors that name the file."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from crossrisk_bench.errors import CrossriskError


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """Parse a TOML file; a missing or malformed file is a `CrossriskError` naming `what` and the path."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CrossriskError(f"{what} {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise CrossriskError(f"{what} {path} is not valid TOML: {exc}") from None
