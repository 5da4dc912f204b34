"""User-facing errors: anything the user can fix raises `InputError` (the CLI turns it into exit 2)."""


class InputError(ValueError):
    """A problem with what the user gave us; the message names the problem and the fix, on one line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


class Cancelled(Exception):
    """The user cancelled a run; nothing was written."""
