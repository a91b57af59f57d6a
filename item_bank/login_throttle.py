"""The login throttle: how many failed logins an account, an address and the pair of both may
have before further tries are refused, and for how long.

Three rules, in the spirit of OWASP's "blocking brute force attacks" (and django-axes):

* **Pair** (account, client address): after ``pair_limit`` failures in ``window`` the next
  tries of that account from that address are refused until the oldest of them leaves the
  window.  This is what stops one attacker on one account.
* **Address**: after ``address_limit`` failures in ``window`` from one address, over all
  accounts, tries from it are refused the same way (password spraying).  The ceiling is much
  higher than the pair's so that an exam room behind one NAT, where some mistype, gets in.
* **Account**: after ``account_free`` failures in ``account_window`` from anywhere, each try
  on the account must wait ``delay * 2**(n - account_free)`` (at most ``delay_max``) after its
  latest failure.  A delay, never a lock: the owner from another address gets in once it has
  passed, while an attacker spread over many addresses gets a few tries an hour.

The state is the ``login_attempt`` table, so the rules hold across worker processes and hosts:
a try is written and committed *before* it is judged, and it is judged against every other
row, so parallel tries all see each other.  A refused try is deleted again (it is not a
failure: only password checks count), a successful one deletes the failures of its pair (the
owner's own mistypes are forgiven, an attacker's from elsewhere are not), a failed one stays
as the failure.  Rows older than the longest window are read by nobody and :func:`prune`
deletes them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session

from .db import db_now
from .models import AuditLog, LoginAttempt
from .tx import transactional

ACCOUNT_LENGTH = 200   # login_attempt.account
ADDRESS_LENGTH = 100   # login_attempt.address
MAX_DOUBLINGS = 40     # beyond this the delay is delay_max anyway; keeps 2**n small


@dataclass(frozen=True)
class ThrottleRule:
    """The limits; ``window``, ``account_window``, ``delay`` and ``delay_max`` in seconds."""

    pair_limit: int = 10
    address_limit: int = 300
    window: float = 900
    account_free: int = 10
    account_window: float = 86400
    delay: float = 1
    delay_max: float = 900

    def __post_init__(self) -> None:
        for name in ("pair_limit", "address_limit", "account_free"):
            if getattr(self, name) < 1:
                raise ValueError(f"login throttle {name} must be at least 1")
        for name in ("window", "account_window", "delay", "delay_max"):
            if getattr(self, name) <= 0:
                raise ValueError(f"login throttle {name} must be positive")

    @property
    def longest_window(self) -> dt.timedelta:
        return dt.timedelta(seconds=max(self.window, self.account_window))

    def account_delay(self, failures: int) -> dt.timedelta:
        """The wait after the latest of ``failures`` (>= account_free) failures of an account."""
        doublings = min(failures - self.account_free, MAX_DOUBLINGS)
        return dt.timedelta(seconds=min(self.delay * 2 ** doublings, self.delay_max))


def stored_key(value: str, length: int) -> str:
    """``value`` as the throttle stores it: itself when it fits the column and is printable,
    else its SHA-256 (an overlong or binary NIP still counts, under one stable key, and never
    reaches the database as text it cannot hold)."""
    if len(value) <= length and value.isprintable():
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Decision:
    """The judged try: its row, and the seconds to wait when it is refused (None: go on)."""

    try_id: int
    retry_after: int | None


@transactional
def _record(session: Session, account: str, address: str, at: dt.datetime) -> int:
    row = LoginAttempt(account=account, address=address, at=at)
    session.add(row)
    session.flush()
    return row.id


@transactional
def _forget(session: Session, try_id: int) -> None:
    session.execute(delete(LoginAttempt).where(LoginAttempt.id == try_id))


def _newest_at(session: Session, where: Sequence[ColumnElement[bool]], rank: int,
               since: dt.datetime) -> dt.datetime | None:
    """The ``rank``-th newest failure matching ``where`` after ``since`` (None: fewer)."""
    return session.scalar(
        select(LoginAttempt.at).where(*where, LoginAttempt.at > since)
        .order_by(LoginAttempt.at.desc()).offset(rank - 1).limit(1))


def _until(session: Session, rule: ThrottleRule, account: str, address: str,
           now: dt.datetime, exclude: int) -> dt.datetime | None:
    """When a try of ``account`` from ``address`` is allowed again (None: now); the row
    ``exclude`` (the try being judged) does not count."""
    others = [LoginAttempt.id != exclude]
    since = now - dt.timedelta(seconds=rule.window)
    window = dt.timedelta(seconds=rule.window)
    until: list[dt.datetime] = []
    pair = _newest_at(session, [LoginAttempt.account == account,
                                LoginAttempt.address == address, *others],
                      rule.pair_limit, since)
    if pair is not None:
        until.append(pair + window)
    by_address = _newest_at(session, [LoginAttempt.address == address, *others],
                            rule.address_limit, since)
    if by_address is not None:
        until.append(by_address + window)
    failures, latest = session.execute(
        select(func.count(), func.max(LoginAttempt.at)).where(
            LoginAttempt.account == account, *others,
            LoginAttempt.at > now - dt.timedelta(seconds=rule.account_window))).one()
    if failures >= rule.account_free:
        until.append(latest + rule.account_delay(failures))
    latest_until = max(until, default=None)
    return latest_until if latest_until is not None and latest_until > now else None


def judge_try(session: Session, rule: ThrottleRule, *, account: str, address: str,
              now: dt.datetime | None = None) -> Decision:
    """Record a login try (committed), then judge it against every stored failure.

    A refused try is deleted again and its decision carries the whole seconds to wait; an
    allowed one stays as a failure until :func:`login_succeeded`.  ``now`` defaults to the
    database clock.
    """
    account = stored_key(account, ACCOUNT_LENGTH)
    address = stored_key(address, ADDRESS_LENGTH)
    now = db_now(session) if now is None else now
    try_id = _record(session, account, address, now)
    until = _until(session, rule, account, address, now, exclude=try_id)
    if until is None:
        return Decision(try_id, None)
    _forget(session, try_id)
    return Decision(try_id, max(1, math.ceil((until - now).total_seconds())))


@transactional
def login_succeeded(session: Session, decision: Decision) -> None:
    """The password was right: the try and the earlier failures of its pair are no failures."""
    row = session.get(LoginAttempt, decision.try_id)
    if row is not None:
        session.execute(delete(LoginAttempt).where(LoginAttempt.account == row.account,
                                                   LoginAttempt.address == row.address))


@dataclass(frozen=True)
class ThrottleEntry:
    """A throttled account, address or pair for the administrator: ``scope`` is "pair",
    "account" or "address"; the failures counted by that rule; refused until ``until``."""

    scope: str
    account: str | None
    address: str | None
    failures: int
    until: dt.datetime


def throttled(session: Session, rule: ThrottleRule,
              now: dt.datetime | None = None) -> list[ThrottleEntry]:
    """Every pair, address and account refused or delayed now, the longest wait first."""
    now = db_now(session) if now is None else now
    since = now - dt.timedelta(seconds=rule.window)
    window = dt.timedelta(seconds=rule.window)
    found: list[ThrottleEntry] = []
    groups = [("pair", (LoginAttempt.account, LoginAttempt.address), rule.pair_limit),
              ("address", (LoginAttempt.address,), rule.address_limit)]
    for scope, columns, limit in groups:
        rows = session.execute(
            select(*columns, func.count()).where(LoginAttempt.at > since)
            .group_by(*columns).having(func.count() >= limit)).all()
        for *key, failures in rows:
            where = [column == value for column, value in zip(columns, key, strict=True)]
            until = _newest_at(session, where, limit, since) + window
            if until > now:
                account = key[0] if scope == "pair" else None
                found.append(ThrottleEntry(scope, account, key[-1], failures, until))
    rows = session.execute(
        select(LoginAttempt.account, func.count(), func.max(LoginAttempt.at))
        .where(LoginAttempt.at > now - dt.timedelta(seconds=rule.account_window))
        .group_by(LoginAttempt.account).having(func.count() >= rule.account_free)).all()
    for account, failures, latest in rows:
        until = latest + rule.account_delay(failures)
        if until > now:
            found.append(ThrottleEntry("account", account, None, failures, until))
    return sorted(found, key=lambda t: (-t.until.timestamp(), t.scope, t.account or "",
                                        t.address or ""))


@transactional
def reset(session: Session, *, account: str | None, address: str | None, actor: str) -> int:
    """Forget the failures of an account, an address or a pair (both given), with an audit
    entry; returns how many were deleted."""
    if not account and not address:
        raise ValueError("reset needs an account, an address or both")
    where = []
    if account:
        where.append(LoginAttempt.account == account)
    if address:
        where.append(LoginAttempt.address == address)
    deleted = session.execute(delete(LoginAttempt).where(*where)).rowcount
    subject = " ".join(f"{k}:{v}" for k, v in (("account", account), ("address", address)) if v)
    session.add(AuditLog(actor=actor, action="login_throttle_reset", subject=subject[:120],
                         details={"account": account, "address": address,
                                  "failures_deleted": deleted}))
    return deleted


@transactional
def prune(session: Session, rule: ThrottleRule, now: dt.datetime | None = None) -> int:
    """Delete the tries older than the longest window (no rule reads them); returns how many."""
    now = db_now(session) if now is None else now
    return session.execute(
        delete(LoginAttempt).where(LoginAttempt.at <= now - rule.longest_window)).rowcount
