"""The store on PostgreSQL's driver connection: the same facts and effects as the ORM store
in fewer round trips and a fraction of the CPU.

An answer is three statements on a pooled connection of its own (:func:`item_bank.tx.
raw_transaction`): lock the participant and read the clock; read everything the decision
needs (the attempt, its exam and program, its responses with the key of the current item, the
pool version, the participant's seen items and the window's exposure counts as packed
``int8`` bytes); write the effects as one statement of data-modifying CTEs.  The pool comes
from the worker's cache, keyed by the pool version (:mod:`item_bank.pools`).  SQLAlchemy Core
with its caches warm spends 1.75 times the client CPU of the driver on the same reads
(``bench/bench_sql_driver.py``, docs/operations.md), which is why this store exists beside
:mod:`.store_orm`.
The two load equal facts and write equal rows (tests/item_bank/test_stores.py).
"""

from __future__ import annotations

import datetime as dt
import json
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import psycopg
from psycopg.types.json import Json
from sqlalchemy.orm import Session

from ..errors import Conflict, NotFound
from ..models import AttemptState, CertificateRoute, ItemStatus, ProgramSettings, exam_slot
from ..pools import Pool, PoolRows, cached_pool, pool_materi
from ..tx import setup_connection
from .facts import (
    ATTEMPT_COLUMNS,
    EXAM_COLUMNS,
    RESPONSE_COLUMNS,
    AttemptLoad,
    CertificateFacts,
    Effects,
    Exposure,
    Standing,
    StartLoad,
    attempt_facts,
    exam_facts,
    outside_ids,
    outside_params,
    response_facts,
)


def _json_row(alias: str, columns: Sequence[str]) -> str:
    return f"json_build_array({', '.join(f'{alias}.{c}' for c in columns)})"


def _packed(expression: str, table: str, where: str) -> str:
    """Integers of ``table`` as one bytea of big-endian int8s (the columns are ``bigint``): a
    bank's worth of rows as Python tuples would cost more to unpack than the rest of an answer
    (see :func:`_int8s`)."""
    return f"(SELECT string_agg({expression}, ''::bytea) FROM {table} WHERE {where})"


# The families of the seen items: as stored with each (the UNIQUE key) and as the items have
# them now (enemies marked since), so that the decision avoids both.
_SEEN = _packed("int8send(s.family_id) || int8send(coalesce(si.family_id, si.id))",
                "seen_item s JOIN item si ON si.id = s.item_id",
                "s.participant_id = %(participant_id)s AND s.program_id = {program}")
_EXPOSURE = _packed("int8send(x.item_id) || int8send(x.count)", "item_exposure x",
                    "x.exam_id = e.id")
_VERSION = "(SELECT v.version FROM pool_version v WHERE v.id = 1)"

# The clock is read above the lock (see item_bank.db.lock_with_clock): after any wait for it.
_LOCK = """SELECT clock_timestamp(), session_version FROM (
    SELECT session_version FROM participant WHERE id = %(participant_id)s FOR UPDATE) AS locked"""

# What the decision needs of an attempt, typed (the function below returns it as a table).
_ATTEMPT_TYPES = ("json", "json", "text", "text", "text", "bigint", "bytea", "bigint", "bytea",
                  "json", "bigint", "boolean")
_ATTEMPT_VALUES = [
    _json_row("a", ATTEMPT_COLUMNS), _json_row("e", EXAM_COLUMNS), "m.code", "p.code",
    "p.settings", _VERSION, _SEEN.format(program="a.program_id"), "e.attempts_started",
    _EXPOSURE,
    f"""(SELECT json_agg({_json_row('r', RESPONSE_COLUMNS)} ORDER BY r.position)
          FROM response r WHERE r.attempt_id = a.id)""",
    """(SELECT i.answer_key FROM response r JOIN item i ON i.id = r.item_id
         WHERE r.attempt_id = a.id AND r.answered_at IS NULL ORDER BY r.position LIMIT 1)""",
    """EXISTS (SELECT 1 FROM certificate c WHERE c.participant_id = a.participant_id
                                             AND c.program_id = a.program_id)"""]
_ATTEMPT_FROM = """
FROM attempt a
JOIN exam e ON e.id = a.exam_id
JOIN program p ON p.id = e.program_id
LEFT JOIN materi m ON m.id = e.materi_id
WHERE a.id = %(attempt_id)s"""
_ATTEMPT = "SELECT " + ", ".join(
    f"({v})::{t}" for v, t in zip(_ATTEMPT_VALUES, _ATTEMPT_TYPES, strict=True)) + _ATTEMPT_FROM

# Locking the participant and reading the attempt in one round trip.  One statement would read
# the attempt in the snapshot taken when it began, before any wait for the lock, and so miss
# what the request that held the lock wrote.  A PL/pgSQL function runs each of its statements
# in a snapshot of its own (PostgreSQL, "Function Volatility Categories": a VOLATILE function
# takes a fresh snapshot for each query), so its read, after its lock, sees every transaction
# that committed before the lock was granted, as the two statements of the ORM store do.  It
# is a temporary function (pg_temp): created on each driver connection at its first answer,
# from the same text as the rest of this module, so it never differs from the code that reads
# its rows.  No row: no such participant; a row of NULLs after the clock and version: no such
# attempt.
_LOAD_FUNCTION = f"""
CREATE OR REPLACE FUNCTION pg_temp.smartcat_locked_attempt(p_participant bigint, p_attempt bigint)
RETURNS TABLE (clock timestamptz, version bigint,
               {', '.join(f'c{n} {t}' for n, t in enumerate(_ATTEMPT_TYPES))})
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    v_version bigint;
BEGIN
    SELECT t.session_version INTO v_version FROM participant t WHERE t.id = p_participant
        FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT clock_timestamp(), v_version, q.* FROM (VALUES (1)) AS one
        LEFT JOIN LATERAL ({_ATTEMPT.replace('%(attempt_id)s', 'p_attempt')
                                      .replace('%(participant_id)s', 'p_participant')}) AS q
        ON true;
END
$fn$"""
_LOCKED_ATTEMPT = ("SELECT * FROM pg_temp.smartcat_locked_attempt(%(participant_id)s, "
                   "%(attempt_id)s)")
# Per driver connection: whether it has the function (a temporary object lives as long as its
# connection).  False where the database user may not create temporary objects (the TEMPORARY
# privilege, which PostgreSQL grants to everyone unless an operator revoked it): that
# connection locks and reads in two round trips.
_WITH_FUNCTION: weakref.WeakKeyDictionary[psycopg.Connection[Any], bool] = (
    weakref.WeakKeyDictionary())

_START = f"""
SELECT {_json_row('e', EXAM_COLUMNS)}, m.code, p.code, {_VERSION},
       (SELECT t.nip FROM participant t WHERE t.id = %(participant_id)s),
       EXISTS (SELECT 1 FROM enrolment n WHERE n.participant_id = %(participant_id)s
                                           AND n.program_id = e.program_id),
       {_SEEN.format(program='e.program_id')}, e.attempts_started, {_EXPOSURE}
FROM exam e
JOIN program p ON p.id = e.program_id
LEFT JOIN materi m ON m.id = e.materi_id
WHERE e.id = %(exam_id)s AND e.archived_at IS NULL AND p.archived_at IS NULL"""

_STANDING = f"""
SELECT p.settings::text,
       (SELECT json_agg(json_build_array({', '.join(f'x.{c}' for c in EXAM_COLUMNS)}, m.code)
                        ORDER BY x.id)
          FROM exam x LEFT JOIN materi m ON m.id = x.materi_id
         WHERE x.program_id = p.id AND x.archived_at IS NULL),
       (SELECT json_agg({_json_row('t', ATTEMPT_COLUMNS)} ORDER BY t.number, t.id)
          FROM attempt t WHERE t.participant_id = %(participant_id)s AND t.program_id = p.id),
       (SELECT count(*) FROM assignment s WHERE s.program_id = p.id),
       (SELECT count(*) FROM assignment_completion c JOIN assignment s ON s.id = c.assignment_id
         WHERE s.program_id = p.id AND c.participant_id = %(participant_id)s),
       (SELECT json_build_array(c.number, c.route, c.attempt_id) FROM certificate c
         WHERE c.participant_id = %(participant_id)s AND c.program_id = p.id)
FROM program p WHERE p.id = %(program_id)s"""

_PROGRAM = """
SELECT p.code, p.name FROM program p JOIN enrolment n ON n.program_id = p.id
WHERE p.id = %(program_id)s AND n.participant_id = %(participant_id)s
  AND p.archived_at IS NULL"""

_RUNNING = """
SELECT id FROM attempt WHERE participant_id = %(participant_id)s AND program_id = %(program_id)s
                         AND slot = %(slot)s AND state = 'started'"""

_POOL = f"""
SELECT {_VERSION}, i.id, i.a, i.b, i.c, {{content}}, json_array_length(i.options),
       i.status::text, i.param_version, coalesce(i.family_id, i.id), i.provisional
FROM item i {{join}}
WHERE i.program_id = %(program_id)s AND {{where}}i.status IN
      ('{ItemStatus.OPERATIONAL.value}', '{ItemStatus.PRETEST.value}')
ORDER BY i.id"""
_POOL_MATERI = _POOL.format(content="t.code",
                            join="LEFT JOIN content_tag t ON t.id = i.content_tag_id",
                            where="i.materi_id = %(materi_id)s AND ")
_POOL_PROGRAM = _POOL.format(content="m.code", join="JOIN materi m ON m.id = i.materi_id",
                             where="")
_OUTSIDE = "SELECT id, a, b, c FROM item WHERE id = ANY(%(ids)s)"
_TEXT = "SELECT stem, options, image_count FROM item WHERE id = %(item_id)s"

_NEW_ATTEMPT = f"""
INSERT INTO attempt (participant_id, program_id, exam_id, slot, number, state, started_at,
                     deadline, seed, imputed_items)
VALUES (%(participant_id)s, %(program_id)s, %(exam_id)s, %(slot)s, %(number)s,
        '{AttemptState.STARTED.value}', %(started_at)s, %(deadline)s, %(seed)s, '[]')
ON CONFLICT DO NOTHING RETURNING id"""
_BUMP_STARTED = "UPDATE exam SET attempts_started = attempts_started + 1 WHERE id = %(exam_id)s"

# The parts of the one statement that writes an event's effects, in a fixed order.
_ANSWERED = """answered AS (
    UPDATE response SET shown_choice = %(shown_choice)s, choice = %(choice)s,
                        correct = %(correct)s, answered_at = %(answered_at)s
    WHERE id = %(response_id)s AND answered_at IS NULL RETURNING id)"""
_PRESENTED = """presented AS (
    INSERT INTO response (attempt_id, item_id, position, shown_order, presented_at, pretest,
                          param_version)
    SELECT %(attempt_id)s, u.item_id, u.position, u.shown_order::json, %(presented_at)s,
           u.pretest, u.param_version
    FROM unnest(%(items)s::bigint[], %(positions)s::bigint[], %(orders)s::text[],
                %(pretests)s::boolean[], %(param_versions)s::bigint[])
         AS u(item_id, position, shown_order, pretest, param_version)
    RETURNING id),
seen AS (
    INSERT INTO seen_item (participant_id, program_id, item_id, family_id, attempt_id)
    SELECT %(participant_id)s, %(program_id)s, u.item_id, u.family_id, %(attempt_id)s
    FROM unnest(%(items)s::bigint[], %(families)s::bigint[]) AS u(item_id, family_id)
    RETURNING id),
exposed AS (
    INSERT INTO item_exposure (exam_id, item_id, count)
    SELECT %(exam_id)s, u.item_id, 1 FROM unnest(%(sorted_items)s::bigint[]) AS u(item_id)
    ON CONFLICT (exam_id, item_id) DO UPDATE SET count = item_exposure.count + 1
    RETURNING id)"""
# The same for the one item an answer presents (nearly every write): scalars, which the driver
# adapts for a fraction of the CPU of arrays.
_PRESENTED_ONE = """presented AS (
    INSERT INTO response (attempt_id, item_id, position, shown_order, presented_at, pretest,
                          param_version)
    VALUES (%(attempt_id)s, %(item)s, %(position)s, %(order)s::json, %(presented_at)s,
            %(pretest)s, %(param_version)s)
    RETURNING id),
seen AS (
    INSERT INTO seen_item (participant_id, program_id, item_id, family_id, attempt_id)
    VALUES (%(participant_id)s, %(program_id)s, %(item)s, %(family)s, %(attempt_id)s)
    RETURNING id),
exposed AS (
    INSERT INTO item_exposure (exam_id, item_id, count) VALUES (%(exam_id)s, %(item)s, 1)
    ON CONFLICT (exam_id, item_id) DO UPDATE SET count = item_exposure.count + 1
    RETURNING id)"""
_FINISHED = f"""finished AS (
    UPDATE attempt SET state = %(state)s, finished_at = %(finished_at)s,
                       stop_reason = %(stop_reason)s, theta = %(theta)s, se = %(se)s,
                       score = %(score)s, passed = %(passed)s, imputed_items = %(imputed)s,
                       scored_by = %(scored_by)s
    WHERE id = %(attempt_id)s AND state = '{AttemptState.STARTED.value}' RETURNING id)"""
_CERTIFIED = """certified AS (
    INSERT INTO certificate (number, participant_id, program_id, attempt_id, route, score,
                             issued_at)
    VALUES (%(number)s, %(participant_id)s, %(program_id)s, %(attempt_id)s, %(route)s,
            %(certificate_score)s, %(issued_at)s) RETURNING id)"""
_AUDITED = """audited AS (
    INSERT INTO audit_log (actor, action, subject, details)
    SELECT u.actor, u.action, u.subject, u.details::json
    FROM unnest(%(actors)s::text[], %(actions)s::text[], %(subjects)s::text[],
                %(details)s::text[]) WITH ORDINALITY AS u(actor, action, subject, details, n)
    ORDER BY u.n RETURNING id)"""
_WRITES: dict[tuple[bool | int, ...], str] = {}  # by shape and text


# The stem and options of the one presented item, read by the write statement when the pool
# has not cached them yet: the reply shows them, and this saves a round trip of their own.
_WITH_TEXT = ("(SELECT i.stem FROM item i WHERE i.id = %(item)s), "
              "(SELECT i.options FROM item i WHERE i.id = %(item)s), "
              "(SELECT i.image_count FROM item i WHERE i.id = %(item)s)")


def _write_statement(shape: tuple[bool, int, bool, bool, bool], text: bool = False) -> str:
    """The statement for effects of this shape (answer, items presented, finish, certificate,
    audit), then with ``text`` the presented item's stem and options; a handful of texts in
    all, each prepared by the driver once it is used often."""
    sql = _WRITES.get((*shape, text))
    if sql is None:
        presented = _PRESENTED_ONE if shape[1] == 1 else _PRESENTED
        parts = [p for p, on in zip((_ANSWERED, presented, _FINISHED, _CERTIFIED, _AUDITED),
                                    shape, strict=True) if on]
        checks = [f"(SELECT count(*) FROM {name})" for name, on in
                  zip(("answered", "presented", "finished", "certified", "audited"), shape,
                      strict=True) if on]
        if text:
            checks.append(_WITH_TEXT)
        sql = _WRITES[(*shape, text)] = f"WITH {', '.join(parts)} SELECT {', '.join(checks)}"
    return sql


def _int8s(packed: bytes | None) -> np.ndarray:
    """The integers of a ``string_agg(int8send(...))``: a fraction of the CPU of parsing the
    text of arrays of a bank's size."""
    return np.frombuffer(packed or b"", dtype=">i8").astype(np.int64)


def _exposure(packed: bytes | None, attempts_started: int) -> Exposure:
    pairs = _int8s(packed).reshape(-1, 2)
    return Exposure(item_ids=pairs[:, 0], counts=pairs[:, 1],
                    attempts_started=int(attempts_started))


# Program settings by their JSON text: parsing and validating them on every answer cost more
# than reading them.  Frozen, so sharing one object between requests is safe.
_SETTINGS: dict[str, ProgramSettings] = {}


def _settings(text: str) -> ProgramSettings:
    settings = _SETTINGS.get(text)
    if settings is None:
        if len(_SETTINGS) >= 64:
            _SETTINGS.clear()
        settings = _SETTINGS[text] = ProgramSettings.from_json(json.loads(text))
    return settings


class PgStore:
    """Loads and writes on ``connection`` (the raw transaction); ``session`` only names the
    engine whose pool cache is used."""

    def __init__(self, session: Session, connection: psycopg.Connection[Any]) -> None:
        self.engine = session.get_bind().engine
        self.connection = connection
        self.cursor = connection.cursor()

    def _execute(self, sql: str, params: dict[str, Any]) -> psycopg.Cursor[Any]:
        """Every statement of the store goes through here (the tests count them)."""
        return self.cursor.execute(sql, params)

    def _one(self, sql: str, params: dict[str, Any]) -> tuple | None:
        return self._execute(sql, params).fetchone()

    # ------------------------------------------------------------------ reads

    def lock(self, participant_id: int, now: dt.datetime | None) -> tuple[dt.datetime, int]:
        row = self._one(_LOCK, {"participant_id": participant_id})
        if row is None:
            raise NotFound("participant_not_found")
        return (row[0].astimezone(dt.UTC) if now is None else now), row[1]

    def _pool(self, exam: Any, version: int | None) -> Pool | None:
        if version is None:  # no pool_version row: never true after migration 0004
            return None
        materi_id = pool_materi(exam)

        def read() -> PoolRows:
            if materi_id is None:
                rows = self._execute(_POOL_PROGRAM, {"program_id": exam.program_id}).fetchall()
            else:
                rows = self._execute(_POOL_MATERI, {"program_id": exam.program_id,
                                                    "materi_id": materi_id}).fetchall()
            return (rows[0][0] if rows else None), [r[1:] for r in rows]

        return cached_pool(self.engine, (exam.program_id, materi_id), version, read)

    def locked_attempt(self, participant_id: int, attempt_id: int, now: dt.datetime | None,
                       check_version: Callable[[int], None]) -> tuple[dt.datetime, AttemptLoad]:
        """:meth:`lock` then :meth:`attempt`, in one round trip (see ``_LOAD_FUNCTION``);
        ``check_version(session_version)`` comes between the two, as it would there."""
        function = _WITH_FUNCTION.get(self.connection)
        if function is None:
            # Its own transaction, before the event's: the event may still be refused.
            function = _WITH_FUNCTION[self.connection] = setup_connection(self.connection,
                                                                          _LOAD_FUNCTION)
        if not function:
            now, version = self.lock(participant_id, now)
            check_version(version)
            return now, self.attempt(participant_id, attempt_id)
        row = self._one(_LOCKED_ATTEMPT, {"participant_id": participant_id,
                                          "attempt_id": attempt_id})
        if row is None:
            raise NotFound("participant_not_found")
        check_version(row[1])
        return (row[0].astimezone(dt.UTC) if now is None else now), self._attempt(
            participant_id, row[2:])

    def attempt(self, participant_id: int, attempt_id: int) -> AttemptLoad:
        return self._attempt(participant_id, self._one(
            _ATTEMPT, {"attempt_id": attempt_id, "participant_id": participant_id}))

    def _attempt(self, participant_id: int, row: Sequence[Any] | None) -> AttemptLoad:
        if row is None or row[0] is None:
            raise NotFound("attempt_not_found")
        (attempt, exam, materi_code, program_code, settings, version, seen, started, exposed,
         responses, key, certified) = row
        attempt = attempt_facts(attempt)
        # No IDOR: someone else's attempt is indistinguishable from a missing one.
        if attempt.participant_id != participant_id:
            raise NotFound("attempt_not_found")
        exam = exam_facts(exam, materi_code)
        responses = tuple(response_facts(r) for r in responses or ())
        pool = self._pool(exam, version)
        return AttemptLoad(
            attempt=attempt, exam=exam, program_code=program_code,
            settings=_settings(settings), responses=responses, pending_key=key,
            seen=_int8s(seen), exposure=_exposure(exposed, started), pool=pool,
            outside=self._outside(pool, [r.item_id for r in responses if not r.pretest]),
            certified=bool(certified))

    def _outside(self, pool: Pool | None, item_ids: list[int]) -> dict[int, tuple]:
        missing = outside_ids(pool, item_ids)
        if not missing:
            return {}
        return outside_params(self._execute(_OUTSIDE, {"ids": missing}).fetchall())

    def standing(self, participant_id: int, program_id: int) -> Standing:
        settings, exams, attempts, total, done, certificate = self._one(
            _STANDING, {"participant_id": participant_id, "program_id": program_id})
        return Standing(
            settings=_settings(settings),
            exams=tuple(exam_facts(e[:-1], e[-1]) for e in exams or ()),
            attempts=tuple(attempt_facts(a) for a in attempts or ()),
            assignments_total=int(total), assignments_done=int(done),
            certificate=None if certificate is None else CertificateFacts(
                certificate[0], CertificateRoute(certificate[1]), certificate[2]))

    def program(self, participant_id: int, program_id: int) -> tuple[str, str] | None:
        row = self._one(_PROGRAM, {"participant_id": participant_id, "program_id": program_id})
        return None if row is None else (row[0], row[1])

    def start(self, participant_id: int, exam_id: int) -> StartLoad:
        row = self._one(_START, {"participant_id": participant_id, "exam_id": exam_id})
        if row is None:
            raise NotFound("exam_not_found")
        exam, materi_code, program_code, version, nip, enrolled, seen, started, exposed = row
        exam = exam_facts(exam, materi_code)
        running = self._one(_RUNNING, {"participant_id": participant_id,
                                       "program_id": exam.program_id,
                                       "slot": exam_slot(exam.kind, exam.materi_id)})
        return StartLoad(
            participant_id=participant_id, nip=nip, exam=exam, program_code=program_code,
            enrolled=bool(enrolled), standing=self.standing(participant_id, exam.program_id),
            seen=_int8s(seen), exposure=_exposure(exposed, started),
            pool=self._pool(exam, version), running=None if running is None else running[0])

    def text(self, pool: Pool | None, item_id: int) -> tuple[str, list, int]:
        text = None if pool is None else pool.texts.get(item_id)
        if text is None:
            stem, options, images = self._one(_TEXT, {"item_id": item_id})
            text = (stem, list(options), images)
            if pool is not None:
                # Any item shown with this pool, a retired one too: a change to an item moves
                # the pool version, so a text cached here is never stale.
                pool.texts[item_id] = text
        return text

    # ------------------------------------------------------------------ writes

    def apply(self, load: AttemptLoad | StartLoad, effects: Effects) -> int | None:
        if isinstance(load, StartLoad):
            participant_id, attempt_id = load.participant_id, None
        else:
            participant_id, attempt_id = load.attempt.participant_id, load.attempt.id
        exam = load.exam
        if effects.new_attempt is not None:
            new = effects.new_attempt
            row = self._one(_NEW_ATTEMPT, {
                "participant_id": new.participant_id, "program_id": new.program_id,
                "exam_id": new.exam_id, "slot": new.slot, "number": new.number,
                "started_at": new.started_at, "deadline": new.deadline, "seed": new.seed})
            if row is None:
                # The unique (slot, number) / one-running-attempt constraints caught a race the
                # lock should have prevented; report it as the conflict it is.
                raise Conflict("start_in_progress")
            attempt_id = row[0]
        shape = (effects.answer is not None, min(len(effects.present), 2),
                 effects.finish is not None, effects.certificate is not None, bool(effects.audit))
        if any(shape):
            params: dict[str, Any] = {"attempt_id": attempt_id, "participant_id": participant_id,
                                      "program_id": exam.program_id, "exam_id": exam.id}
            if effects.answer is not None:
                a = effects.answer
                params.update(response_id=a.response_id, shown_choice=a.shown_choice,
                              choice=a.choice, correct=a.correct, answered_at=a.answered_at)
            if len(effects.present) == 1:
                p = effects.present[0]
                params.update(item=p.item_id, position=p.position,
                              order=json.dumps(list(p.shown_order)),
                              presented_at=p.presented_at, pretest=p.pretest,
                              param_version=p.param_version, family=p.seen_family)
            elif effects.present:
                items = [p.item_id for p in effects.present]
                params.update(items=items, sorted_items=sorted(items),
                              families=[p.seen_family for p in effects.present],
                              positions=[p.position for p in effects.present],
                              orders=[json.dumps(list(p.shown_order)) for p in effects.present],
                              pretests=[p.pretest for p in effects.present],
                              param_versions=[p.param_version for p in effects.present],
                              presented_at=effects.present[0].presented_at)
            if effects.finish is not None:
                f = effects.finish
                params.update(state=f.state.value, finished_at=f.finished_at,
                              stop_reason=f.stop_reason, theta=f.theta, se=f.se, score=f.score,
                              passed=f.passed, imputed=Json(list(f.imputed)),
                              scored_by=f.scored_by)
            if effects.certificate is not None:
                c = effects.certificate
                params.update(number=c.number, route=c.route.value,
                              certificate_score=c.score, issued_at=c.issued_at)
            if effects.audit:
                params.update(actors=[e.actor for e in effects.audit],
                              actions=[e.action for e in effects.audit],
                              subjects=[e.subject or f"attempt:{attempt_id}"
                                        for e in effects.audit],
                              details=[json.dumps(dict(e.details)) for e in effects.audit])
            pool = load.pool
            text = (len(effects.present) == 1 and pool is not None
                    and effects.present[0].item_id not in pool.texts)
            row = self._one(_write_statement(shape, text), params)
            counts = row[:-3] if text else row
            expected = [1 if shape[0] else None, len(effects.present) if shape[1] else None,
                        1 if shape[2] else None, 1 if shape[3] else None,
                        len(effects.audit) if shape[4] else None]
            # Cannot differ under the participant's lock; never store half of an event.
            if list(counts) != [e for e in expected if e is not None]:
                raise Conflict("answered_with_other_option" if effects.answer is not None
                               and counts[0] != 1 else "attempt_finished")
            if text and row[-3] is not None:
                # As :meth:`text` caches it (a change to an item moves the pool version).
                pool.texts[effects.present[0].item_id] = (row[-3], list(row[-2]), row[-1])
        if effects.new_attempt is not None:
            # Last, as in the ORM store: the exam's row stays locked only until the commit.
            self._execute(_BUMP_STARTED, {"exam_id": exam.id})
        return attempt_id

