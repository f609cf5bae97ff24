"""``custody scan``: the scanner in a driver's cab, a generator's yard or a disposer's gate.

Thin, like the rest of the command line: parse, call :mod:`scanners`, print Chinese first and
English beside it. Every command but ``enroll`` and ``sync`` works with no network.

State lives in ``--state-dir`` (or ``CUSTODY_SCANNER_DIR``, default ``~/.custody-scanner``);
the device key's passphrase comes from ``CUSTODY_SCANNER_PASSPHRASE`` or a prompt.

Exit codes: those of ``custody`` (3 input, 4 not found or not enrolled, 5 conflict, 6 storage,
7 configuration, 11-19 label verification), and 8 server unreachable (scans stay queued),
9 refused by the server, 26 split view (evidence kept, syncing stopped), 27 a receipt that
does not verify.
"""

from __future__ import annotations

import hashlib
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.console import exit_code_of, line, print_label, reported
from custody.digital_id import parse_digital_id
from custody.errors import (
    ConfigurationError,
    CustodyError,
    InputError,
    NotALabel,
    StorageError,
)
from custody.events import Step
from custody.keys import VerifierKey
from scanners.device import ScannerState, enroll
from scanners.errors import (
    NotEnrolled,
    ReceiptInvalid,
    ServerRefused,
    ServerUnreachable,
    SplitViewDetected,
)
from scanners.http import RetryPolicy, ServerClient
from scanners.outbox import EventState
from scanners.scanning import (
    STEP_ZH,
    EventDetails,
    KeyboardWedge,
    RepeatFilter,
    Scan,
    ScanKind,
    Scanner,
    parse_step,
    read_scan,
    scan_image,
)
from scanners.sync import SyncConfig, Syncer, learn_heads

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from custody.events import Mass
    from custody.trust import TrustBundle
    from scanners.outbox import Outbox, QueuedEvent

__all__ = ["ScannerSettings", "scan_app"]

scan_app = typer.Typer(
    name="scan",
    help="扫码终端 · The scanner: enrol, verify labels offline, sign and queue scans, sync.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: Exit codes of the scanner's own failures; everything else as ``custody`` maps it.
SCANNER_EXIT_CODES: dict[type[CustodyError], int] = {
    NotEnrolled: 4,
    ServerUnreachable: 8,
    ServerRefused: 9,
    SplitViewDetected: 26,
    ReceiptInvalid: 27,
}


class ScannerSettings(BaseSettings):
    """The scanner's environment: ``CUSTODY_SCANNER_DIR`` and ``CUSTODY_SCANNER_PASSPHRASE``."""

    model_config = SettingsConfigDict(env_prefix="CUSTODY_SCANNER_", env_file=None, extra="ignore")

    dir: Path = Field(default_factory=lambda: Path.home() / ".custody-scanner")
    passphrase: SecretStr | None = None


def _reported() -> AbstractContextManager[None]:
    return reported(codes=SCANNER_EXIT_CODES)


def _fail(message: str, code: int = 3) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def _state(state_dir: Path | None) -> ScannerState:
    return ScannerState(state_dir or ScannerSettings().dir)


def _passphrase(*, confirm: bool = False) -> bytes:
    secret = ScannerSettings().passphrase
    if secret is not None:
        return secret.get_secret_value().encode()
    if not sys.stdin.isatty():
        raise ConfigurationError(
            "set CUSTODY_SCANNER_PASSPHRASE (no terminal to ask for the device key's passphrase)",
            zh="请设置 CUSTODY_SCANNER_PASSPHRASE（无终端可输入设备私钥口令）",
        )
    text: str = typer.prompt(
        "设备私钥口令 Device key passphrase", hide_input=True, confirmation_prompt=confirm
    )
    return text.encode()


def _pinned(value: str) -> VerifierKey:
    path = Path(value)
    if len(value) < 300 and path.is_file():
        return VerifierKey.parse(path.read_text(encoding="utf-8").strip())
    return VerifierKey.parse(value)


def _display(digital_id: str) -> str:
    return parse_digital_id(digital_id).display


StateDir = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        help="Scanner state directory (CUSTODY_SCANNER_DIR; default ~/.custody-scanner).",
        show_default=False,
    ),
]
ServerOption = Annotated[
    str | None,
    typer.Option(
        help="Online: ask this server for each container's latest event before signing.",
        show_default=False,
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        envvar="CUSTODY_TOKEN",
        help="This device's account token (custody accounts token NAME), sent as a bearer token.",
        show_default=False,
    ),
]
_STEPS = ", ".join(f"{s.value}({STEP_ZH[s]})" for s in Step)


# -- enrol --------------------------------------------------------------------------------------


@scan_app.command("enroll")
def enroll_command(  # noqa: PLR0913  # one option per fact about the device
    *,
    server: Annotated[str, typer.Option(help="The custody service, e.g. https://hjj.example.cn.")],
    owner: Annotated[str, typer.Option(help="Credit code of the party the device acts for.")],
    kind: Annotated[str, typer.Option(help="phone, handheld, station or weighbridge.")],
    description: Annotated[str, typer.Option(help="e.g. 川A12345 驾驶室手持终端.")] = "",
    root: Annotated[
        str | None,
        typer.Option(
            help="Root verifier key to pin (or a file holding it); default: ask the "
            "server and print it for comparison."
        ),
    ] = None,
    state_dir: StateDir = None,
    token: TokenOption = None,
) -> None:
    """登记本设备 · Make this device's key pair and enrol its public half.

    The private key never leaves the state directory (encrypted, mode 0600). The root key is
    pinned and the trust bundle kept for verifying labels offline.
    """
    with _reported():
        state = _state(state_dir)
        pinned = _pinned(root) if root is not None else None
        client = ServerClient(server, retry=RetryPolicy(attempts=3, timeout=20), token=token)
        done = enroll(
            state,
            client,
            owner=owner,
            kind=kind,
            description=description,
            passphrase=_passphrase(confirm=True),
            root=pinned,
        )
    typer.secho(f"已登记 Enrolled {done.info.name}", fg=typer.colors.GREEN)
    line("设备类型 Kind", f"{done.info.kind.zh} {done.info.kind.value}")
    line("设备公钥 Device key", done.record.verifier_key)
    line("有效期 Valid", f"{done.record.valid_from:%Y-%m-%d} – {done.record.valid_until:%Y-%m-%d}")
    line("根公钥 Pinned root", done.info.root)
    line("信任列表 Trust bundle", f"第 {done.bundle.version} 版 · version {done.bundle.version}")
    line("状态目录 State dir", state.directory)
    if root is None:
        typer.secho(
            "根公钥取自服务器（首次使用即信任），请与主管部门公布的根公钥核对。"
            " The root key was taken from the server (trust on first use): compare it with "
            "the one the authority publishes.",
            fg=typer.colors.YELLOW,
        )


# -- verify ---------------------------------------------------------------------------------


@scan_app.command("verify")
def verify_command(
    text: Annotated[
        str | None, typer.Argument(help="The label's QR text (WL1:…).", show_default=False)
    ] = None,
    image: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="A photo of the label instead."),
    ] = None,
    state_dir: StateDir = None,
) -> None:
    """离线核验标签 · Verify a label with no network, against the trust bundle kept here.

    Exit codes: 0 genuine, 11 not a label, 12 malformed, 13 unsupported version, 14 unknown
    key, 15 revoked key, 16 key not valid at issue time, 17 bad signature, 18 key of another
    party.
    """
    if (text is None) == (image is None):
        raise _fail("请给出标签文本或 --image 图片之一 · Give the label text or --image, not both")
    with _reported():
        state = _state(state_dir)
        with state.outbox() as outbox:
            bundle = state.bundle(outbox)
        scan = scan_image(image, bundle) if image is not None else read_scan(text or "", bundle)
        if scan.label is None:
            raise NotALabel(
                "a digital identification code has no signature to verify; scan the label",
                zh="这是数字识别码，没有签名可核验，请扫描标签二维码",
            )
    _print_label(scan, bundle)


def _print_label(scan: Scan, bundle: TrustBundle) -> None:
    assert scan.label is not None  # noqa: S101  # verified labels only
    print_label(scan.label.payload, scan.label.key.name, f"信任列表第 {bundle.version} 版, offline")


# -- events -------------------------------------------------------------------------------------


def _details(  # noqa: PLR0913  # the event's optional fields, as options
    step: str,
    *,
    vehicle: str | None,
    read_point: str | None,
    lat: float | None,
    lon: float | None,
    mass: Mass | None = None,
    counterparty: str | None,
    manifest: str | None,
    parent: str | None = None,
    photos: tuple[bytes, ...] = (),
    note: str,
) -> EventDetails:
    if (lat is None) != (lon is None):
        raise InputError("give --lat and --lon together", zh="--lat 与 --lon 须同时给出")
    location = (lat, lon) if lat is not None and lon is not None else None
    return EventDetails(
        step=parse_step(step),
        vehicle=vehicle,
        read_point=read_point,
        location=location,
        mass=mass,
        counterparty=counterparty,
        manifest=manifest,
        parent=parent,
        photos=photos,
        note=note,
    )


def _photo_hashes(paths: list[Path]) -> tuple[bytes, ...]:
    try:
        return tuple(hashlib.sha256(path.read_bytes()).digest() for path in paths)
    except OSError as exc:
        raise InputError(f"cannot read a photo: {exc}", zh="无法读取照片文件") from exc


def _open_for_signing(state: ScannerState) -> tuple[Outbox, TrustBundle, Scanner]:
    outbox = state.outbox()
    try:
        bundle = state.bundle(outbox)
        key = state.signing_key(_passphrase(), bundle)
        key.record.check_usable_at(datetime.now(UTC))
    except BaseException:
        outbox.close()
        raise
    return outbox, bundle, Scanner(outbox, key)


class _Heads:
    """Online: link each scan to its container's latest ledger event (one quick try).

    Without an answer the scanner carries on offline and asks again a minute later.
    """

    def __init__(self, server: str | None, token: str | None) -> None:
        self._client = (
            None
            if server is None
            else ServerClient(server, retry=RetryPolicy(attempts=1, timeout=3), token=token)
        )
        self._quiet_until = 0.0

    def learn(self, outbox: Outbox, containers: list[str]) -> None:
        if self._client is None or time.monotonic() < self._quiet_until:
            return
        try:
            learn_heads(outbox, self._client, containers)
        except ServerUnreachable:
            self._quiet_until = time.monotonic() + 60


def _queued_line(queued: QueuedEvent, step: Step, kind: str) -> str:
    ids = "、".join(_display(c) for c in queued.containers)
    return (
        f"✓ {STEP_ZH[step]} {ids} {kind}，已签名存入待发送队列（计数 {queued.counter}）"
        f" · {step.value} signed and queued, counter {queued.counter}"
    )


@scan_app.command("event")
def event_command(  # noqa: PLR0913  # one option per field of the event
    step: Annotated[str, typer.Argument(help=f"Business step: {_STEPS}.", show_default=False)],
    containers: Annotated[
        list[str] | None,
        typer.Argument(help="Digital ids or label texts (WL1:…).", show_default=False),
    ] = None,
    *,
    image: Annotated[
        list[Path] | None,
        typer.Option(exists=True, dir_okay=False, help="Photo of a label (repeatable)."),
    ] = None,
    vehicle: Annotated[str | None, typer.Option(help="Plate, e.g. 川A12345.")] = None,
    read_point: Annotated[str | None, typer.Option(help="Road checkpoint id or gate.")] = None,
    lat: Annotated[float | None, typer.Option(help="WGS-84 latitude.")] = None,
    lon: Annotated[float | None, typer.Option(help="WGS-84 longitude.")] = None,
    mass_kg: Annotated[float | None, typer.Option(help="Mass in kg.")] = None,
    mass_source: Annotated[str, typer.Option(help="declared, weighbridge or scale.")] = "scale",
    counterparty: Annotated[str | None, typer.Option(help="Credit code handed to/from.")] = None,
    manifest: Annotated[str | None, typer.Option(help="Transfer manifest number.")] = None,
    parent: Annotated[str | None, typer.Option(help="Parent container (consolidating).")] = None,
    photo: Annotated[
        list[Path] | None,
        typer.Option(exists=True, dir_okay=False, help="Photo to bind by its SHA-256."),
    ] = None,
    note: Annotated[str, typer.Option(help="Free text, up to 200 characters.")] = "",
    server: ServerOption = None,
    state_dir: StateDir = None,
    token: TokenOption = None,
) -> None:
    """签名并排队一个事件 · Sign one event and keep it in the outbox (no network needed).

    Labels given as text or --image are verified offline first; a label that fails stops the
    command and nothing is signed.
    """
    if not containers and not image:
        raise _fail("至少须指定一个容器 · Name at least one container (or --image)")
    with _reported():
        mass = EventDetails.mass_kg(mass_kg, mass_source) if mass_kg is not None else None
        details = _details(
            step,
            vehicle=vehicle,
            read_point=read_point,
            lat=lat,
            lon=lon,
            mass=mass,
            counterparty=counterparty,
            manifest=manifest,
            parent=parent,
            photos=_photo_hashes(photo or []),
            note=note,
        )
        state = _state(state_dir)
        outbox, bundle, scanner = _open_for_signing(state)
        with outbox:
            scans = [read_scan(c, bundle) for c in containers or []]
            scans += [scan_image(p, bundle) for p in image or []]
            ids = [s.digital_id for s in scans]
            _Heads(server, token).learn(outbox, ids)
            manual = any(s.kind is ScanKind.TYPED for s in scans)
            queued = scanner.record(ids, details, manual=manual)
            pending = outbox.counts()[EventState.PENDING]
    typer.secho(
        _queued_line(queued, details.step, "人工录入" if manual else "标签真实"),
        fg=typer.colors.GREEN,
    )
    line("事件编号 Event id", queued.event_id)
    line("待发送 Pending", pending)


@scan_app.command("wedge")
def wedge_command(  # noqa: PLR0913  # the event's fields, fixed for the whole session
    step: Annotated[str, typer.Option(help=f"Business step of every scan: {_STEPS}.")],
    *,
    vehicle: Annotated[str | None, typer.Option(help="Plate, e.g. 川A12345.")] = None,
    read_point: Annotated[str | None, typer.Option(help="Road checkpoint id or gate.")] = None,
    lat: Annotated[float | None, typer.Option(help="WGS-84 latitude.")] = None,
    lon: Annotated[float | None, typer.Option(help="WGS-84 longitude.")] = None,
    counterparty: Annotated[str | None, typer.Option(help="Credit code handed to/from.")] = None,
    manifest: Annotated[str | None, typer.Option(help="Transfer manifest number.")] = None,
    note: Annotated[str, typer.Option(help="Free text on every event.")] = "",
    repeat_window: Annotated[
        float, typer.Option(min=0, help="Ignore the same code read again within this many s.")
    ] = 3.0,
    server: ServerOption = None,
    state_dir: StateDir = None,
    token: TokenOption = None,
) -> None:
    """扫码枪模式 · Read scans from standard input (a USB scanner in keyboard mode).

    Each line is a label's QR text or a typed digital id. Labels are verified offline; each
    scan becomes one signed event in the outbox. One line of output per scan. Exits 0 when
    every scan was queued, otherwise with the code of the first failure.
    """
    with _reported():
        details = _details(
            step,
            vehicle=vehicle,
            read_point=read_point,
            lat=lat,
            lon=lon,
            counterparty=counterparty,
            manifest=manifest,
            note=note,
        )
        state = _state(state_dir)
        outbox, bundle, scanner = _open_for_signing(state)
    repeats = RepeatFilter(repeat_window, time.monotonic)
    heads = _Heads(server, token)
    queued_n = repeated_n = failed_n = first_failure = 0
    with outbox, _reported():
        for line in KeyboardWedge(sys.stdin):
            try:
                scan = read_scan(line, bundle)
                if repeats.repeated(scan.digital_id):
                    repeated_n += 1
                    typer.echo(f"… 重复扫描，已忽略 {_display(scan.digital_id)} · repeated read")
                    continue
                heads.learn(outbox, [scan.digital_id])
                manual = scan.kind is ScanKind.TYPED
                queued = scanner.record([scan.digital_id], details, manual=manual)
            except (StorageError, ConfigurationError):
                raise  # nothing more can be kept: stop loudly
            except CustodyError as exc:
                failed_n += 1
                first_failure = first_failure or exit_code_of(exc, SCANNER_EXIT_CODES)
                typer.secho(f"✗ {exc.zh} · {exc.message} [{exc.code}]", fg=typer.colors.RED)
                continue
            queued_n += 1
            typer.echo(_queued_line(queued, details.step, "人工录入" if manual else "标签真实"))
    total = queued_n + repeated_n + failed_n
    typer.echo(
        f"共 {total} 次扫描：入队 {queued_n}，重复 {repeated_n}，失败 {failed_n}"
        f" · {total} reads: {queued_n} queued, {repeated_n} repeated, {failed_n} failed",
        err=True,
    )
    if first_failure:
        raise typer.Exit(first_failure)


# -- sync and status ----------------------------------------------------------------------------


@scan_app.command("sync")
def sync_command(  # noqa: PLR0913, PLR0917  # one option per knob of the sync
    server: Annotated[
        str | None, typer.Option(help="The custody service (default: the one enrolled with).")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=5000, help="Events per request.")] = 100,
    attempts: Annotated[int, typer.Option(min=1, help="Tries per request.")] = 5,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds per request.")] = 30.0,
    state_dir: StateDir = None,
    token: TokenOption = None,
) -> None:
    """同步 · Send queued events, verify every receipt and checkpoint, learn chain heads.

    Exit codes: 0 all delivered, 8 server unreachable (events stay queued), 9 some events
    refused (kept with the reason), 26 split view, 27 a receipt that does not verify.
    """
    with _reported():
        state = _state(state_dir)
        info = state.enrolled()
        client = ServerClient(
            server or info.server,
            retry=RetryPolicy(attempts=attempts, timeout=timeout),
            token=token,
        )
        with state.outbox() as outbox:
            try:
                report = Syncer(outbox, client, info.root, SyncConfig(batch_size)).run()
            except ServerUnreachable:
                left = outbox.counts()[EventState.PENDING]
                typer.echo(
                    f"待发送 {left} 个事件仍保留在本机 · {left} events stay queued", err=True
                )
                raise
    fresh = report.delivered - report.duplicates
    typer.secho(
        f"已入账 {report.delivered} 个事件（其中 {report.duplicates} 个此前已入账）"
        f" · {report.delivered} delivered ({fresh} new, {report.duplicates} already in the log)",
        fg=typer.colors.GREEN,
    )
    if report.checkpoint is not None:
        line("账本大小 Ledger size", f"{report.checkpoint.size}（已核验一致 consistent）")
    line(
        "信任列表 Trust bundle", f"第 {report.bundle_version} 版 · version {report.bundle_version}"
    )
    if report.bundle_rolled_back:
        typer.secho(
            "服务器提供了较旧的信任列表，已忽略 · the server offered an older trust "
            "bundle; ignored",
            fg=typer.colors.YELLOW,
        )
    line("待发送 Pending", report.pending)
    for event in report.refused:
        assert event.refusal is not None  # noqa: S101  # refused events carry a reason
        typer.secho(
            f"✗ 被拒收 {event.event_id}：{event.refusal.detail_zh} · refused: "
            f"{event.refusal.detail} [{event.refusal.code}]",
            fg=typer.colors.RED,
            err=True,
        )
    if report.refused:
        raise typer.Exit(SCANNER_EXIT_CODES[ServerRefused])


@scan_app.command("status")
def status_command(state_dir: StateDir = None) -> None:
    """状态 · Queue counts, device, trust bundle, last checkpoint, and any split view.

    Exits 26 when a split view was ever recorded.
    """
    with _reported():
        state = _state(state_dir)
        info = state.enrolled()
        with state.outbox() as outbox:
            counts = outbox.counts()
            counter = outbox.last_counter()
            latest = outbox.latest_bundle()
            checkpoint = outbox.last_checkpoint()
            views = outbox.split_views()
            refused = outbox.events(EventState.REFUSED)
    line("设备 Device", f"{info.name} ({info.kind.zh} {info.kind.value})")
    line("服务器 Server", info.server)
    for state_name in EventState:
        line(f"{state_name.zh} {state_name.value.capitalize()}", counts[state_name])
    line("设备计数器 Device counter", counter)
    line("信任列表 Trust bundle", f"第 {latest[0]} 版 · version {latest[0]}" if latest else "-")
    if checkpoint is None:
        line("最新检查点 Last checkpoint", "无 none")
    else:
        origin = checkpoint.note.split(b"\n", 1)[0].decode("utf-8", "replace")
        line("最新检查点 Last checkpoint", f"{origin} · {checkpoint.size}")
    for event in refused[-20:]:
        assert event.refusal is not None  # noqa: S101  # refused events carry a reason
        typer.echo(
            f"  被拒收 refused {event.event_id}: {event.refusal.detail_zh} [{event.refusal.code}]"
        )
    if not views:
        line("分叉视图 Split view", "无 none")
        return
    for view in views:
        typer.secho(
            f"分叉视图 Split view #{view.id} {view.detected_at:%Y-%m-%d %H:%M} UTC："
            f"{view.reason_zh} · {view.reason}",
            fg=typer.colors.RED,
            err=True,
        )
    typer.secho(
        "同步已停止，请报告监管部门 · syncing stopped: report this to the authority",
        fg=typer.colors.RED,
        err=True,
    )
    raise typer.Exit(SCANNER_EXIT_CODES[SplitViewDetected])
