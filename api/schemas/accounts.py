"""Accounts, tokens and the read log over HTTP. No secret is ever sent back but once."""

from __future__ import annotations

from datetime import datetime  # pydantic reads annotations at run time
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from custody.access import Principal, Role

if TYPE_CHECKING:
    from storage.access_store import Account, ReadEntry, TokenRecord

__all__ = [
    "AccountCreate",
    "AccountPublic",
    "ReadLogPage",
    "ReadPublic",
    "TokenCreate",
    "TokenIssued",
    "TokenPublic",
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccountCreate(_Body):
    """A new account: a person (with a password, to log in on the pages) or a device."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@\-]+$",
                      examples=["police.wang"])  # fmt: skip
    role: Role
    party: str | None = Field(
        default=None, description="Credit code of the company a party account acts for."
    )
    districts: list[str] = Field(
        default_factory=list,
        max_length=200,
        description="An officer's jurisdiction: GB/T 2260 division codes or prefixes (2/4/6).",
        examples=[["5101", "510700"]],
    )
    device: bool = Field(default=False, description="A device or program, not a person.")
    password: str | None = Field(
        default=None, min_length=12, max_length=200, description="For people who log in."
    )
    display_name: str = Field(default="", max_length=200)

    def principal(self) -> Principal:
        """The principal the account will authenticate as (checked by the core)."""
        return Principal(self.name, self.role, self.party, tuple(self.districts),
                         device=self.device)  # fmt: skip


class AccountPublic(BaseModel):
    """An account as shown: never its password."""

    name: str
    role: Role
    role_zh: str
    party: str | None
    districts: list[str]
    device: bool
    display_name: str
    created_at: datetime
    disabled_at: datetime | None
    logs_in_with_password: bool

    @classmethod
    def of(cls, account: Account) -> AccountPublic:
        """The public view of a stored account."""
        p = account.principal
        return cls(name=p.name, role=p.role, role_zh=p.role.zh, party=p.party,
                   districts=list(p.districts), device=p.device,
                   display_name=account.display_name, created_at=account.created_at,
                   disabled_at=account.disabled_at,
                   logs_in_with_password=account.has_password)  # fmt: skip


class TokenCreate(_Body):
    """A token for a program or a device."""

    days: float | None = Field(
        default=None, gt=0, le=3650, description="Lifetime; unset: CUSTODY_TOKEN_DAYS."
    )
    label: str = Field(default="", max_length=200, description="What it is for.")


class TokenPublic(BaseModel):
    """A token as shown after it was issued: its id and state, never its secret."""

    token_id: str
    account: str
    label: str
    session: bool = Field(description="A login on the pages, not a token given to a program.")
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, token: TokenRecord) -> TokenPublic:
        """The public view of a stored token."""
        return cls(token_id=token.token_id, account=token.account, label=token.label,
                   session=token.session, created_at=token.created_at,
                   expires_at=token.expires_at, revoked_at=token.revoked_at)  # fmt: skip


class TokenIssued(TokenPublic):
    """A token just issued: ``token`` is shown this once and is not stored."""

    token: str = Field(description="Send as 'Authorization: Bearer <token>'. Shown only once.")


class ReadPublic(BaseModel):
    """One read by an officer."""

    at: datetime
    account: str
    role: str
    method: str
    target: str = Field(description="Path and query asked for.")
    status: int = Field(description="HTTP status answered.")

    @classmethod
    def of(cls, entry: ReadEntry) -> ReadPublic:
        """The public view of a log line."""
        return cls(at=entry.at, account=entry.account, role=entry.role, method=entry.method,
                   target=entry.target, status=entry.status)  # fmt: skip


class ReadLogPage(BaseModel):
    """A page of the read log, newest first."""

    items: list[ReadPublic]
    next: str | None = Field(description="Pass as `cursor` for the next page; null at the end.")
