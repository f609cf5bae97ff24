"""The ``custody`` command line. Thin: parse, call the core, render the result or the error.

Output meant for officials and drivers is Chinese first, English beside it.
"""

from __future__ import annotations

import base64
import csv
import json
import os
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import BaseModel, ValidationError
from sqlmodel import Session

from api.access_cli import accounts_app
from api.check_cli import check_command, demo_command
from api.checker_cli import alerts_app, manifests_app
from api.console import EXIT_CODES, exit_code_of, line, print_label, reported
from api.gateway_cli import gateway
from api.route_cli import route_app
from api.scan_cli import scan_app
from api.schemas.registry import (
    CheckpointCreate,
    LicencePublic,
    PartyCreate,
    PermitPublic,
    VehicleCreate,
)
from api.secrets import key_encryption_key
from api.settings import Settings
from api.wiring import label_issuer, open_ledger
from api.witness import witness_app
from custody import errors
from custody.audit import audit
from custody.containers import ContainerType, NewContainer, PhysicalForm
from custody.credit_code import parse_credit_code
from custody.devices import DeviceKind, Devices
from custody.digital_id import parse_digital_id
from custody.evidence import EvidenceBundle, export_container, verify_bundle
from custody.export import epcis_document
from custody.keyring import Keyring
from custody.keys import KeyRole, VerifierKey
from custody.plates import parse_plate
from custody.registry import Registry
from custody.sightings import Sightings
from custody.trust import TrustBundle
from custody.wastes import EDITIONS, WasteList, category_name, resolve_waste_code
from custody.witnessing import cosign_latest
from labels.payload import verify
from labels.printed import LabelFormat
from storage.device_store import SqlDeviceStore
from storage.engine import make_engine
from storage.key_store import SqlKeyStore
from storage.migrate import current_revision, head_revision, upgrade
from storage.registry_store import SqlRegistryStore
from storage.sighting_store import SqlSightingStore

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from sqlalchemy.engine import Engine

    from custody.ledger import Ledger
    from labels.issuing import LabelIssuer
    from labels.printed import PrintedLabel

app = typer.Typer(
    name="custody",
    help="危险废物全链条追溯 · Chain of custody for hazardous waste containers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="数据库 · Database schema.", no_args_is_help=True)
waste_app = typer.Typer(
    help="危险废物名录 · The National Hazardous Waste List.", no_args_is_help=True
)
id_app = typer.Typer(help="标识核验 · Check identifiers.", no_args_is_help=True)
registry_app = typer.Typer(
    help="登记 · Parties, permits, licences, vehicles, checkpoints.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(waste_app, name="waste")
app.add_typer(id_app, name="id")
app.add_typer(registry_app, name="registry")
keys_app = typer.Typer(help="签名密钥 · Signing keys and the trust bundle.", no_args_is_help=True)
label_app = typer.Typer(
    help="电子标签 · Mint, render and verify container labels.", no_args_is_help=True
)
app.add_typer(keys_app, name="keys")
app.add_typer(label_app, name="label")
ledger_app = typer.Typer(help="交接账本 · The custody ledger.", no_args_is_help=True)
evidence_app = typer.Typer(help="证据 · Evidence bundles for courts.", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")
app.add_typer(evidence_app, name="evidence")
app.add_typer(witness_app, name="witness")
devices_app = typer.Typer(
    help="扫码设备 · Scanners and what ingest saw them do.", no_args_is_help=True
)
app.add_typer(devices_app, name="devices")
plates_app = typer.Typer(help="卡口号牌识别 · Checkpoint camera plate reads.", no_args_is_help=True)
app.add_typer(plates_app, name="plates")
app.add_typer(scan_app, name="scan")
app.command("gateway")(gateway)
app.add_typer(route_app, name="route")
app.add_typer(manifests_app, name="manifests")
app.add_typer(alerts_app, name="alerts")
app.add_typer(accounts_app, name="accounts")
app.command("check")(check_command)
app.command("demo")(demo_command)

# Re-exported: tests and the other command modules used to import them from here.
__all__ = ["EXIT_CODES", "app", "exit_code_of", "main"]


# -- serve and db -----------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (CUSTODY_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (CUSTODY_PORT).")] = None,
) -> None:
    """启动服务 · Start the HTTP service (API docs at /docs)."""
    import uvicorn  # noqa: PLC0415  # only this command needs the server

    from api.app import create_app  # noqa: PLC0415  # keeps `custody --help` fast

    settings = Settings()
    with reported():
        uvicorn.run(
            create_app(settings),
            host=host or settings.host,
            port=port or settings.port,
            log_level=settings.log_level,
        )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """应用数据库迁移 · Apply migrations to CUSTODY_DATABASE_URL (default: embedded SQLite)."""
    url = Settings().effective_database_url
    with reported():
        revision = upgrade(url)
    typer.echo(f"数据库已是最新版本 · Database at revision {revision}")


@db_app.command("current")
def db_current() -> None:
    """显示数据库版本 · Show the schema revision of the database and the newest one shipped."""
    url = Settings().effective_database_url
    with reported():
        line("数据库 Database", current_revision(url) or "(empty)")
        line("最新 Newest shipped", head_revision())


# -- waste list -------------------------------------------------------------------------------


@waste_app.command("show")
def waste_show(
    code: Annotated[str, typer.Argument(help="Waste code, e.g. 900-041-49 or 90004149.")],
    edition: Annotated[
        str | None, typer.Option(help="Edition of the list (shipped: 2021).")
    ] = None,
) -> None:
    """查询废物代码 · Show one waste code."""
    with reported():
        entry = resolve_waste_code(code, edition)
    line("废物代码 Code", entry.code)
    line("废物类别 Category", f"{entry.category} {entry.category_name}")
    line("行业来源 Industry", entry.industry)
    line("危险废物 Description", entry.description)
    line("危险特性 Hazards", " ".join(f"{h.value}({h.zh})" for h in entry.hazards))
    line("名录版本 Edition", f"{entry.edition}年版")


@waste_app.command("list")
def waste_list(
    category: Annotated[str | None, typer.Option(help="Only this category, e.g. HW08.")] = None,
    edition: Annotated[str, typer.Option(help="Edition of the list (shipped: 2021).")] = EDITIONS[
        0
    ],
) -> None:
    """列出废物代码 · List the codes of an edition, or of one category."""
    with reported():
        wl = WasteList.edition(edition)
        entries = wl.in_category(category) if category else list(wl)
    for entry in entries:
        hazards = "|".join(h.value for h in entry.hazards)
        typer.echo(f"{entry.code}  {entry.category}  {hazards:<6}  {entry.description}")
    typer.echo(f"共 {len(entries)} 条 · {len(entries)} entries ({edition}年版)", err=True)


@waste_app.command("categories")
def waste_categories(
    edition: Annotated[str, typer.Option(help="Edition of the list (shipped: 2021).")] = EDITIONS[
        0
    ],
) -> None:
    """列出废物类别 · List the categories with their number of codes."""
    with reported():
        wl = WasteList.edition(edition)
    counts: dict[str, int] = {}
    for entry in wl:
        counts[entry.category] = counts.get(entry.category, 0) + 1
    for category, count in sorted(counts.items()):
        typer.echo(f"{category}  {count:>3}  {category_name(category)}")


# -- identifiers ------------------------------------------------------------------------------


@id_app.command("credit-code")
def id_credit_code(code: str) -> None:
    """核验统一社会信用代码 · Check a unified social credit code (GB 32100-2015)."""
    with reported():
        parsed = parse_credit_code(code)
    typer.secho(f"有效 Valid: {parsed.text}", fg=typer.colors.GREEN)
    line("登记管理部门 Authority", parsed.authority)
    line("机构类别 Organisation type", parsed.org_type)
    line("行政区划 Division", parsed.division)
    line("组织机构代码 Org. code", parsed.org_code)


@id_app.command("digital-id")
def id_digital_id(code: str) -> None:
    """核验数字识别码 · Check a container's digital identification code (HJ 1276-2022)."""
    with reported():
        parsed = parse_digital_id(code)
    typer.secho(f"有效 Valid: {parsed.display}", fg=typer.colors.GREEN)
    line("单位编码 Unit code", parsed.unit_code)
    line("废物代码 Waste code", parsed.waste_code)
    line("日期 Date", parsed.day.isoformat())
    line("顺序码 Sequence", f"{parsed.sequence:03d}")


@id_app.command("plate")
def id_plate(plate: str) -> None:
    """核验车牌号 · Check a Chinese motor vehicle plate."""
    with reported():
        parsed = parse_plate(plate)
    typer.secho(f"有效 Valid: {parsed.display}", fg=typer.colors.GREEN)
    line("省份 Province", parsed.province)
    line("发牌机关 Authority", parsed.authority)
    line("类型 Kind", parsed.kind.value)


# -- registry ---------------------------------------------------------------------------------

_SECTIONS: dict[str, type[BaseModel]] = {
    "parties": PartyCreate,
    "permits": PermitPublic,
    "licences": LicencePublic,
    "vehicles": VehicleCreate,
    "checkpoints": CheckpointCreate,
}


def _register(registry: Registry, section: str, body: BaseModel) -> bool:
    if isinstance(body, PartyCreate):
        return registry.register_party(body.to_domain())[1]
    if isinstance(body, PermitPublic):
        return registry.register_permit(body.to_domain(body.holder))[1]
    if isinstance(body, LicencePublic):
        return registry.register_licence(body.to_domain(body.holder))[1]
    if isinstance(body, VehicleCreate):
        return registry.register_vehicle(body.to_domain())[1]
    if isinstance(body, CheckpointCreate):
        return registry.register_checkpoint(body.to_domain())[1]
    raise AssertionError(section)  # pragma: no cover  # _SECTIONS lists every schema


@registry_app.command("import")
def registry_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
) -> None:
    """导入登记数据 · Register the records of a JSON file (parties first, then the rest).

    The file holds lists under "parties", "permits", "licences", "vehicles", "checkpoints".
    Importing twice is harmless; a record that differs from the one on file is refused.
    """
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        typer.echo(f"文件不是有效的 JSON · {file} is not valid JSON: {exc}", err=True)
        raise typer.Exit(3) from None
    if not isinstance(document, dict) or not set(document) <= set(_SECTIONS):
        typer.echo(
            f"文件须为对象，键为 · The file must be an object with keys: {', '.join(_SECTIONS)}",
            err=True,
        )
        raise typer.Exit(3)
    engine = make_engine(Settings().effective_database_url)
    registry = Registry(SqlRegistryStore(engine))
    created = kept = 0
    for section, schema in _SECTIONS.items():
        for index, item in enumerate(document.get(section, [])):
            where = f"{section}[{index}]"
            try:
                body = schema.model_validate(item)
            except ValidationError as exc:
                typer.echo(f"{where}: 字段无效 · invalid fields:\n{exc}", err=True)
                raise typer.Exit(3) from None
            with reported():
                try:
                    is_new = _register(registry, section, body)
                except errors.CustodyError:
                    typer.echo(f"{where}:", err=True)
                    raise
            created += is_new
            kept += not is_new
    engine.dispose()
    typer.echo(
        f"新登记 {created} 条，已存在 {kept} 条 · {created} registered, {kept} already on file"
    )


# -- keys and labels --------------------------------------------------------------------------


@contextmanager
def _database() -> Iterator[tuple[Settings, Engine, Session, Keyring]]:
    """Settings, engine, a session and the keyring on the configured database."""
    settings = Settings()
    with reported():
        kek = key_encryption_key(settings)
    engine = make_engine(settings.effective_database_url)
    try:
        with Session(engine) as session:
            yield settings, engine, session, Keyring(SqlKeyStore(session), kek)
    finally:
        engine.dispose()


@contextmanager
def _services() -> Iterator[tuple[Registry, Keyring, LabelIssuer]]:
    """The registry, keyring and label issuer on the configured database."""
    with _database() as (settings, _, session, keyring):
        registry = Registry(SqlRegistryStore(session))
        yield (
            registry,
            keyring,
            label_issuer(
                session, registry, keyring, settings.waste_list_edition, settings.public_url
            ),
        )


@keys_app.command("new")
def keys_new(
    owner: Annotated[str, typer.Option(help="Credit code of the party that holds the key.")],
    role: Annotated[KeyRole, typer.Option(help="What the key signs.")] = KeyRole.LABEL_ISSUER,
    days: Annotated[int, typer.Option(min=1, max=3653, help="Validity in days.")] = 366,
) -> None:
    """新建签名密钥 · Make a signing key and publish a new trust bundle."""
    with _services() as (registry, keyring, _), reported():
        party = registry.party(owner)
        key = keyring.create(party.credit_code, role, validity=timedelta(days=days))
    typer.echo(f"已创建 Created {key.record.name}")
    line("验证公钥 Verifier key", key.record.verifier_key)
    line("有效期 Valid", f"{key.record.valid_from:%Y-%m-%d} – {key.record.valid_until:%Y-%m-%d}")


@keys_app.command("list")
def keys_list() -> None:
    """列出密钥 · List every key's public record."""
    with _services() as (_, keyring, _), reported():
        records = keyring.keys()
    for r in records:
        state = f"已吊销 revoked {r.revoked_at:%Y-%m-%d}" if r.revoked_at else "有效 active"
        typer.echo(
            f"{r.name:<48} {r.kid.hex()}  {r.role.value:<13} {r.valid_until:%Y-%m-%d}  {state}"
        )


@keys_app.command("revoke")
def keys_revoke(
    name: str, reason: Annotated[str, typer.Option(help="Why, for the record.")]
) -> None:
    """吊销密钥 · Revoke a compromised key: nothing it signed is trusted afterwards."""
    with _services() as (_, keyring, _), reported():
        record = keyring.revoke(name, reason)
    typer.echo(f"已吊销 Revoked {record.name} ({record.revocation_reason})")


@keys_app.command("root")
def keys_root() -> None:
    """显示根公钥 · Print the root verifier key that offline verifiers pin."""
    with _services() as (_, keyring, _), reported():
        typer.echo(keyring.root().record.verifier_key)


@keys_app.command("bundle")
def keys_bundle(
    out: Annotated[Path, typer.Option(help="Where to write the signed bundle.")],
) -> None:
    """导出信任列表 · Write the newest signed trust bundle for offline verifiers."""
    with _services() as (_, keyring, _), reported():
        bundle, signed = keyring.bundle()
    out.write_bytes(signed)
    typer.echo(f"信任列表第 {bundle.version} 版 · Trust bundle version {bundle.version} -> {out}")


# -- devices ----------------------------------------------------------------------------------


@contextmanager
def _devices() -> Iterator[tuple[Devices, SqlDeviceStore, Keyring]]:
    with _database() as (_, _, session, keyring):
        store = SqlDeviceStore(session)
        yield Devices(store, keyring, Registry(SqlRegistryStore(session))), store, keyring


@devices_app.command("enroll")
def devices_enroll(
    owner: Annotated[str, typer.Option(help="Credit code of the party the device acts for.")],
    kind: Annotated[DeviceKind, typer.Option(help="What sort of scanner it is.")],
    public_key: Annotated[str, typer.Option(help="The device's raw Ed25519 public key, base64.")],
    description: Annotated[str, typer.Option(help="Where it is, who carries it.")] = "",
) -> None:
    """登记设备 · Enrol a scanner's own public key (it keeps its private key)."""
    with _devices() as (devices, _, _), reported():
        try:
            raw = base64.b64decode(public_key, validate=True)
        except ValueError:  # binascii.Error, or non-ASCII text, which b64decode refuses apart
            raise errors.RecordInvalid(
                "the public key is not base64", zh="公钥不是 base64 编码"
            ) from None
        device, record, new = devices.enroll(parse_credit_code(owner).text, kind, raw, description)
    typer.echo(f"{'已登记' if new else '已存在'} {'Enrolled' if new else 'Already enrolled'} "
               f"{device.name}")  # fmt: skip
    line("验证公钥 Verifier key", record.verifier_key)


@devices_app.command("list")
def devices_list(owner: Annotated[str, typer.Option(help="Credit code of the party.")]) -> None:
    """列出设备 · List a party's scanners and the state of their keys."""
    with _devices() as (devices, _, keyring), reported():
        found = devices.of(parse_credit_code(owner).text)
        records = {r.name: r for r in keyring.keys()}  # noqa: SIM118  # a Keyring, not a dict
    for d in found:
        record = records[d.name]
        state = (
            f"已吊销 revoked {record.revoked_at:%Y-%m-%d}" if record.revoked_at else "有效 active"
        )
        typer.echo(f"{d.name:<40} {d.kind.zh}/{d.kind.value:<12} {d.description:<20} {state}")


@devices_app.command("revoke")
def devices_revoke(
    name: str, reason: Annotated[str, typer.Option(help="Lost, stolen, cloned: for the record.")]
) -> None:
    """吊销设备 · Revoke a scanner: events received from now on are refused."""
    with _devices() as (devices, _, keyring), reported():
        devices.get(name)
        record = keyring.revoke(name, reason)
    typer.echo(f"已吊销 Revoked {record.name} ({record.revocation_reason})")


@devices_app.command("anomalies")
def devices_anomalies(
    device: Annotated[str | None, typer.Option(help="Only this device.")] = None,
) -> None:
    """接收异常 · What ingest recorded: cloned devices, replays, revoked keys, clock trouble."""
    with _devices() as (_, store, _), reported():
        found = store.anomalies(device)
    for a in found:
        where = f"#{a.related_index}" if a.related_index is not None else "-"
        typer.echo(f"{a.detected_at:%Y-%m-%d %H:%M}  {a.kind.value:<14} {a.device:<40} "
                   f"counter {a.counter}  {where}  {a.detail}")  # fmt: skip
    typer.echo(f"共 {len(found)} 条 · {len(found)} anomalies")


@plates_app.command("import")
def plates_import(
    file: Annotated[Path, typer.Argument(help="CSV: checkpoint,plate,seen_at,confidence")],
) -> None:
    """导入号牌识别记录 · Import camera plate reads from a file (all or none)."""
    with reported():
        try:
            with file.open(encoding="utf-8-sig", newline="") as handle:
                rows = [dict(row) | {"source": "file"} for row in csv.DictReader(handle)]
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise errors.RecordInvalid(
                f"cannot read {file}: {exc}", zh=f"无法读取文件 {file}"
            ) from None
    settings = Settings()
    engine = make_engine(settings.effective_database_url)
    try:
        with Session(engine) as session, reported(lines=_bad_reads):
            registry = Registry(SqlRegistryStore(session))
            new, kept = Sightings(SqlSightingStore(engine), registry).record(rows)
    finally:
        engine.dispose()
    typer.echo(f"新增 {new} 条，已存在 {kept} 条 · {new} new reads, {kept} already stored")


def _bad_reads(exc: errors.CustodyError) -> list[str]:
    reads = exc.context.get("reads")
    if not isinstance(reads, list):
        return []
    # a CSV's first data row is line 2
    return [f"  第 {r['position'] + 2} 行 line {r['position'] + 2}: {r['detail_zh']}; {r['detail']}"
            for r in reads]  # fmt: skip


@plates_app.command("list")
def plates_list(
    plate: Annotated[str | None, typer.Option(help="Only this plate.")] = None,
    checkpoint: Annotated[str | None, typer.Option(help="Only this checkpoint.")] = None,
) -> None:
    """查询号牌识别记录 · Plate reads, oldest first."""
    settings = Settings()
    engine = make_engine(settings.effective_database_url)
    try:
        with reported():
            wanted = parse_plate(plate).text if plate else None
            found = SqlSightingStore(engine).reads(plate=wanted, checkpoint=checkpoint)
    finally:
        engine.dispose()
    for r in found:
        typer.echo(f"{r.seen_at:%Y-%m-%d %H:%M:%S}Z  {r.checkpoint:<24} {r.plate:<10} "
                   f"{r.confidence:.2f}  {r.source.value}")  # fmt: skip
    typer.echo(f"共 {len(found)} 条 · {len(found)} reads")


def _write_label(printed: PrintedLabel, fmt: LabelFormat, out: Path) -> None:
    from labels import render  # noqa: PLC0415  # rendering pulls in fonts; only when asked

    renderers: dict[LabelFormat, Callable[[PrintedLabel], bytes | str]] = {
        LabelFormat.PNG: render.render_png,
        LabelFormat.SVG: render.render_svg,
        LabelFormat.PDF: render.render_pdf,
        LabelFormat.ZPL: render.render_zpl,
        LabelFormat.TXT: lambda p: p.qr_text,
    }
    data = renderers[fmt](printed)
    if isinstance(data, str):
        out.write_text(data, encoding="utf-8")
    else:
        out.write_bytes(data)


@label_app.command("mint")
def label_mint(  # noqa: PLR0913, PLR0917  # one option per fact the generator declares
    generator: Annotated[str, typer.Option(help="Credit code of the generating unit.")],
    waste_code: Annotated[str, typer.Option(help="Waste code, e.g. 900-249-08.")],
    mass_kg: Annotated[float, typer.Option(help="Declared net mass in kg.")],
    capacity_l: Annotated[float, typer.Option(help="Container volume in litres.")] = 200,
    form: Annotated[PhysicalForm, typer.Option(help="S, SS, L or G.")] = PhysicalForm.LIQUID,
    container: Annotated[ContainerType, typer.Option(help="Container type.")] = ContainerType.DRUM,
    seal: Annotated[str, typer.Option(help="Seal number.")] = "",
    name: Annotated[str, typer.Option(help="Waste name on the label, e.g. 废机油.")] = "",
    day: Annotated[str | None, typer.Option(help="Date of generation YYYY-MM-DD (today).")] = None,
    out: Annotated[Path | None, typer.Option(help="Write the label to this file.")] = None,
    fmt: Annotated[LabelFormat, typer.Option("--format", help="Output format.")] = LabelFormat.PNG,
) -> None:
    """生成标签 · Register a filled container and mint its signed label."""
    try:
        generated_on = date.fromisoformat(day) if day else datetime.now(UTC).date()
    except ValueError:
        typer.echo(f"日期格式应为 YYYY-MM-DD · bad date {day!r}", err=True)
        raise typer.Exit(3) from None
    with _services() as (_, _, issuer), reported():
        new = NewContainer(
            generator=generator,
            waste_code=waste_code,
            generated_on=generated_on,
            form=form,
            container_type=container,
            capacity_l=capacity_l,
            declared_net_mass_g=round(mass_kg * 1000),
            seal_no=seal,
            waste_name=name,
        )
        registered = issuer.containers.register(new)
        label = issuer.issue(registered.digital_id.text)
        if out is not None:
            _write_label(issuer.printed_for(registered, label), fmt, out)
    typer.secho(f"已生成 Minted {registered.digital_id.display}", fg=typer.colors.GREEN)
    line("签名密钥 Key", label.key_name)
    line("二维码 QR text", label.text)
    if out is not None:
        line("文件 File", out)


@label_app.command("render")
def label_render(
    digital_id: str,
    out: Annotated[Path, typer.Option(help="Output file.")],
    fmt: Annotated[LabelFormat, typer.Option("--format", help="Output format.")] = LabelFormat.PDF,
) -> None:
    """输出标签 · Write the newest label of a container in a print format."""
    with _services() as (_, _, issuer), reported():
        _write_label(issuer.printed(digital_id), fmt, out)
    typer.echo(f"{digital_id} -> {out}")


_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def _read_label_input(source: str) -> str:
    """The label text from an image file, a text file, or the argument itself."""
    path = Path(source)
    if len(source) < 300 and path.is_file():
        if path.suffix.lower() in {
            ".png",
            ".jpg",
            ".jpeg",
            ".bmp",
            ".gif",
            ".webp",
            ".tif",
            ".tiff",
        }:
            from scanners.decode import label_text_from_image  # noqa: PLC0415  # needs zxing

            return label_text_from_image(path)
        return path.read_text(encoding="utf-8").strip()
    return source


@label_app.command("verify")
def label_verify(
    source: Annotated[str, typer.Argument(help="Image of a label, a text file, or the QR text.")],
    bundle: Annotated[Path | None, typer.Option(help="Signed trust bundle (offline).")] = None,
    root: Annotated[
        str | None, typer.Option(help="Pinned root verifier key, or a file holding it.")
    ] = None,
) -> None:
    """核验标签 · Verify a label offline.

    Without --bundle the local database's keys are used. Exit codes: 0 genuine, 11 not a
    label, 12 malformed, 13 unsupported version, 14 unknown key, 15 revoked key, 16 key not
    valid at issue time, 17 bad signature, 18 key of another party, 19 bad trust bundle.
    """
    with reported():
        text = _read_label_input(source)
        if bundle is not None:
            if root is None:
                typer.echo(
                    "离线核验须提供 --root · --bundle needs --root (the pinned key)", err=True
                )
                raise typer.Exit(3)
            pinned = Path(root).read_text().strip() if Path(root).is_file() else root
            trusted = TrustBundle.from_signed(bundle.read_bytes(), VerifierKey.parse(pinned))
        else:
            with _services() as (_, keyring, _):
                trusted, _ = keyring.bundle()
        verified = verify(text, trusted)
    print_label(verified.payload, verified.key.name, f"信任列表第 {verified.bundle_version} 版")


# -- the ledger and evidence -------------------------------------------------------------------


@contextmanager
def _ledger() -> Iterator[tuple[Ledger, Keyring]]:
    """The ledger and keyring on the configured database."""
    with _database() as (settings, engine, _, keyring), reported():
        yield open_ledger(engine, keyring, settings.log_origin), keyring


@ledger_app.command("status")
def ledger_status() -> None:
    """账本状态 · Size, origin and the latest signed checkpoint."""
    with _ledger() as (ledger, _):
        state = ledger.store.state()
        line("来源 Origin", ledger.origin)
        line("条目数 Entries", state.size)
        line("日志公钥 Log key", ledger.verifier)
        if state.checkpoint is not None:
            typer.echo("\n" + state.checkpoint.decode())


@ledger_app.command("audit")
def ledger_audit(
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Processes verifying signatures (default: one per core)."),
    ] = None,
) -> None:
    """审计账本 · Recompute every hash and root, verify every signature, look for forks.

    Exits 0 when nothing was tampered with, 24 otherwise (forks are reported, not failures),
    8 when a verifying process died before the audit could conclude.
    """
    with _ledger() as (ledger, keyring):
        bundle, _ = keyring.bundle()
        started = time.perf_counter()
        processes = workers or os.cpu_count() or 1
        report = audit(ledger.store, ledger.verifier, bundle, workers=processes)
        seconds = time.perf_counter() - started
    rate = report.entries / seconds if seconds else 0.0
    verifiers = f"{processes} process" + ("es" if processes > 1 else "")
    line("条目 Entries", f"{report.entries} ({rate:,.0f}/s, {verifiers})")
    line("检查点 Checkpoints", report.checkpoints)
    line("签名 Signatures", report.signatures)
    line("容器 Containers", report.containers)
    line("分叉 Forks", len(report.forks))
    for fork in report.forks[:20]:
        typer.echo(f"  #{fork.index} {fork.kind} {fork.detail}")
    if report.ok:
        typer.secho("账本完好 Ledger intact", fg=typer.colors.GREEN)
        return
    typer.secho(f"发现篡改 Tampering found: {len(report.problems)} problems, first at index "
                f"{report.first_bad_index}", fg=typer.colors.RED, err=True)  # fmt: skip
    for problem in report.problems[:50]:
        typer.echo(f"  #{problem.index} {problem.kind}: {problem.detail}", err=True)
    raise typer.Exit(EXIT_CODES[errors.LedgerTampered])


def _http_witness(url: str) -> Callable[[bytes], bytes]:
    """Send add-checkpoint requests to a witness over HTTP (stdlib: one POST, no client)."""
    endpoint = url.rstrip("/") + "/add-checkpoint"
    if not endpoint.startswith(("http://", "https://")):
        raise typer.BadParameter("the witness URL must start with http:// or https://")

    def submit(body: bytes) -> bytes:
        request = urllib.request.Request(endpoint, data=body, method="POST")  # noqa: S310  # scheme checked above
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return bytes(response.read())
        except urllib.error.HTTPError as exc:
            text = exc.read().decode(errors="replace").strip()
            if exc.code == 409 and text.isdigit():
                raise errors.ConflictError(
                    f"the witness is at size {text}",
                    zh=f"见证方记录的大小为 {text}",
                    size=int(text),
                ) from exc
            raise errors.EvidenceError(
                f"the witness refused the checkpoint: HTTP {exc.code} {text}",
                zh=f"见证方拒绝联署：HTTP {exc.code}",
            ) from exc
        except OSError as exc:
            raise errors.StorageError(
                f"cannot reach the witness: {exc}", zh="无法连接见证方"
            ) from exc

    return submit


@ledger_app.command("cosign")
def ledger_cosign(
    witness: Annotated[str, typer.Option(help="Witness base URL, e.g. http://127.0.0.1:7380.")],
) -> None:
    """见证联署 · Have the latest checkpoint cosigned by a witness (C2SP tlog-witness)."""
    submit = _http_witness(witness)
    with _ledger() as (ledger, _):
        note = cosign_latest(ledger, submit)
    typer.secho("已联署 Cosigned", fg=typer.colors.GREEN)
    typer.echo(note.decode(), nl=False)  # the note ends in its own newline


@ledger_app.command("epcis")
def ledger_epcis(
    out: Annotated[Path, typer.Option(help="Where to write the EPCIS 2.0 JSON-LD document.")],
    container: Annotated[str | None, typer.Option(help="Only this container.")] = None,
) -> None:
    """导出 EPCIS · Write ledger events as a GS1 EPCIS 2.0 document (derived, not signed)."""
    with _ledger() as (ledger, _):
        store = ledger.store
        entries = (store.container_entries(container) if container
                   else store.entries(0, store.state().size))  # fmt: skip
        out.write_text(epcis_document(ledger, entries), encoding="utf-8")
    typer.echo(f"{len(entries)} 个事件 events -> {out}")


@evidence_app.command("export")
def evidence_export(
    container: Annotated[str, typer.Argument(help="Digital identification code.")],
    out: Annotated[Path, typer.Option(help="Where to write the bundle (JSON).")],
) -> None:
    """导出证据包 · Write a container's self-contained evidence bundle."""
    with _ledger() as (ledger, keyring):
        _, signed = keyring.bundle()
        bundle = export_container(
            ledger.store, ledger, container, signed, keyring.root().record.verifier_key
        )
    out.write_text(bundle.to_json(), encoding="utf-8")
    typer.echo(f"{len(bundle.entries)} 条记录 entries -> {out}")


@evidence_app.command("report")
def evidence_report(
    alert_id: Annotated[str, typer.Argument(help="Alert id, e.g. AL-0123456789abcdef.")],
    out: Annotated[Path, typer.Option(help="Where to write the PDF report.")],
    bundles: Annotated[
        Path | None, typer.Option(help="Directory for the evidence bundles the report cites.")
    ] = None,
) -> None:
    """告警证据报告 · Write an alert's PDF report; with --bundles, the bundles it cites too."""
    from api.report import alert_evidence  # noqa: PLC0415  # rendering pulls in fonts

    with _database() as (settings, engine, _, keyring), reported():
        evidence = alert_evidence(engine, alert_id, origin=settings.log_origin, keyring=keyring)
    out.write_bytes(evidence.pdf)
    typer.echo(f"证据报告 Report -> {out}")
    if bundles is not None:
        bundles.mkdir(parents=True, exist_ok=True)
        for name, data in evidence.bundles.items():
            (bundles / name).write_bytes(data)
            typer.echo(f"证据包 Bundle -> {bundles / name}")


@app.command("verify")
def verify_evidence(
    bundle_file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Bundle JSON.")],
    root: Annotated[str | None, typer.Option(help="Pinned root verifier key (or file).")] = None,
    log: Annotated[str | None, typer.Option(help="Pinned log verifier key (or file).")] = None,
) -> None:
    """核验证据包 · Verify an evidence bundle offline: no server, no database."""

    def pinned(value: str | None) -> VerifierKey | None:
        if value is None:
            return None
        path = Path(value)
        return VerifierKey.parse(path.read_text().strip() if path.is_file() else value)

    with reported():
        bundle = EvidenceBundle.from_json(bundle_file.read_text(encoding="utf-8"))
        report = verify_bundle(bundle, trust_root=pinned(root), log_key=pinned(log))
    typer.secho("证据包核验通过 Evidence bundle verifies", fg=typer.colors.GREEN)
    if not report.pinned:
        typer.secho(
            "注意：未指定 --root 和 --log，仅以证据包自带的公钥核验。"
            " Warning: keys not pinned; checked against the keys the bundle carries.",
            fg=typer.colors.YELLOW,
        )
    line("容器 Container", report.container)
    line("账本 Log", f"{report.origin} (size {report.size})")
    for index, when, event in zip(report.indices, report.received, report.events, strict=True):
        typer.echo(f"  #{index:<8} {event.event_time:%Y-%m-%d %H:%M} (收到 {when:%H:%M})  "
                   f"{event.step.value:<14} {event.party}  {event.vehicle or ''}")  # fmt: skip


def main() -> None:
    """Entry point of the ``custody`` command."""
    sys.exit(app())


if __name__ == "__main__":
    main()
