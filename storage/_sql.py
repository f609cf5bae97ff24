"""What every SQL store shares: inserting a row in its own transaction, errors mapped."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from custody.errors import AlreadyRegistered, StorageError

if TYPE_CHECKING:
    from sqlmodel import Session, SQLModel

__all__ = ["commit_insert"]


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
