"""Accounts and tokens (administrators), who am I (anyone signed in), and the read log.

Tokens are shown once when issued and stored only as digests. Revoking one takes effect on
the next request. The read log lists every read by an officer, newest first.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from api.auth import Access, PrincipalDep, allow, writer
from api.endpoints.deps import SessionDep  # noqa: TC001  # FastAPI reads it at runtime
from api.schemas.accounts import (
    AccountCreate,
    AccountPublic,
    ReadLogPage,
    ReadPublic,
    TokenCreate,
    TokenIssued,
    TokenPublic,
)
from api.schemas.times import Instant
from custody.access import Principal, Role
from custody.errors import AccountNotFound, RecordInvalid
from storage.access_store import SqlAccessStore

router = APIRouter(tags=["accounts"])

_PROBLEMS: dict[int | str, dict[str, object]] = {
    404: {"description": "No such account or token (problem details)"},
    409: {"description": "An account of that name exists (problem details)"},
    422: {"description": "Invalid field (problem details)"},
}

AdminDep = Annotated[Principal, Depends(writer())]
AdminReaderDep = Annotated[Principal, Depends(allow())]


def _access(session: SessionDep) -> Access:
    return Access(SqlAccessStore(session))


AccessDep = Annotated[Access, Depends(_access)]


@router.post("/accounts", status_code=status.HTTP_201_CREATED, responses=_PROBLEMS)
def create_account(body: AccountCreate, access: AccessDep, _: AdminDep) -> AccountPublic:
    """Open an account (administrators)."""
    account = access.create_account(body.principal(), password=body.password,
                                    display_name=body.display_name)  # fmt: skip
    return AccountPublic.of(account)


@router.get("/accounts", responses=_PROBLEMS)
def list_accounts(access: AccessDep, _: AdminReaderDep) -> list[AccountPublic]:
    """Every account (administrators)."""
    return [AccountPublic.of(a) for a in access.store.accounts()]


@router.get("/me", responses=_PROBLEMS)
def who_am_i(access: AccessDep, principal: PrincipalDep) -> AccountPublic:
    """The signed-in account."""
    return AccountPublic.of(access.store.account(principal.name))


@router.post("/accounts/{name}/disablement", responses=_PROBLEMS)
def disable_account(name: str, access: AccessDep, _: AdminDep) -> AccountPublic:
    """Disable an account: none of its tokens lets anyone in any more."""
    return AccountPublic.of(access.disable(name))


@router.post("/accounts/{name}/tokens", status_code=status.HTTP_201_CREATED, responses=_PROBLEMS)
def issue_token(
    name: str, body: TokenCreate, request: Request, access: AccessDep, _: AdminDep
) -> TokenIssued:
    """Issue a token for a program or device; its text is in this answer only."""
    days = body.days or request.app.state.settings.token_days
    record, text = access.issue(name, days=days, label=body.label)
    return TokenIssued(**TokenPublic.of(record).model_dump(), token=text)


@router.get("/accounts/{name}/tokens", responses=_PROBLEMS)
def list_tokens(name: str, access: AccessDep, _: AdminReaderDep) -> list[TokenPublic]:
    """An account's tokens and logins, newest first (never their secrets)."""
    access.store.account(name)
    return [TokenPublic.of(t) for t in access.store.tokens(name)]


@router.post("/tokens/{token_id}/revocation", responses=_PROBLEMS)
def revoke_token(token_id: str, access: AccessDep, principal: PrincipalDep) -> TokenPublic:
    """Revoke a token: administrators any, an account its own."""
    token = access.store.token(token_id)
    mine = token is not None and token.account == principal.name
    if token is None or not (mine or principal.role is Role.ADMINISTRATOR):
        raise AccountNotFound(f"no token {token_id!r}", zh=f"未找到令牌“{token_id}”",
                              token=token_id)  # fmt: skip
    return TokenPublic.of(access.revoke(token_id))


@router.get("/read-log", responses={422: _PROBLEMS[422]})
def read_log(
    access: AccessDep,
    _: AdminReaderDep,
    account: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[Instant | None, Query(description="Reads at or after.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> ReadLogPage:
    """Officers' reads, newest first: who looked at what, when, and what they were answered."""
    if cursor is not None and not cursor.isdigit():
        raise RecordInvalid("the cursor is not a read log position", zh="分页游标无效",
                            field="cursor")  # fmt: skip
    found = access.store.reads(account=account, since=since, limit=limit + 1,
                               before_id=int(cursor) if cursor else None)  # fmt: skip
    page = found[:limit]
    more = len(found) > limit
    return ReadLogPage(items=[ReadPublic.of(e) for _, e in page],
                       next=str(page[-1][0]) if more else None)  # fmt: skip
