"""Use cases: each takes the acting user explicitly, validates, audits, and flushes without committing."""


class ServiceError(Exception):
    """A refusal the user should read: the message is already translated and safe to show."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
