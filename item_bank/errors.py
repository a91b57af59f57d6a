"""Domain errors of the item bank and exam policy.

The server maps these to HTTP status codes in one place: every error carries a machine
readable ``code`` and the HTTP ``status`` it stands for; the message is human readable
English and never reveals another participant's data (someone else's attempt is simply
"not found").
"""

from __future__ import annotations


class DomainError(Exception):
    """Base class: ``code`` for programs, ``status`` for HTTP, ``str(exc)`` for people."""

    code: str = "domain_error"
    status: int = 400

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self)


class NotFound(DomainError):
    """Unknown, or not yours (no IDOR: another participant's attempt is "not found")."""

    code = "not_found"
    status = 404


class Forbidden(DomainError):
    """Known but not allowed (e.g. NIP not on the register, program closed to enrolment)."""

    code = "forbidden"
    status = 403


class InvalidInput(DomainError, ValueError):
    """Malformed input: a NIP that is not 18 digits, a choice outside the options, ..."""

    code = "invalid_input"
    status = 422


class Conflict(DomainError):
    """The request contradicts the current state: item already answered with another
    choice, not the current item, attempt finished, deadline passed."""

    code = "conflict"
    status = 409


class Locked(DomainError):
    """The exam cannot be started now: prerequisites missing, waiting period running,
    attempts exhausted, window closed, already certified."""

    code = "locked"
    status = 409


class BankExhausted(DomainError):
    """Refused at start: the bank has too few unseen operational items for this attempt."""

    code = "bank_exhausted"
    status = 409
