"""``custody accounts``: open accounts, issue and revoke tokens, read the officers' read log.

Run where the database is (it is the administrator's tool, like ``custody db``). A token is
printed once, alone on standard output, so a script can take it: ``TOKEN=$(custody accounts
token scanner-17)``. Passwords are read from the terminal or from standard input, never from
an option (options end up in shell history).
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from sqlmodel import Session

from api.auth import Access
from api.console import reported, table
from api.settings import Settings
from custody.access import Principal, Role
from storage.access_store import SqlAccessStore
from storage.engine import make_engine

if TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import datetime

__all__ = ["accounts_app"]

accounts_app = typer.Typer(
    name="accounts",
    help="账户与令牌 · Accounts and tokens: add, list, disable, token, revoke, reads.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@contextmanager
def _access() -> Iterator[Access]:
    engine = make_engine(Settings().effective_database_url)
    try:
        with Session(engine) as session:
            yield Access(SqlAccessStore(session))
    finally:
        engine.dispose()


def _when(value: datetime | None) -> str:
    return "-" if value is None else f"{value:%Y-%m-%d %H:%M} UTC"


def _password(*, stdin: bool) -> str:
    if stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt("密码 Password", hide_input=True, confirmation_prompt=True))


@accounts_app.command("add")
def add_command(  # noqa: PLR0913  # one option per field of the account
    name: Annotated[str, typer.Argument(help="Account name, e.g. police.wang or scanner-17.")],
    *,
    role: Annotated[Role, typer.Option(help="What the account does.")],
    party: Annotated[
        str | None, typer.Option(help="Credit code of the company a party account acts for.")
    ] = None,
    district: Annotated[
        list[str] | None,
        typer.Option(help="An officer's district: GB/T 2260 code or prefix (repeatable)."),
    ] = None,
    device: Annotated[bool, typer.Option(help="A device or program, not a person.")] = False,
    password: Annotated[
        bool, typer.Option("--password", help="Ask for a password (people who log in).")
    ] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    display_name: Annotated[str, typer.Option(help="The person's name as shown.")] = "",
) -> None:
    """开设账户 · Open an account."""
    with reported(), _access() as access:
        principal = Principal(name, role, party, tuple(district or ()), device=device)
        secret = _password(stdin=password_stdin) if password or password_stdin else None
        account = access.create_account(principal, password=secret, display_name=display_name)
        reach = ",".join(account.principal.districts) or account.principal.party or "全部 all"
        typer.echo(f"已开设账户 {name}（{role.zh}，范围 {reach}） · account {name} opened "
                   f"({role.value}, reach {reach})", err=True)  # fmt: skip


@accounts_app.command("list")
def list_command() -> None:
    """列出账户 · List accounts."""
    with reported(), _access() as access:
        rows = [[a.principal.name, f"{a.principal.role.zh} {a.principal.role.value}",
                 a.principal.party or ",".join(a.principal.districts) or "-",
                 "停用 disabled" if a.disabled_at else "启用 enabled"]
                for a in access.store.accounts()]  # fmt: skip
        table(["账户 account", "角色 role", "范围 reach", "状态 state"], rows)


@accounts_app.command("disable")
def disable_command(name: Annotated[str, typer.Argument()]) -> None:
    """停用账户 · Disable an account: its tokens stop working at once."""
    with reported(), _access() as access:
        access.disable(name)
        typer.echo(f"已停用账户 {name} · account {name} disabled", err=True)


@accounts_app.command("token")
def token_command(
    name: Annotated[str, typer.Argument()],
    days: Annotated[float | None, typer.Option(min=0.001, help="Lifetime in days.")] = None,
    label: Annotated[str, typer.Option(help="What it is for.")] = "",
) -> None:
    """签发令牌 · Issue a token: printed once, alone on standard output, never stored."""
    with reported(), _access() as access:
        record, text = access.issue(name, days=days or Settings().token_days, label=label)
        typer.echo(text)
        typer.echo(f"令牌 {record.token_id} 有效至 {_when(record.expires_at)}；只显示这一次 · "
                   f"token {record.token_id} valid until {_when(record.expires_at)}; "
                   "shown this once", err=True)  # fmt: skip


@accounts_app.command("tokens")
def tokens_command(name: Annotated[str, typer.Argument()]) -> None:
    """列出令牌 · An account's tokens and logins (never their secrets)."""
    with reported(), _access() as access:
        access.store.account(name)
        rows = [[t.token_id, "登录 login" if t.session else "令牌 token", t.label or "-",
                 _when(t.expires_at), "吊销 revoked" if t.revoked_at else "有效 live"]
                for t in access.store.tokens(name)]  # fmt: skip
        table(["令牌 token", "类型 kind", "用途 label", "到期 expires", "状态 state"], rows)


@accounts_app.command("revoke")
def revoke_command(token_id: Annotated[str, typer.Argument(help="The token's id.")]) -> None:
    """吊销令牌 · Revoke a token at once."""
    with reported(), _access() as access:
        record = access.revoke(token_id)
        typer.echo(f"已吊销令牌 {token_id}（账户 {record.account}） · token {token_id} revoked",
                   err=True)  # fmt: skip


@accounts_app.command("reads")
def reads_command(
    account: Annotated[str | None, typer.Option(help="Only this account's reads.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
) -> None:
    """查询记录 · The officers' read log, newest first: who looked at what, when."""
    with reported(), _access() as access:
        rows = [[_when(e.at), e.account, e.role, str(e.status), e.target]
                for _, e in access.store.reads(account=account, limit=limit)]  # fmt: skip
        table(["时间 at", "账户 account", "角色 role", "结果 status", "查询 target"], rows)
