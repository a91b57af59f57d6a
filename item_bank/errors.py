"""Domain errors of the item bank and exam policy.

Each error is a refusal with a reason: ``error`` names its kind (``not_found``, ``locked``,
...), for which the server has one HTTP status each (:mod:`server.errors`); ``code`` and
``params`` say exactly why, as a :class:`item_bank.messages.Notice` that the server
translates through its message catalog.  ``str(exc)`` is the English text (logs, the CLI).
A refusal never reveals another participant's data: someone else's attempt is simply
"not found".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .messages import Notice


class DomainError(Exception):
    """Base class: ``error`` (kind), ``notice`` (code and parameters), ``str(exc)`` English."""

    error: str = "domain_error"

    def __init__(self, code: str, /, **params: Any) -> None:
        self.notice = Notice(code, params)
        super().__init__(self.notice.text())

    @property
    def code(self) -> str:
        return self.notice.code

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.notice.params)


class NotFound(DomainError):
    """Unknown, or not yours (no IDOR: another participant's attempt is "not found")."""

    error = "not_found"


class Forbidden(DomainError):
    """Known but not allowed (e.g. NIP not on the register, program closed to enrolment)."""

    error = "forbidden"


class InvalidInput(DomainError, ValueError):
    """Malformed input: a NIP that is not 18 digits, a choice outside the options, ..."""

    error = "invalid_input"


class Refusals(InvalidInput):
    """Every refusal of one form at once (a failed form shows them all): ``notices``; its
    own code and parameters are the first one's, so a caller that reads one reason gets it."""

    def __init__(self, notices: Sequence[Notice]) -> None:
        first = notices[0]
        super().__init__(first.code, **first.params)
        self.notices = tuple(notices)


class Conflict(DomainError):
    """The request contradicts the current state: item already answered with another
    choice, not the current item, attempt finished, deadline passed, a short finish not
    confirmed."""

    error = "conflict"


class Locked(DomainError):
    """The exam cannot be started now: prerequisites missing, waiting period running,
    attempts exhausted, window closed, already certified."""

    error = "locked"


class SessionEnded(DomainError):
    """The participant's session ended after it began (logout elsewhere, a new password, an
    administrator's "end sessions"): checked under the participant's lock by the policy calls
    that receive the session's version, so the request does nothing."""

    error = "session_ended"


class BankExhausted(DomainError):
    """Refused at start: the bank has too few unseen operational items for this attempt."""

    error = "bank_exhausted"
