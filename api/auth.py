"""Who is asking: accounts, tokens, login sessions, role checks, the read log, write limits.

Programs (scanners, checkpoint stations, other systems) send ``Authorization: Bearer <token>``;
people log in on ``/login`` and carry the same kind of token in an HttpOnly cookie. Either
way the token is looked up by its id and its secret compared by digest; it must be neither
expired nor revoked, and its account not disabled.

Each route states who may call it with :func:`allow` (reads) or :func:`writer` (writes, rate
limited). What a principal may *see* is decided in ``custody.access``; endpoints filter by it.
Every read by an officer, whatever its answer, is written to the read log before the
response leaves; if it cannot be written, the officer gets a 503 instead of the data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from api.endpoints.deps import SessionDep  # noqa: TC001  # FastAPI reads it at runtime
from api.problems import problem_response
from custody.access import Principal, Role
from custody.credentials import (
    check_password,
    digests_match,
    hash_password,
    issue_token,
    parse_token,
)
from custody.errors import Forbidden, NotAuthenticated, RateLimited
from storage.access_store import Account, ReadEntry, SqlAccessStore, TokenRecord

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from fastapi import FastAPI
    from sqlmodel import Session
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "SESSION_COOKIE",
    "Access",
    "LoginRequired",
    "PageForbidden",
    "PrincipalDep",
    "allow",
    "decided_by",
    "install_read_log",
    "page_for",
    "writer",
]

SESSION_COOKIE = "custody_session"
#: Who acts when authentication is switched off (a closed test bench only).
UNAUTHENTICATED = Principal("anonymous", Role.ADMINISTRATOR)
_log = logging.getLogger("custody.api")
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Access:
    """Accounts and tokens on a store: create, issue, authenticate, log in, revoke."""

    store: SqlAccessStore

    def create_account(
        self, principal: Principal, *, password: str | None = None, display_name: str = ""
    ) -> Account:
        """A new account; people who log in on the pages get a password."""
        hashed = hash_password(password) if password is not None else None
        return self.store.add_account(
            principal, password_hash=hashed, display_name=display_name, now=_now()
        )

    def issue(
        self, name: str, *, days: float, label: str = "", session: bool = False
    ) -> tuple[TokenRecord, str]:
        """A new token for an enabled account: its record and its text (shown once)."""
        account = self.store.account(name)
        if account.disabled_at is not None:
            raise Forbidden(f"account {name!r} is disabled", zh=f"账户“{name}”已停用", name=name)
        issued, now = issue_token(), _now()
        record = TokenRecord(issued.token_id, name, issued.digest, session, label, now,
                             now + timedelta(days=days), None)  # fmt: skip
        self.store.add_token(record)
        return record, issued.text

    def authenticate(self, text: str) -> Principal:
        """The principal a presented token stands for, or ``NotAuthenticated``."""
        token_id, digest = parse_token(text)
        record = self.store.token(token_id)
        if record is None or not digests_match(digest, record.digest):
            raise NotAuthenticated("the token is not known", zh="令牌无效")
        if record.revoked_at is not None:
            raise NotAuthenticated("the token was revoked", zh="令牌已被吊销", token=token_id)
        if not record.live(_now()):
            raise NotAuthenticated("the token has expired", zh="令牌已过期", token=token_id)
        account = self.store.account(record.account)
        if account.disabled_at is not None:
            raise NotAuthenticated("the account is disabled", zh="账户已停用", token=token_id)
        return account.principal

    def login(self, name: str, password: str, *, hours: float) -> str:
        """A session token for a person whose password matches; one message for every miss."""
        stored = self.store.password_hash(name)
        if stored is None or not check_password(password, stored):
            raise NotAuthenticated("wrong account name or password", zh="账户名或密码错误")
        _, text = self.issue(name, days=hours / 24, label="login", session=True)
        return text

    def disable(self, name: str) -> Account:
        """Disable an account at once."""
        return self.store.disable(name, _now())

    def revoke(self, token_id: str) -> TokenRecord:
        """Revoke a token at once."""
        return self.store.revoke(token_id, _now())


def _presented(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise NotAuthenticated(
                "use 'Authorization: Bearer <token>'", zh="请使用 Bearer 令牌（Authorization 头）"
            )
        return value.strip()
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        _same_origin(request)
        return cookie
    return None


def _same_origin(request: Request) -> None:
    """A write carried by the login cookie must come from our own pages (no cross-site forms)."""
    if request.method in _SAFE:
        return
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin and urlsplit(origin).netloc != request.headers.get("host", ""):
        raise Forbidden("a cross-site request with the login cookie", zh="拒绝跨站请求")


def _principal(request: Request, session: SessionDep) -> Principal | None:
    """The authenticated principal, None for an anonymous caller."""
    if not request.app.state.settings.auth:
        return UNAUTHENTICATED
    text = _presented(request)
    if text is None:
        return None
    principal = Access(SqlAccessStore(session)).authenticate(text)
    request.state.principal = principal
    if principal.role.is_officer and request.method in {"GET", "HEAD"}:
        _log_reads_of(request, principal, session)
    return principal


def _log_reads_of(request: Request, principal: Principal, session: Session) -> None:
    """Arrange for this read to be logged once its status is known (see ``install_read_log``)."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")

    def record(status: int) -> None:
        entry = ReadEntry(_now(), principal.name, principal.role.value, request.method,
                          target, status)  # fmt: skip
        SqlAccessStore(session).record_read(entry)

    request.state.read_log = record


MaybePrincipalDep = Annotated[Principal | None, Depends(_principal)]


#: For the OpenAPI document only (the header is read by ``_presented``, cookies too).
_BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="`Authorization: Bearer cst_…` (custody accounts token NAME). The pages log "
    "people in with a cookie instead.",
)


async def _signed_in(
    principal: MaybePrincipalDep,
    _documented: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
) -> Principal:
    if principal is None:
        raise NotAuthenticated("sign in or send a bearer token", zh="请先登录或提供令牌")
    return principal


PrincipalDep = Annotated[Principal, Depends(_signed_in)]


def _refuse(principal: Principal, roles: frozenset[Role]) -> None:
    if principal.role is not Role.ADMINISTRATOR and principal.role not in roles:
        names = "、".join(sorted(r.zh for r in roles)) or "系统管理员"
        raise Forbidden(
            f"a {principal.role} account may not do this",
            zh=f"{principal.role.zh}账户无此权限（限{names}）",
            role=principal.role.value,
        )


def allow(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency: the principal, if its role is one of ``roles`` (administrators always)."""
    allowed = frozenset(roles)

    async def check(principal: PrincipalDep) -> Principal:
        _refuse(principal, allowed)
        return principal

    return check


def writer(*roles: Role) -> Callable[[Request, Principal], Awaitable[Principal]]:
    """Like :func:`allow`, for a write: it also spends one of the account's write tokens."""
    allowed = frozenset(roles)

    async def check(request: Request, principal: PrincipalDep) -> Principal:
        _refuse(principal, allowed)
        wait = request.app.state.write_limiter.take(principal.name)
        if wait is not None:
            raise RateLimited(
                f"too many writes; try again in {wait:.0f} s",
                zh=f"写入过于频繁，请 {max(1, round(wait))} 秒后重试",
                retry_after_s=round(wait, 1),
            )
        return principal

    return check


def require_party_match(principal: Principal, party: str) -> None:
    """A party account acts only for its own company."""
    if principal.role.is_party and principal.party != party:
        raise Forbidden(
            f"a {principal.role} account acts only for its own party",
            zh="只能以本单位名义操作",
            party=party,
        )


class LoginRequired(Exception):  # a redirect, not a failure
    """A page asked for by someone not signed in: send them to the login page and back."""

    def __init__(self, back_to: str) -> None:
        super().__init__(back_to)
        self.back_to = back_to


class PageForbidden(Exception):  # shown as a page, not a problem document
    """A page the signed-in account's role does not open."""

    def __init__(self, principal: Principal) -> None:
        super().__init__(principal.name)
        self.principal = principal


def page_for(*roles: Role) -> Callable[[Request, Session], Principal]:
    """A dependency for a page: the principal, else a redirect to log in, or a refusal page."""
    allowed = frozenset(roles)

    def check(request: Request, session: SessionDep) -> Principal:
        back_to = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        try:
            principal = _principal(request, session)
        except NotAuthenticated:  # an expired or revoked login: log in again
            raise LoginRequired(back_to) from None
        if principal is None:
            raise LoginRequired(back_to)
        try:
            _refuse(principal, allowed)
        except Forbidden:
            raise PageForbidden(principal) from None
        return principal

    return check


def decided_by(principal: Principal, claimed: str | None) -> str:
    """Who a decision is recorded under: the account, never what the body claims."""
    if principal is UNAUTHENTICATED and claimed:
        return claimed
    return principal.name


def install_read_log(app: FastAPI) -> None:
    """Write each officer's read to the log before the response leaves."""
    app.add_middleware(_ReadLog)


class _ReadLog:
    """ASGI middleware: hold the response's start until the read it answers is logged.

    A dependency leaves ``read_log`` in the request's state for an officer's read. If the
    log cannot be written the answer is replaced by a 503: no data goes out that nobody
    recorded being read. Plain ASGI, not ``BaseHTTPMiddleware``: that one costs a task and
    a stream per request on every route.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = False

        async def send_once_logged(message: Message) -> None:
            nonlocal refused
            if refused:  # the 503 went out instead; the rest of the answer is dropped
                return
            record = scope.get("state", {}).get("read_log")
            if message["type"] == "http.response.start" and record is not None:
                try:
                    await run_in_threadpool(record, message["status"])
                except Exception:  # noqa: BLE001  # any failure to log refuses the answer
                    _log.exception("could not write the read log")
                    refused = True
                    await _UNLOGGED(scope, receive, send)
                    return
            await send(message)

        await self.app(scope, receive, send_once_logged)


_UNLOGGED = problem_response(503, "read-log-unavailable", "Read log unavailable",
                             "the read could not be recorded, so it is not answered",
                             title_zh="查询记录无法写入",
                             detail_zh="查询记录无法写入，故不予返回结果")  # fmt: skip
