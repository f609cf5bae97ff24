"""What every SQL store shares: inserting a row in its own transaction, errors mapped."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import any_, bindparam, literal
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from custody.errors import AlreadyRegistered, StorageError

if TYPE_CHECKING:
    from collections.abc import Collection

    from sqlalchemy import ColumnElement
    from sqlalchemy.engine import Connection
    from sqlmodel import Session, SQLModel

__all__ = ["among", "commit_insert"]


def among(
    conn: Connection, column: ColumnElement[Any], values: Collection[Any]
) -> ColumnElement[bool]:
    """``column IN values``; on PostgreSQL ``column = ANY(array)``, one parameter.

    An IN list of 500 parameters cost PostgreSQL (parse, plan) and psycopg (split, bind)
    about 1.7 ms more per query than one array: 7 µs per event on a batched ledger append.
    """
    if conn.dialect.name == "postgresql":
        return column == any_(literal(list(values), ARRAY(column.type)))
    # One expanding parameter: a plain list is coerced value by value (1 µs a key here).
    return column.in_(bindparam(None, list(values), expanding=True))


def commit_insert(session: Session, row: SQLModel, key: object, identity: str) -> None:
    """Insert ``row`` and commit.

    A constraint failure is ``AlreadyRegistered`` when a row with primary key ``key`` exists
    (pass ``None`` for generated keys), otherwise ``StorageError``.
    """
    try:
        session.add(row)
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        if key is not None and session.get(type(row), key) is not None:
            raise AlreadyRegistered(
                f"{identity} is already registered", zh=f"{identity} 已登记", identity=identity
            ) from exc
        raise StorageError(
            f"{identity} breaks a database constraint (does what it refers to exist?)",
            zh=f"{identity} 违反数据库约束（所引用的记录是否已登记？）",
        ) from exc
    except SQLAlchemyError as exc:
        session.rollback()
        raise StorageError(
            f"the database refused to store {identity}: {exc.__class__.__name__}",
            zh=f"数据库未能保存 {identity}",
        ) from exc
