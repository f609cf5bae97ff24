"""A C2SP tlog-witness over HTTP, its state file, its key file, and ``custody witness`` commands.

The witness is a separate service, run by an organisation independent of the log operator (an
environment bureau, the traffic police, a university): it answers ``POST /add-checkpoint`` and
nothing else. The logic is :class:`custody.witness.Witness`; this module adds I/O:

* :func:`create_witness_app`, the HTTP endpoint. Its errors are the plain status codes and
  bodies that C2SP tlog-witness prescribes, **not** the ``application/problem+json`` of the main
  service (``api/problems.py``): logs talking to witnesses are generic tlog-witness clients.
* :class:`JsonFileWitnessStore`, the latest cosigned checkpoint per log in one JSON file,
  replaced atomically and fsynced before the cosignature is returned.
* The witness key file: an encrypted PKCS #8 PEM, preceded by one ``name:`` line because the
  cosignature key id depends on the name. The passphrase comes from
  ``CUSTODY_WITNESS_PASSPHRASE``.
* ``witness_app``: ``new-key`` and ``serve``.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import logging
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import APIRouter, FastAPI, Request, Response
from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.concurrency import run_in_threadpool

from api.console import reported
from custody.checkpoint import Checkpoint
from custody.errors import (
    CheckpointMalformed,
    ConfigurationError,
    ConflictError,
    CustodyError,
    EvidenceError,
    InputError,
    KeyUnknown,
    NotFoundError,
    ProofInvalid,
    SignatureInvalid,
    StorageError,
)
from custody.keys import KeyRole, SigningKey, VerifierKey
from custody.witness import (
    MAX_REQUEST_BYTES,
    STALE_OLD_SIZE,
    Witness,
    WitnessedCheckpoint,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from contextlib import AbstractContextManager

__all__ = [
    "SIZE_MEDIA_TYPE",
    "JsonFileWitnessStore",
    "create_witness_app",
    "load_witness_key",
    "parse_log",
    "status_of",
    "witness_app",
    "write_witness_key",
]

_log = logging.getLogger("custody.witness")

#: tlog-witness: a 409 for a stale ``old`` carries the witness's size with this content type.
SIZE_MEDIA_TYPE = "text/x.tlog.size"
_TEXT = "text/plain; charset=utf-8"

# -- HTTP -----------------------------------------------------------------------------------

#: tlog-witness status codes, most specific error first (the first match wins).
_STATUS: tuple[tuple[type[CustodyError] | tuple[type[CustodyError], ...], int], ...] = (
    (ConflictError, 409),  # stale old size, or another root for the same size
    (NotFoundError, 404),  # unknown origin
    ((KeyUnknown, SignatureInvalid), 403),  # no valid signature by the log's key
    (ProofInvalid, 422),  # the consistency proof does not hold
    ((InputError, EvidenceError), 400),  # malformed request, note or checkpoint
)


def status_of(exc: CustodyError) -> int:
    """The tlog-witness HTTP status for an error of :meth:`Witness.add_checkpoint`; else 500."""
    for kinds, status in _STATUS:
        if isinstance(exc, kinds):
            return status
    return 500


def _error_response(exc: CustodyError) -> Response:
    status = status_of(exc)
    if status == 409 and exc.context.get("reason") == STALE_OLD_SIZE:
        # Set the header ourselves: Starlette would append "; charset=utf-8" to a text/ type.
        body = f"{exc.context['size']}\n".encode()
        return Response(body, 409, headers={"Content-Type": SIZE_MEDIA_TYPE})
    if status == 500:
        _log.error("witness failure: %s", exc.message, exc_info=exc)
        return Response("internal error\n", 500, media_type=_TEXT)
    return Response(f"{exc.diagnostics()}\n", status, media_type=_TEXT)


async def _read_body(request: Request) -> bytes | None:
    """The request body, or ``None`` once it grows past what any valid request needs."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_REQUEST_BYTES:
            return None
    return bytes(body)


def create_witness_app(witness: Witness) -> FastAPI:
    """The witness's HTTP service: ``POST /add-checkpoint`` as C2SP tlog-witness specifies it.

    Errors use the specification's plain status codes, not problem+json: 400 malformed, 403
    no valid log signature, 404 unknown origin, 409 stale ``old`` (body: the witness's size,
    ``text/x.tlog.size``) or a second root for one size, 422 consistency proof fails.
    """
    router = APIRouter()

    @router.post("/add-checkpoint", response_class=Response)
    async def add_checkpoint(request: Request) -> Response:
        body = await _read_body(request)
        if body is None:
            return Response(
                f"request larger than {MAX_REQUEST_BYTES} bytes\n", 400, media_type=_TEXT
            )
        try:
            # Signature checks, signing and the fsynced state write block: keep them off the loop.
            cosignature = await run_in_threadpool(witness.add_checkpoint, body)
        except CustodyError as exc:
            return _error_response(exc)
        return Response(cosignature, 200, media_type=_TEXT)

    # Offline by design: no /docs pulling scripts from a CDN, and nothing to document but one POST.
    app = FastAPI(title="custody witness", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(router)
    return app


# -- state file -----------------------------------------------------------------------------

_STATE_FORMAT = "custody-witness-state/1"


def _damaged(path: Path, reason: str) -> StorageError:
    return StorageError(
        f"witness state file {path} is damaged ({reason}); restore it from a backup, never "
        "start over empty: an empty state would let the log roll back",
        zh=f"见证状态文件 {path} 已损坏（{reason}）。请从备份恢复，"
        "切勿清空重来：空状态会让日志得以回滚",
        path=str(path),
    )


class JsonFileWitnessStore:
    """A :class:`custody.witness.WitnessStore` in one JSON file, safe across processes.

    Every compare-and-swap holds an exclusive ``flock`` on ``<path>.lock``, re-reads the file,
    and replaces it by a fsynced temporary file and ``os.replace``, then fsyncs the folder:
    after it returns, the new state survives a crash, and a crash midway leaves the old state.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = Path(path)
        self._lock_path = self._path.with_name(self._path.name + ".lock")
        self._read()  # a damaged file stops the witness at start, not at the first request

    def latest(self, origin: str) -> WitnessedCheckpoint | None:
        """The latest cosigned checkpoint of ``origin``, or ``None``."""
        return self._read().get(origin)

    def compare_and_swap(
        self, origin: str, expected: WitnessedCheckpoint | None, new: WitnessedCheckpoint
    ) -> bool:
        """Store ``new`` if the latest is still ``expected``; raise ``StorageError`` on failure."""
        with self._locked():
            state = self._read()
            if state.get(origin) != expected:
                return False
            state[origin] = new
            self._write(state)
            return True

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise self._failed("cannot open the lock file", exc) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # released when fd closes
            yield
        finally:
            os.close(fd)

    def _failed(self, what: str, exc: OSError) -> StorageError:
        return StorageError(
            f"witness state {self._path}: {what}: {exc}",
            zh=f"见证状态文件 {self._path} 读写失败：{exc}",
            path=str(self._path),
        )

    def _read(self) -> dict[str, WitnessedCheckpoint]:
        try:
            raw = self._path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise self._failed("cannot read", exc) from exc
        try:
            return _parse_state(raw)
        except (ValueError, KeyError, TypeError, AttributeError, CustodyError) as exc:
            raise _damaged(self._path, str(exc) or type(exc).__name__) from exc

    def _write(self, state: dict[str, WitnessedCheckpoint]) -> None:
        document = {
            "format": _STATE_FORMAT,
            "logs": {origin: _dump_entry(entry) for origin, entry in sorted(state.items())},
        }
        data = json.dumps(document, indent=2, ensure_ascii=False).encode() + b"\n"
        folder = self._path.parent
        try:
            fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{self._path.name}.")
        except OSError as exc:
            raise self._failed("cannot create a temporary file", exc) from exc
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            Path(temporary).replace(self._path)
            folder_fd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(folder_fd)  # make the rename itself durable
            finally:
                os.close(folder_fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                Path(temporary).unlink()
            raise self._failed("cannot write", exc) from exc


def _parse_state(raw: bytes) -> dict[str, WitnessedCheckpoint]:
    document = json.loads(raw)
    if document["format"] != _STATE_FORMAT:
        raise ValueError(f"unknown format {document['format']!r}")
    return {origin: _load_entry(origin, entry) for origin, entry in document["logs"].items()}


def _dump_entry(entry: WitnessedCheckpoint) -> dict[str, object]:
    return {
        "size": entry.size,
        "root": base64.b64encode(entry.root).decode(),
        "note": entry.note.decode(),
    }


def _load_entry(origin: str, entry: dict[str, Any]) -> WitnessedCheckpoint:
    if not isinstance(entry["note"], str) or type(entry["size"]) is not int:
        raise TypeError(f"entry {origin!r} has a wrongly typed field")
    root = base64.b64decode(entry["root"], validate=True)
    return WitnessedCheckpoint(Checkpoint(origin, entry["size"], root), entry["note"].encode())


# -- key file -------------------------------------------------------------------------------

_NAME_PREFIX = "name: "
_KEY_HEADER = "custody witness key · 见证方私钥 (C2SP cosignature/v1, Ed25519)\n"


class WitnessSettings(BaseSettings):
    """The witness command's secret, from ``CUSTODY_WITNESS_PASSPHRASE``."""

    model_config = SettingsConfigDict(env_prefix="CUSTODY_WITNESS_", env_file=None, extra="ignore")

    passphrase: SecretStr = Field(min_length=16)


def _passphrase() -> bytes:
    try:
        settings = WitnessSettings()
    except ValidationError as exc:
        raise ConfigurationError(
            "set CUSTODY_WITNESS_PASSPHRASE to the witness key's passphrase "
            "(16 characters or more)",
            zh="请设置 CUSTODY_WITNESS_PASSPHRASE（见证方私钥口令，至少 16 个字符）",
        ) from exc
    return settings.passphrase.get_secret_value().encode()


def _witness_key(private: Ed25519PrivateKey, name: str) -> SigningKey:
    # A witness key has no validity window of its own: clients pin it until they drop it.
    return SigningKey.from_private(
        private,
        name=name,
        owner=name,
        role=KeyRole.WITNESS,
        valid_from=datetime.fromtimestamp(0, UTC),
        valid_until=datetime.max.replace(tzinfo=UTC),
    )


def write_witness_key(path: Path, name: str, passphrase: bytes) -> SigningKey:
    """Make a witness key named ``name`` and write it, encrypted, to a new file at ``path``."""
    key = _witness_key(Ed25519PrivateKey.generate(), name)
    pem = key.encrypted(passphrase)
    text = _KEY_HEADER.encode() + f"{_NAME_PREFIX}{name}\n".encode() + pem
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConflictError(
            f"{path} exists; a witness key is never overwritten",
            zh=f"{path} 已存在，不会覆盖已有的见证方私钥",
            path=str(path),
        ) from None
    except OSError as exc:
        raise StorageError(f"cannot create {path}: {exc}", zh=f"无法创建 {path}：{exc}") from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(text)
    return key


def load_witness_key(path: Path, passphrase: bytes) -> SigningKey:
    """Open a key file written by :func:`write_witness_key`; raise ``ConfigurationError``."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}", zh=f"无法读取 {path}") from exc
    head, begin, pem = text.partition(b"-----BEGIN")
    names = [
        line.removeprefix(_NAME_PREFIX)
        for line in head.decode("utf-8", "replace").splitlines()
        if line.startswith(_NAME_PREFIX)
    ]
    if len(names) != 1 or not begin:
        raise ConfigurationError(
            f"{path} is not a witness key file (one 'name:' line, then a PEM key)",
            zh=f"{path} 不是见证方私钥文件",
        )
    try:
        private = serialization.load_pem_private_key(begin + pem, password=passphrase)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(
            f"cannot open {path}: wrong CUSTODY_WITNESS_PASSPHRASE, or a damaged file",
            zh=f"无法解密 {path}：CUSTODY_WITNESS_PASSPHRASE 口令错误或文件损坏",
        ) from exc
    if not isinstance(private, Ed25519PrivateKey):
        raise ConfigurationError(f"{path} is not an Ed25519 key", zh=f"{path} 不是 Ed25519 私钥")
    return _witness_key(private, names[0])


# -- logs to witness ------------------------------------------------------------------------


def parse_log(text: str) -> tuple[str, VerifierKey]:
    """Read ``--log``: ``"<origin> <verifier key>"``, or the key alone when its name is the origin.

    The verifier key is ``name+keyid+base64``, without spaces; an origin may hold spaces, so
    the key is what follows the last one.
    """
    origin, _, encoded = text.strip().rpartition(" ")
    key = VerifierKey.parse(encoded)
    origin = origin.strip() or key.name
    try:
        Checkpoint(origin, 0, bytes(32))  # the origin rules of a checkpoint
    except CheckpointMalformed as exc:
        raise InputError(exc.message, zh=exc.zh, field="log") from exc
    return origin, key


def _parse_logs(texts: Sequence[str]) -> dict[str, VerifierKey]:
    logs: dict[str, VerifierKey] = {}
    for text in texts:
        origin, key = parse_log(text)
        if origin in logs:
            raise InputError(
                f"origin {origin} is given twice", zh=f"来源 {origin} 重复", field="log"
            )
        logs[origin] = key
    return logs


# -- commands -------------------------------------------------------------------------------

witness_app = typer.Typer(
    help="见证方 · Run a C2SP tlog-witness that cosigns checkpoints of custody logs.",
    no_args_is_help=True,
)


def _reported() -> AbstractContextManager[None]:
    return reported()


@witness_app.command("new-key")
def new_key(
    name: Annotated[str, typer.Option(help="The witness's name, e.g. witness.sthjt.sc.gov.cn/w1.")],
    out: Annotated[Path, typer.Option(dir_okay=False, help="The key file to create.")],
) -> None:
    """新建见证方私钥 · Make a witness key; print the verifier key that logs and clients pin.

    The file is encrypted with CUSTODY_WITNESS_PASSPHRASE and never overwritten.
    """
    with _reported():
        key = write_witness_key(out, name, _passphrase())
    typer.echo(key.record.verifier_key)


@witness_app.command("serve")
def serve(
    key_file: Annotated[
        Path, typer.Option(exists=True, dir_okay=False, help="Key file made by `new-key`.")
    ],
    log: Annotated[
        list[str],
        typer.Option(
            help="A log to witness: '<origin> <verifier key>', or the verifier key alone when "
            "its name is the origin. Repeat for more logs.",
            show_default=False,
        ),
    ],
    state: Annotated[
        Path, typer.Option(dir_okay=False, help="JSON file of the latest cosigned checkpoints.")
    ],
    host: Annotated[str, typer.Option(help="Listen address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Listen port.")] = 7380,
) -> None:
    """启动见证服务 · Serve POST /add-checkpoint (C2SP tlog-witness).

    Keep the state file safe and backed up: a witness that loses it can be rolled back.
    """
    import uvicorn  # noqa: PLC0415  # only this command needs the server

    with _reported():
        key = load_witness_key(key_file, _passphrase())
        logs = _parse_logs(log)
        store = JsonFileWitnessStore(state)
        witness = Witness(key, logs, store, clock=lambda: int(time.time()))
    typer.echo(f"见证方 Witness: {witness.verifier}")
    for origin, log_key in logs.items():
        typer.echo(f"日志 Log: {origin}  {log_key}")
    uvicorn.run(create_witness_app(witness), host=host, port=port)
