"""Expected failures: one sentence saying what is wrong, and a hint saying what to do."""

from __future__ import annotations


class DevtoolsError(Exception):
    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message
