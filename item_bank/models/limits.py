"""What a column can hold, checked when a value is assigned to a mapped attribute.

PostgreSQL refuses a string longer than its ``VARCHAR(n)``, a NUL character in any text and
an integer outside its column's type; no driver can encode a lone surrogate (``"\\ud800"``,
which JSON may carry) as UTF-8.  The database would report these at flush time as driver
errors; here every string and integer column of the models refuses them on assignment with a
ValueError naming the attribute, on both databases alike, with the limits read from the
column types themselves.  The server uses :func:`text_problem` for the strings of a request.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, Integer, SmallInteger, String, event
from sqlalchemy.orm import Mapper

from .base import Base

# The range of each integer column type (PostgreSQL's smallint, integer, bigint).
_INT_BITS: tuple[tuple[type, int], ...] = ((BigInteger, 64), (SmallInteger, 16), (Integer, 32))

TEXT_PROBLEMS = ("nul", "surrogate", "too_long")


def text_problem(value: str, max_length: int | None = None) -> str | None:
    """Why ``value`` cannot be stored (one of :data:`TEXT_PROBLEMS`), or None."""
    if "\x00" in value:
        return "nul"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "surrogate"
    if max_length is not None and len(value) > max_length:
        return "too_long"
    return None


def max_length(attribute: Any) -> int | None:
    """The length of the string column behind a mapped attribute (``Participant.nip``)."""
    length = getattr(attribute.property.columns[0].type, "length", None)
    return length if isinstance(length, int) else None


def int_range(column_type: Any) -> tuple[int, int] | None:
    """The values an integer column type holds, or None for other types."""
    for kind, bits in _INT_BITS:
        if isinstance(column_type, kind):
            return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return None


def column_value_problem(column: Column, value: Any) -> str | None:
    """An English sentence saying why ``value`` does not fit ``column``, or None."""
    if isinstance(value, str) and isinstance(column.type, String):
        length = column.type.length
        problem = text_problem(value, length)
        if problem == "nul":
            return "must not contain a NUL character"
        if problem == "surrogate":
            return "must not contain a lone surrogate (not UTF-8 text)"
        if problem == "too_long":
            return f"is longer than {length} characters ({len(value)})"
    elif isinstance(value, int) and not isinstance(value, bool):
        bounds = int_range(column.type)
        if bounds is not None and not bounds[0] <= value <= bounds[1]:
            return f"must be within {bounds[0]}..{bounds[1]}"
    return None


def _checker(key: str, column: Column):
    def check(_target: Any, value: Any, _old: Any, _initiator: Any) -> None:
        problem = column_value_problem(column, value)
        if problem is not None:
            raise ValueError(f"{key} {problem}")

    return check


@event.listens_for(Base, "mapper_configured", propagate=True)
def _install_checks(mapper: Mapper, cls: type) -> None:
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        if isinstance(column, Column) and (isinstance(column.type, String)
                                           or int_range(column.type) is not None):
            event.listen(mapper.class_manager[prop.key], "set", _checker(prop.key, column))
