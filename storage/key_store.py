"""Signing keys and trust bundles in SQL, behind :class:`custody.ports.KeyStore`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func
from sqlmodel import Session, col, select

from custody.keys import KeyRole, PublicKeyRecord
from storage._sql import commit_insert
from storage.tables import SigningKeyRow, TrustBundleRow

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.engine import Engine

__all__ = ["SqlKeyStore"]


class SqlKeyStore:
    """Keys and bundles in SQL tables. Private halves arrive encrypted and stay so."""

    def __init__(self, bind: Engine | Session) -> None:
        self._session = bind if isinstance(bind, Session) else Session(bind)

    def insert_key(self, record: PublicKeyRecord, encrypted_private: bytes | None) -> None:
        row = SigningKeyRow(
            name=record.name,
            kid=record.kid.hex(),
            owner=record.owner,
            role=record.role.value,
            public_key=record.public_key,
            encrypted_private=encrypted_private,
            valid_from=record.valid_from,
            valid_until=record.valid_until,
            revoked_at=record.revoked_at,
            revocation_reason=record.revocation_reason,
        )
        commit_insert(self._session, row, record.name, f"key {record.name}")

    def get_key(self, name: str) -> tuple[PublicKeyRecord, bytes | None] | None:
        row = self._session.get(SigningKeyRow, name)
        return None if row is None else (_record(row), row.encrypted_private)

    def list_keys(self) -> list[PublicKeyRecord]:
        rows = self._session.exec(select(SigningKeyRow).order_by(col(SigningKeyRow.name)))
        return [_record(row) for row in rows]

    def mark_revoked(self, record: PublicKeyRecord) -> None:
        row = self._session.get(SigningKeyRow, record.name)
        if row is None or row.revoked_at is not None:
            return  # unknown, or revoked already: the first revocation stands
        row.revoked_at = record.revoked_at
        row.revocation_reason = record.revocation_reason
        self._session.add(row)
        self._session.commit()

    def insert_bundle(self, version: int, issued_at: datetime, signed: bytes) -> None:
        row = TrustBundleRow(version=version, issued_at=issued_at, signed=signed)
        commit_insert(self._session, row, version, f"trust bundle {version}")

    def latest_bundle_version(self) -> int | None:
        return self._session.exec(select(func.max(TrustBundleRow.version))).one()

    def latest_bundle(self) -> tuple[int, bytes] | None:
        query = select(TrustBundleRow).order_by(col(TrustBundleRow.version).desc()).limit(1)
        row = self._session.exec(query).first()
        return None if row is None else (row.version, row.signed)


def _record(row: SigningKeyRow) -> PublicKeyRecord:
    return PublicKeyRecord(
        name=row.name,
        owner=row.owner,
        role=KeyRole(row.role),
        public_key=row.public_key,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        revoked_at=row.revoked_at,
        revocation_reason=row.revocation_reason,
    )
