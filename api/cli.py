"""The ``custody`` command line. Thin: parse, call the core, render the result or the error.

Output meant for officials and drivers is Chinese first, English beside it.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import BaseModel, ValidationError

from api.schemas.registry import (
    CheckpointCreate,
    LicencePublic,
    PartyCreate,
    PermitPublic,
    VehicleCreate,
)
from api.settings import Settings
from custody import errors
from custody.credit_code import parse_credit_code
from custody.digital_id import parse_digital_id
from custody.plates import parse_plate
from custody.registry import Registry
from custody.wastes import EDITIONS, WasteList, category_name, resolve_waste_code
from storage.engine import make_engine
from storage.migrate import current_revision, head_revision, upgrade
from storage.registry_store import SqlRegistryStore

if TYPE_CHECKING:
    from collections.abc import Iterator

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

#: Exit codes by the kind of failure, so scripts can tell them apart.
EXIT_CODES: dict[type[errors.CustodyError], int] = {
    errors.InputError: 3,
    errors.NotFoundError: 4,
    errors.ConflictError: 5,
    errors.StorageError: 6,
}


def exit_code_of(exc: errors.CustodyError) -> int:
    """The exit code for an error: its nearest listed ancestor's, or 1."""
    for cls in type(exc).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return 1


@contextmanager
def _reported() -> Iterator[None]:
    """Render a domain error for people and exit with its code."""
    try:
        yield
    except errors.CustodyError as exc:
        typer.secho(f"错误 Error [{exc.code}]", fg=typer.colors.RED, err=True)
        typer.echo(exc.diagnostics(), err=True)
        raise typer.Exit(exit_code_of(exc)) from None


def _line(label: str, value: object) -> None:
    typer.echo(f"{label:<28}{value}")


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
    with _reported():
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
    with _reported():
        revision = upgrade(url)
    typer.echo(f"数据库已是最新版本 · Database at revision {revision}")


@db_app.command("current")
def db_current() -> None:
    """显示数据库版本 · Show the schema revision of the database and the newest one shipped."""
    url = Settings().effective_database_url
    with _reported():
        _line("数据库 Database", current_revision(url) or "(empty)")
        _line("最新 Newest shipped", head_revision())


# -- waste list -------------------------------------------------------------------------------


@waste_app.command("show")
def waste_show(
    code: Annotated[str, typer.Argument(help="Waste code, e.g. 900-041-49 or 90004149.")],
    edition: Annotated[
        str | None, typer.Option(help="Edition of the list (shipped: 2021).")
    ] = None,
) -> None:
    """查询废物代码 · Show one waste code."""
    with _reported():
        entry = resolve_waste_code(code, edition)
    _line("废物代码 Code", entry.code)
    _line("废物类别 Category", f"{entry.category} {entry.category_name}")
    _line("行业来源 Industry", entry.industry)
    _line("危险废物 Description", entry.description)
    _line("危险特性 Hazards", " ".join(f"{h.value}({h.zh})" for h in entry.hazards))
    _line("名录版本 Edition", f"{entry.edition}年版")


@waste_app.command("list")
def waste_list(
    category: Annotated[str | None, typer.Option(help="Only this category, e.g. HW08.")] = None,
    edition: Annotated[str, typer.Option(help="Edition of the list (shipped: 2021).")] = EDITIONS[
        0
    ],
) -> None:
    """列出废物代码 · List the codes of an edition, or of one category."""
    with _reported():
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
    with _reported():
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
    with _reported():
        parsed = parse_credit_code(code)
    typer.secho(f"有效 Valid: {parsed.text}", fg=typer.colors.GREEN)
    _line("登记管理部门 Authority", parsed.authority)
    _line("机构类别 Organisation type", parsed.org_type)
    _line("行政区划 Division", parsed.division)
    _line("组织机构代码 Org. code", parsed.org_code)


@id_app.command("digital-id")
def id_digital_id(code: str) -> None:
    """核验数字识别码 · Check a container's digital identification code (HJ 1276-2022)."""
    with _reported():
        parsed = parse_digital_id(code)
    typer.secho(f"有效 Valid: {parsed.display}", fg=typer.colors.GREEN)
    _line("单位编码 Unit code", parsed.unit_code)
    _line("废物代码 Waste code", parsed.waste_code)
    _line("日期 Date", parsed.day.isoformat())
    _line("顺序码 Sequence", f"{parsed.sequence:03d}")


@id_app.command("plate")
def id_plate(plate: str) -> None:
    """核验车牌号 · Check a Chinese motor vehicle plate."""
    with _reported():
        parsed = parse_plate(plate)
    typer.secho(f"有效 Valid: {parsed.display}", fg=typer.colors.GREEN)
    _line("省份 Province", parsed.province)
    _line("发牌机关 Authority", parsed.authority)
    _line("类型 Kind", parsed.kind.value)


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
            with _reported():
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


def main() -> None:
    """Entry point of the ``custody`` command."""
    sys.exit(app())
