"""The one user-facing error type of the service layer."""


class UserError(Exception):
    """Something the user can understand and act on. ``str(err)`` is the message to show."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base} ({self.hint})" if self.hint else base
