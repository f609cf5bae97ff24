"""`custody check` and `custody demo`: run the checker, and the demo province it is graded on.

``custody check`` runs every rule on the ledger (or a window of it), stores the new alerts in
the alert list and prints them as a table or writes them as JSON. With ``--events`` it checks
outside data instead, with no database: events from an EPCIS 2.0 JSON-LD file, manifests from
a JSON file and GPS tracks from CSV or GeoJSON.

``custody demo`` feeds a month of the demo province into an empty database; with
``--evaluate`` it does so in a throwaway database, runs the checker and prints precision and
recall per rule against the injected truth, exiting 1 when a rule misses its target.
"""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path  # noqa: TC003  # Typer reads the annotations at run time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from api.console import clip, display_width, line, pad, reported
from api.secrets import key_encryption_key
from api.settings import Settings
from custody.errors import ConflictError, RecordInvalid

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.engine import Engine

    from custody.alerts import Alert
    from custody.manifests import TransferManifest
    from province.evaluate import Score
    from province.simulate import Month
    from routes.network import RoadNetwork

__all__ = ["check_command", "demo_command", "print_alerts"]

CHINA = timezone(timedelta(hours=8))


def _network(path: Path | None) -> RoadNetwork:
    from api.checking import load_network  # noqa: PLC0415  # keeps `custody --help` fast

    return load_network(Settings(road_network=path) if path else Settings())


def _when(text: str | None, what: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise RecordInvalid(
            f"{what} {text!r} is not an ISO 8601 time", zh=f"{what}“{text}”不是 ISO 8601 时间"
        ) from None
    if value.tzinfo is None:
        raise RecordInvalid(
            f"{what} {text!r} needs a time zone, e.g. +08:00",
            zh=f"{what}“{text}”须带时区，例如 +08:00",
        )
    return value


def scores_table(scores: Sequence[Score]) -> str:
    """The evaluation as a readable table, Chinese column heads first."""
    from province.evaluate import score_row  # noqa: PLC0415  # keeps `custody --help` fast

    head = ("规则 rule", "注入 injected", "告警 alerts", "命中 hits", "误报 false",
            "漏报 missed", "精确率 precision", "召回率 recall", "达标 target")  # fmt: skip
    rows = [head, *(score_row(s) for s in scores)]
    widths = [max(display_width(r[i]) for r in rows) + 2 for i in range(len(head))]
    lines = ["".join(pad(c, w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * (w - 2) for w in widths))
    return "\n".join(lines)


def print_alerts(alerts: Sequence[Alert], *, limit: int = 200) -> None:
    """The alerts as a table, most urgent first; Chinese summaries."""
    if not alerts:
        typer.secho("未发现告警 · No alerts", fg=typer.colors.GREEN)
        return
    head = ["严重度 sev", "规则 rule", "对象 subject", "时间 window (UTC+8)", "摘要 summary"]
    widths = [10, 20, 38, 23, 0]
    typer.echo("  ".join(clip(h, w) if w else h for h, w in zip(head, widths, strict=True)))
    for alert in alerts[:limit]:
        window = (
            f"{alert.start.astimezone(CHINA):%m-%d %H:%M}–{alert.end.astimezone(CHINA):%m-%d %H:%M}"
        )
        cells = [
            f"{alert.severity.zh} {alert.severity.value}",
            alert.rule,
            alert.subject,
            window,
            alert.summary_zh,
        ]
        typer.echo("  ".join(clip(c, w) if w else c for c, w in zip(cells, widths, strict=True)))
    if len(alerts) > limit:
        typer.echo(f"……另有 {len(alerts) - limit} 条 · {len(alerts) - limit} more (use --json)")


def _json_file(path: Path, what_zh: str) -> Any:  # noqa: ANN401  # whatever the file holds
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordInvalid(f"cannot read {path}: {exc}", zh=f"无法读取{what_zh} {path}") from None


def _manifests(path: Path | None) -> dict[str, TransferManifest]:
    """Manifests from a JSON file, read as ``custody manifests add`` and ``POST /manifests`` do."""
    from api.checker_cli import read_manifests  # noqa: PLC0415  # keeps `custody --help` fast

    if path is None:
        return {}
    found = (m.to_domain() for m in read_manifests(path))
    return {m.number: m for m in found}


def _replay(
    events: Path,
    manifests: Path | None,
    tracks: Path | None,
    as_of: datetime,
    network: RoadNetwork | None,
) -> list[Alert]:
    """Check outside data from files: no database involved."""
    from custody.checker import RULES, check, rank  # noqa: PLC0415
    from custody.facts import Facts  # noqa: PLC0415
    from custody.history import histories  # noqa: PLC0415
    from custody.replay import events_from_epcis  # noqa: PLC0415
    from custody.rules.licences import UNLICENSED  # noqa: PLC0415
    from routes.track_files import read_track_csv, read_track_geojson  # noqa: PLC0415
    from routes.trips import check_manifests  # noqa: PLC0415

    records = events_from_epcis(_json_file(events, "事件文件"))
    papers = _manifests(manifests)
    # Outside data comes with no registry here: every party would be "unregistered", so the
    # licence rule is left out rather than raising that for everyone.
    rules = [rule for rule in RULES if rule is not UNLICENSED]
    alerts = check(Facts(histories(records), as_of, manifests=papers), rules)
    if network is not None and papers:
        by_plate: dict[str, Any] = {}
        if tracks is not None:
            reader = (
                read_track_geojson
                if tracks.suffix.lower() in {".geojson", ".json"}
                else read_track_csv
            )
            by_plate = reader(tracks)

        def fixes(plate: str, since: datetime, until: datetime) -> Any:  # noqa: ANN401
            return [f for f in by_plate.get(plate, []) if since <= f.at <= until]

        alerts += check_manifests(network, papers.values(), records, fixes=fixes, as_of=as_of)
    return rank(alerts)


_Time = Annotated[
    str | None, typer.Option(help="ISO 8601 time with zone, e.g. 2026-10-31T00:00+08:00.")
]


def check_command(  # noqa: PLR0913  # Typer passes one parameter per option
    as_of: Annotated[
        str | None, typer.Option(help="Judge deadlines at this time (default now).")
    ] = None,
    since: _Time = None,
    until: _Time = None,
    *,
    routes: Annotated[bool, typer.Option(help="Also route-check every manifest's trip.")] = True,
    network: Annotated[Path | None, typer.Option(help="Road network (OSM PBF).")] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write JSON here ('-': stdout).")
    ] = None,
    save: Annotated[bool, typer.Option(help="Store new alerts in the alert list.")] = True,
    events: Annotated[Path | None, typer.Option(help="Outside events: EPCIS 2.0 JSON-LD.")] = None,
    manifests: Annotated[Path | None, typer.Option(help="With --events: manifests (JSON).")] = None,
    tracks: Annotated[
        Path | None, typer.Option(help="With --events: GPS tracks (CSV, GeoJSON).")
    ] = None,
) -> None:
    """运行核查规则 · Run every rule on the ledger (or a window) and list the alerts."""
    with reported():
        when = _when(as_of, "--as-of") or datetime.now(UTC)
        roads = _network(network) if routes else None
        if events is not None:
            alerts = _replay(events, manifests, tracks, when, roads)
            line(
                "外部数据 Outside data",
                "未核查许可（无登记信息） · licences not checked: no registry",
            )
            saved = None
        else:
            from api.checking import run_checks  # noqa: PLC0415
            from custody.alerts import Alerts  # noqa: PLC0415
            from storage.alert_store import SqlAlertStore  # noqa: PLC0415
            from storage.engine import make_engine  # noqa: PLC0415

            engine = make_engine(Settings().effective_database_url)
            run = run_checks(
                engine,
                as_of=when,
                network=roads,
                since=_when(since, "--since"),
                until=_when(until, "--until"),
            )
            alerts = run.alerts
            line(
                "已核查 Checked",
                f"{run.containers} 个容器 containers, {run.events} 条事件 events, "
                f"{run.trips} 趟运输 trips, {run.seconds:.1f} s",
            )
            saved = Alerts(SqlAlertStore(engine)).raise_all(alerts) if save else None
        if json_out is not None:
            text = json.dumps([a.to_dict() for a in alerts], ensure_ascii=False, indent=2)
            if str(json_out) == "-":
                typer.echo(text)
                return
            json_out.write_text(text + "\n", encoding="utf-8")
            line("已写入 Written", f"{json_out} ({len(alerts)})")
        print_alerts(alerts)
        if saved is not None:
            line("新告警 New alerts stored", len(saved))


def demo_command(
    seed: Annotated[
        list[int] | None, typer.Option(help="Seed; repeat to evaluate several.")
    ] = None,
    days: Annotated[int, typer.Option(min=7, max=92, help="Days in the month.")] = 30,
    generators: Annotated[int, typer.Option(min=4, max=200, help="Waste generators.")] = 12,
    *,
    evaluate: Annotated[
        bool, typer.Option(help="Grade the checker in a throwaway database.")
    ] = False,
    if_empty: Annotated[
        bool, typer.Option(help="Do nothing when the ledger is not empty.")
    ] = False,
) -> None:
    """演示省 · Feed a month of the demo province (deterministic; known violations injected)."""
    seeds = seed or [1]
    with reported():
        roads = _network(None)
        if evaluate:
            if not all(_evaluate(roads, s, days, generators) for s in seeds):
                raise typer.Exit(1)
            return
        settings = Settings()
        from storage.engine import make_engine  # noqa: PLC0415
        from storage.ledger_store import SqlLedgerStore  # noqa: PLC0415
        from storage.migrate import upgrade  # noqa: PLC0415

        url = settings.effective_database_url
        if settings.is_embedded:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            upgrade(url)
        engine = make_engine(url)
        if SqlLedgerStore(engine).state().size:
            if if_empty:
                line("演示省 Demo", "数据库已有账本，跳过 · ledger not empty, skipped")
                return
            raise ConflictError(
                "the demo province goes into an empty database; this one has a ledger already",
                zh="演示数据须写入空数据库，当前数据库已有账本",
            )
        kek = key_encryption_key(settings)
        month = _seed(roads, engine, kek, settings.log_origin, seeds[0], days=days,
                      generators=generators)  # fmt: skip
        _demo_accounts(engine, month)


#: The demo's accounts and their passwords: known, because it is a demonstration database.
DEMO_PASSWORD = "custody-demo-2026"  # noqa: S105  # printed and documented on purpose


def _demo_accounts(engine: Engine, month: Month) -> None:
    """An administrator, officers inside and outside the province, and one generator."""
    from sqlmodel import Session  # noqa: PLC0415

    from api.auth import Access  # noqa: PLC0415
    from custody.access import Principal, Role  # noqa: PLC0415
    from custody.parties import PartyRole  # noqa: PLC0415
    from storage.access_store import SqlAccessStore  # noqa: PLC0415

    generator = next(p for p in month.world.parties if PartyRole.GENERATOR in p.roles)
    division = generator.division[:4]
    accounts = [
        (Principal("demo-admin", Role.ADMINISTRATOR), "系统管理员 administrator"),
        (Principal("demo-police", Role.POLICE, districts=(division,)),
         f"公安，辖区 {division} · police, districts {division}"),
        (Principal("demo-env-mianyang", Role.ENVIRONMENT, districts=("5107",)),
         "生态环境，辖区 5107（看不到演示省）· environment, 5107 (sees nothing here)"),
        (Principal("demo-generator", Role.GENERATOR, party=generator.credit_code),
         f"产废单位 {generator.name} · generator"),
    ]  # fmt: skip
    with Session(engine) as session:
        access = Access(SqlAccessStore(session))
        for principal, what in accounts:
            access.create_account(principal, password=DEMO_PASSWORD)
            line(f"账户 {principal.name}", f"{what}")
    line("演示密码 Demo password", f"{DEMO_PASSWORD}（仅限演示 · demo only）")


def _seed(  # noqa: PLR0913  # one month's parts
    roads: RoadNetwork,
    engine: Engine,
    kek: bytes,
    origin: str,
    seed: int,
    *,
    days: int,
    generators: int,
) -> Month:
    from province.feed import feed  # noqa: PLC0415
    from province.simulate import demo_month  # noqa: PLC0415

    month = demo_month(roads, seed, days=days, generators=generators)
    fed = feed(month, engine, kek, origin)
    line(
        "演示省 Demo province", f"种子 seed {seed}, {month.world.start:%Y-%m-%d} 起 {days} 天 days"
    )
    line("单位 Parties", len(month.world.parties))
    line("容器 Containers", fed.containers)
    line("联单 Manifests", fed.manifests)
    line("事件 Events", fed.events)
    line("卡口识别 Plate reads", fed.reads)
    line("定位点 GPS fixes", fed.fixes)
    return month


def _evaluate(roads: RoadNetwork, seed: int, days: int, generators: int) -> bool:
    from api.checking import run_checks  # noqa: PLC0415
    from province.evaluate import evaluate  # noqa: PLC0415
    from storage.engine import make_engine  # noqa: PLC0415
    from storage.migrate import upgrade  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="custody-demo-") as folder:
        url = f"sqlite:///{folder}/demo.sqlite3"
        upgrade(url)
        engine = make_engine(url)
        kek = b"demo-evaluation-key-encryption"
        month = _seed(
            roads, engine, kek, "demo.custody/log", seed, days=days, generators=generators
        )
        run = run_checks(engine, as_of=month.as_of, network=roads)
        engine.dispose()
    scores = evaluate(run.alerts, month.truth)
    typer.echo()
    typer.echo(scores_table(scores))
    ok = all(s.meets_target for s in scores)
    typer.secho(
        f"\n种子 seed {seed}: "
        + (
            "全部达标 · every rule meets its target"
            if ok
            else "有规则未达标 · a rule misses its target"
        ),
        fg=typer.colors.GREEN if ok else typer.colors.RED,
    )
    return ok
