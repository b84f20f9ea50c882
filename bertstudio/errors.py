"""The one exception type for user mistakes and environment problems."""

from __future__ import annotations


class StudioError(Exception):
    """A problem the user can fix, told in one plain sentence: what is wrong and what to do.

    `detail` carries the technical cause (an exception text, a path) for the log or a
    "details" fold in the UI; the message itself never needs it to be understood.
    """

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def __str__(self) -> str:
        return self.message
