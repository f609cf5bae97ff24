"""Accounts, their tokens and the officers' read log in SQL.

Accounts are disabled, never deleted, and tokens revoked, never deleted: who could act when
stays answerable. The read log is only ever appended to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from custody.access import Principal, Role
from custody.errors import AccountNotFound, AlreadyRegistered
from storage.tables import AccessTokenRow, AccountRow, ReadLogRow

if TYPE_CHECKING:
    from sqlmodel import Session

__all__ = ["Account", "ReadEntry", "SqlAccessStore", "TokenRecord"]


@dataclass(frozen=True, slots=True)
class Account:
    """An account as stored: the principal it authenticates as, and its state."""

    principal: Principal
    display_name: str
    created_at: datetime
    disabled_at: datetime | None
    has_password: bool


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """What is stored of a token: never its secret."""

    token_id: str
    account: str
    digest: str
    session: bool
    label: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None

    def live(self, now: datetime) -> bool:
        """Whether the token still lets its holder in."""
        return self.revoked_at is None and now < self.expires_at


@dataclass(frozen=True, slots=True)
class ReadEntry:
    """One line of the read log."""

    at: datetime
    account: str
    role: str
    method: str
    target: str
    status: int


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def _account(row: AccountRow) -> Account:
    districts = tuple(d for d in row.districts.split(",") if d)
    principal = Principal(row.name, Role(row.role), row.party, districts, device=row.device)
    created = _utc(row.created_at)
    assert created is not None  # noqa: S101  # the column is NOT NULL
    return Account(principal, row.display_name, created, _utc(row.disabled_at),
                   row.password_hash is not None)  # fmt: skip


def _token(row: AccessTokenRow) -> TokenRecord:
    created, expires = _utc(row.created_at), _utc(row.expires_at)
    assert created is not None  # noqa: S101  # NOT NULL
    assert expires is not None  # noqa: S101  # NOT NULL
    return TokenRecord(row.token_id, row.account, row.digest, row.session, row.label, created,
                       expires, _utc(row.revoked_at))  # fmt: skip


class SqlAccessStore:
    """Accounts, tokens and the read log on one session; each write commits."""

    def __init__(self, session: Session) -> None:
        self._session = session

    # -- accounts ----------------------------------------------------------------------------

    def add_account(
        self, principal: Principal, *, password_hash: str | None, display_name: str, now: datetime
    ) -> Account:
        """Store a new account; a name already taken is refused."""
        row = AccountRow(name=principal.name, role=principal.role.value, party=principal.party,
                         districts=",".join(principal.districts), device=principal.device,
                         password_hash=password_hash, display_name=display_name,
                         created_at=now)  # fmt: skip
        self._session.add(row)
        try:
            self._session.commit()
        except IntegrityError:
            self._session.rollback()
            raise AlreadyRegistered(
                f"an account named {principal.name!r} exists",
                zh=f"账户“{principal.name}”已存在",
                name=principal.name,
            ) from None
        return _account(row)

    def account(self, name: str) -> Account:
        """The account of that name, or ``AccountNotFound``."""
        row = self._session.get(AccountRow, name)
        if row is None:
            raise AccountNotFound(f"no account named {name!r}", zh=f"未找到账户“{name}”", name=name)
        return _account(row)

    def password_hash(self, name: str) -> str | None:
        """The stored password hash, if the account logs in with a password."""
        row = self._session.get(AccountRow, name)
        return None if row is None else row.password_hash

    def accounts(self) -> list[Account]:
        """Every account, by name."""
        rows = self._session.exec(select(AccountRow).order_by(col(AccountRow.name)))
        return [_account(r) for r in rows]

    def disable(self, name: str, now: datetime) -> Account:
        """Disable an account (its tokens stop working with it); a second call changes nothing."""
        self.account(name)
        self._session.execute(
            update(AccountRow)
            .where(col(AccountRow.name) == name, col(AccountRow.disabled_at).is_(None))
            .values(disabled_at=now)
        )
        self._session.commit()
        return self.account(name)

    # -- tokens ------------------------------------------------------------------------------

    def add_token(self, token: TokenRecord) -> None:
        """Store a new token (its digest only)."""
        self._session.add(AccessTokenRow(
            token_id=token.token_id, account=token.account, digest=token.digest,
            session=token.session, label=token.label, created_at=token.created_at,
            expires_at=token.expires_at,
        ))  # fmt: skip
        self._session.commit()

    def token(self, token_id: str) -> TokenRecord | None:
        """The token with that id."""
        row = self._session.get(AccessTokenRow, token_id)
        return None if row is None else _token(row)

    def tokens(self, account: str | None = None) -> list[TokenRecord]:
        """Tokens, newest first; of one account if named."""
        query = select(AccessTokenRow).order_by(col(AccessTokenRow.created_at).desc())
        if account is not None:
            query = query.where(col(AccessTokenRow.account) == account)
        return [_token(r) for r in self._session.exec(query)]

    def revoke(self, token_id: str, now: datetime) -> TokenRecord:
        """Revoke a token; revoking it again keeps the first time."""
        if self.token(token_id) is None:
            raise AccountNotFound(f"no token {token_id!r}", zh=f"未找到令牌“{token_id}”",
                                  token=token_id)  # fmt: skip
        self._session.execute(
            update(AccessTokenRow)
            .where(
                col(AccessTokenRow.token_id) == token_id, col(AccessTokenRow.revoked_at).is_(None)
            )
            .values(revoked_at=now)
        )
        self._session.commit()
        found = self.token(token_id)
        assert found is not None  # noqa: S101  # just read
        return found

    # -- the read log ------------------------------------------------------------------------

    def record_read(self, entry: ReadEntry) -> None:
        """Append one read to the log."""
        self._session.add(ReadLogRow(at=entry.at, account=entry.account, role=entry.role,
                                     method=entry.method, target=entry.target,
                                     status=entry.status))  # fmt: skip
        self._session.commit()

    def reads(
        self,
        *,
        account: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[tuple[int, ReadEntry]]:
        """Reads, newest first, with their ids (the cursor for the next page)."""
        query = select(ReadLogRow).order_by(col(ReadLogRow.id).desc()).limit(limit)
        if account is not None:
            query = query.where(col(ReadLogRow.account) == account)
        if since is not None:
            query = query.where(col(ReadLogRow.at) >= since)
        if before_id is not None:
            query = query.where(col(ReadLogRow.id) < before_id)
        return [(r.id or 0, ReadEntry(_utc(r.at) or r.at, r.account, r.role, r.method, r.target,
                                      r.status)) for r in self._session.exec(query)]  # fmt: skip
