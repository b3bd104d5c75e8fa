"""User-facing errors.

A `CrossriskError` is a mistake the user can fix (a bad path, an unknown name, a malformed file).
Entry points (the pytest plugin and the `crossrisk` command) print its message as one line
instead of a traceback; everything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class CrossriskError(Exception):
    """A user error with a message that says what was wrong and what to do instead."""


class Unsupported(CrossriskError):
    """A backend cannot answer this kind of request (e.g. a server without prompt log-probabilities).

    Tasks that need it are skipped with this message, not failed: nothing is wrong with the run.
    """


class Fatal(CrossriskError):
    """An error every later test would hit too (a response cache that cannot be written): entry
    points stop the whole run with its one line instead of failing each test with it."""
