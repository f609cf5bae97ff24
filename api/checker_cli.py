"""``custody manifests`` and ``custody alerts``: record transfer manifests, handle alerts.

Thin, like the rest of the command line: read the file or the options, call the core, print
Chinese first and English beside it. Exit codes are those of ``custody`` (3 bad input,
4 not found, 5 conflict: a changed manifest, a change of state that is not allowed, a
dismissal or reopening without a reason; 6 storage).
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path  # noqa: TC003  # Typer reads annotations at run time
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError

from api.console import line, reported, table
from api.schemas.checker import ManifestCreate
from api.settings import Settings
from custody.alerts import AlertFilter, Alerts, AlertState, Severity
from custody.credit_code import parse_credit_code
from custody.digital_id import parse_digital_id
from custody.manifests import Manifests
from custody.plates import parse_plate
from storage.alert_store import SqlAlertStore
from storage.engine import make_engine
from storage.manifest_store import SqlManifestStore

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.engine import Engine

    from custody.alerts import Alert, AlertChange
    from custody.manifests import TransferManifest

__all__ = ["alerts_app", "manifests_app"]

manifests_app = typer.Typer(
    name="manifests",
    help="转移联单 · Transfer manifests: record, show, list.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
alerts_app = typer.Typer(
    name="alerts",
    help="告警 · Alerts the checker raised: list, show, acknowledge, dismiss, escalate, reopen.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: Alerts read per query when listing.
_PAGE = 500


@contextmanager
def _engine() -> Iterator[Engine]:
    engine = make_engine(Settings().effective_database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def _bad_input(zh: str, en: str) -> typer.Exit:
    """Say what is wrong with the input, Chinese first, and give the exit for bad input."""
    typer.secho(f"错误 Error: {zh} · {en}", fg=typer.colors.RED, err=True)
    return typer.Exit(3)


def _when(text: str | None, option: str) -> datetime | None:
    """An ISO 8601 time with its zone, from an option."""
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise _bad_input(f"{option} 须为 ISO 8601 时间", f"{option} must be an ISO 8601 time, "
                         f"got {text!r}") from None  # fmt: skip
    if when.tzinfo is None:
        raise _bad_input(f"{option} 须带时区，如 +08:00", f"{option} needs a time zone, "
                         "e.g. 2026-03-02T08:00+08:00")  # fmt: skip
    return when


def _utc(when: datetime | None) -> str:
    return "-" if when is None else f"{when:%Y-%m-%d %H:%M} UTC"


# -- manifests -------------------------------------------------------------------------------


def read_manifests(file: Path) -> list[ManifestCreate]:
    """One manifest (a JSON object) or several (a list), as ``POST /manifests`` takes them."""
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise _bad_input(f"无法读取文件 {file}", f"cannot read {file}: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad_input(
            f"文件 {file} 不是有效的 JSON", f"{file} is not valid JSON: {exc}"
        ) from None
    items = document if isinstance(document, list) else [document]
    manifests = []
    for position, item in enumerate(items):
        try:
            manifests.append(ManifestCreate.model_validate(item))
        except ValidationError as exc:
            where = f"[{position}] " if isinstance(document, list) else ""
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '-'}: {e['msg']}"
                                 for e in exc.errors())  # fmt: skip
            raise _bad_input(
                f"{where}联单字段缺失或无效", f"{where}invalid manifest: {problems}"
            ) from None
    return manifests


@manifests_app.command("add")
def manifests_add(
    file: Annotated[Path, typer.Argument(help="JSON: one manifest, or a list (POST /manifests).")],
) -> None:
    """登记转移联单 · Record manifests; the same again is kept, a changed one is refused."""
    bodies = read_manifests(file)
    created = kept = 0
    with _engine() as engine, reported():
        manifests = Manifests(SqlManifestStore(engine))
        for body in bodies:
            manifest, new = manifests.record(body.to_domain())
            typer.echo(
                f"{'已登记 Recorded' if new else '已存在 Already on file'} {manifest.number}"
            )
            created += new
            kept += not new
    typer.echo(
        f"新登记 {created} 份，已存在 {kept} 份 · {created} recorded, {kept} already on file"
    )


def _print_manifest(m: TransferManifest) -> None:
    line("联单编号 Number", m.number)
    line("产废单位 Generator", m.generator)
    line("运输单位 Transporter", m.transporter)
    line("接收单位 Receiver", m.receiver)
    line("车辆 Vehicles", " ".join(m.vehicles))
    line("废物代码 Waste codes", " ".join(m.waste_codes))
    line("申报重量 Declared mass", f"{m.declared_mass_g / 1000:g} kg")
    line("开具时间 Issued", _utc(m.created_at))
    line("起运不早于 Depart after", _utc(m.depart_after))
    line("到达期限 Arrive before", _utc(m.arrive_before))
    for label, point in (("起点 Origin", m.origin), ("终点 Destination", m.destination)):
        line(label, "-" if point is None else f"{point.lat:.6f}, {point.lon:.6f} (WGS-84)")
    line("容器 Containers", len(m.containers))
    for container in m.containers:
        typer.echo(f"  {container}")


@manifests_app.command("show")
def manifests_show(number: str) -> None:
    """查看转移联单 · Show one manifest."""
    with _engine() as engine, reported():
        manifest = Manifests(SqlManifestStore(engine)).get(number)
    _print_manifest(manifest)


@manifests_app.command("list")
def manifests_list(
    since: Annotated[str | None, typer.Option(help="Issued at or after (ISO 8601).")] = None,
    until: Annotated[str | None, typer.Option(help="Issued before (ISO 8601).")] = None,
) -> None:
    """列出转移联单 · Manifests by the time they were issued, oldest first."""
    window = {"since": _when(since, "--since"), "until": _when(until, "--until")}
    with _engine() as engine, reported():
        found = SqlManifestStore(engine).list_manifests(**window)
    heads = ["联单编号 Number", "开具时间 Issued", "产废单位 Generator", "接收单位 Receiver",
             "车辆 Vehicles", "容器 Drums", "申报 kg"]  # fmt: skip
    rows = [[m.number, _utc(m.created_at), m.generator, m.receiver, " ".join(m.vehicles),
             str(len(m.containers)), f"{m.declared_mass_g / 1000:g}"] for m in found]  # fmt: skip
    if rows:
        table(heads, rows)
    typer.echo(f"共 {len(found)} 份 · {len(found)} manifests")


# -- alerts ----------------------------------------------------------------------------------


def _alerts(engine: Engine) -> Alerts:
    return Alerts(SqlAlertStore(engine))


def _filter(  # noqa: PLR0913  # one argument per filter the command offers
    *,
    rule: str | None,
    state: AlertState | None,
    severity: Severity | None,
    container: str | None,
    vehicle: str | None,
    party: str | None,
) -> AlertFilter:
    """The filter, identifiers parsed (a malformed one is reported as bad input)."""
    return AlertFilter(
        rule=rule,
        state=state,
        min_severity=severity,
        container=parse_digital_id(container).text if container else None,
        vehicle=parse_plate(vehicle).text if vehicle else None,
        party=parse_credit_code(party).text if party else None,
    )


@alerts_app.command("list")
def alerts_list(  # noqa: PLR0913, PLR0917  # Typer passes one parameter per option
    rule: Annotated[str | None, typer.Option(help="Only this rule, e.g. missing-handoff.")] = None,
    state: Annotated[AlertState | None, typer.Option(help="Only this state.")] = None,
    severity: Annotated[
        Severity | None, typer.Option(help="This severity or above (info, low, medium, high).")
    ] = None,
    container: Annotated[str | None, typer.Option(help="Naming this container.")] = None,
    vehicle: Annotated[str | None, typer.Option(help="About this vehicle (plate).")] = None,
    party: Annotated[str | None, typer.Option(help="Involving this party (credit code).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="At most this many.")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,  # noqa: FBT002  # a Typer flag
) -> None:
    """列出告警 · Alerts, most severe first, then the latest, then by id."""
    found: list[Alert] = []
    with _engine() as engine, reported():
        where = _filter(rule=rule, state=state, severity=severity, container=container,
                        vehicle=vehicle, party=party)  # fmt: skip
        store = SqlAlertStore(engine)
        while len(found) < limit:  # page by page, so memory stays bounded per query
            want = min(_PAGE, limit - len(found))
            page = store.list_alerts(where, limit=want, after=found[-1].alert_id if found else None)
            found += page
            if len(page) < want:
                break
    if as_json:
        typer.echo(json.dumps([a.to_dict() for a in found], ensure_ascii=False, indent=2,
                              default=str))  # fmt: skip
        return
    heads = ["严重度 Severity", "状态 State", "规则 Rule", "时间 End (UTC)", "编号 ID",
             "摘要 Summary"]  # fmt: skip
    rows = [[f"{a.severity.zh} {a.severity.value}", f"{a.state.zh} {a.state.value}", a.rule,
             f"{a.end:%Y-%m-%d %H:%M}", a.alert_id, a.summary_zh] for a in found]  # fmt: skip
    if rows:
        table(heads, rows)
    typer.echo(f"共 {len(found)} 条 · {len(found)} alerts")


def _print_alert(alert: Alert, changes: list[AlertChange]) -> None:
    a = alert
    line("告警编号 ID", a.alert_id)
    line("规则 Rule", a.rule)
    line("对象 Subject", a.subject)
    line("严重度 Severity", f"{a.severity.zh} {a.severity.value}")
    line("状态 State", f"{a.state.zh} {a.state.value}")
    line("摘要 Summary", a.summary_zh)
    line("", a.summary)
    line("时间 Window", f"{_utc(a.start)} – {_utc(a.end)}")
    line("容器 Containers", " ".join(a.containers) or "-")
    line("车辆 Vehicle", a.vehicle or "-")
    line("相关单位 Parties", " ".join(a.parties) or "-")
    line("账本条目 Ledger entries", " ".join(f"#{i}" for i in a.entries) or "-")
    line("事实 Facts", json.dumps(a.facts, ensure_ascii=False, sort_keys=True, default=str))
    line("发现时间 Raised", _utc(a.raised_at))
    typer.echo("处理记录 History:" if changes else "处理记录 History: -")
    for c in changes:
        reason = f"  {c.reason}" if c.reason else ""
        typer.echo(f"  {_utc(c.at)}  {c.state.zh} {c.state.value}  {c.by}{reason}")


@alerts_app.command("show")
def alerts_show(
    alert_id: Annotated[str, typer.Argument(help="The alert's id, e.g. AL-3f9a0c1d2e4b5a68.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,  # noqa: FBT002  # a Typer flag
) -> None:
    """查看告警 · One alert with its evidence and every change of its state."""
    with _engine() as engine, reported():
        alerts = _alerts(engine)
        alert, changes = alerts.get(alert_id), alerts.history(alert_id)
    if as_json:
        body: dict[str, Any] = alert.to_dict()
        body["changes"] = [{"at": c.at.isoformat(), "by": c.by, "state": c.state.value,
                            "reason": c.reason} for c in changes]  # fmt: skip
        typer.echo(json.dumps(body, ensure_ascii=False, indent=2, default=str))
        return
    _print_alert(alert, changes)


def _decide(alert_id: str, to: AlertState, by: str, reason: str) -> None:
    with _engine() as engine, reported():
        alert = _alerts(engine).change(alert_id, to, by, reason)
    typer.secho(f"已变更 Changed {alert.alert_id}: {alert.state.zh} {alert.state.value}",
                fg=typer.colors.GREEN)  # fmt: skip


_BY = typer.Option("--by", help="Who decides (操作人).")


@alerts_app.command("ack")
def alerts_ack(
    alert_id: str,
    by: Annotated[str, _BY],
    reason: Annotated[str, typer.Option(help="Why (optional).")] = "",
) -> None:
    """确认告警 · Acknowledge an open alert: someone is looking at it."""
    _decide(alert_id, AlertState.ACKNOWLEDGED, by, reason)


@alerts_app.command("dismiss")
def alerts_dismiss(
    alert_id: str,
    by: Annotated[str, _BY],
    reason: Annotated[str, typer.Option(help="Why it is not a problem (必填 required).")] = "",
) -> None:
    """排除告警 · Dismiss an alert as not a problem; a reason is required."""
    _decide(alert_id, AlertState.DISMISSED, by, reason)


@alerts_app.command("escalate")
def alerts_escalate(
    alert_id: str,
    by: Annotated[str, _BY],
    reason: Annotated[str, typer.Option(help="Why (optional).")] = "",
) -> None:
    """上报告警 · Escalate an alert for enforcement."""
    _decide(alert_id, AlertState.ESCALATED, by, reason)


@alerts_app.command("reopen")
def alerts_reopen(
    alert_id: str,
    by: Annotated[str, _BY],
    reason: Annotated[str, typer.Option(help="Why it needs another look (必填 required).")] = "",
) -> None:
    """重新打开告警 · Reopen a dismissed or escalated alert; a reason is required."""
    _decide(alert_id, AlertState.OPEN, by, reason)
