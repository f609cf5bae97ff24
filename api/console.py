"""What every `custody` command shares: exit codes, error rendering, aligned lines, labels.

Commands live in several modules (the main CLI, the scanner, the witness, the gateway, the
route checks); they all report a domain error the same way: its code and its text, Chinese
first, on standard error, and an exit code a script can act on.
"""

from __future__ import annotations

import unicodedata
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from custody import errors

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from labels.payload import LabelPayload

__all__ = [
    "EXIT_CODES",
    "clip",
    "display_width",
    "exit_code_of",
    "line",
    "pad",
    "print_label",
    "reported",
    "table",
]

#: Exit codes by the kind of failure, so scripts can tell them apart. Label verification
#: gets one code per reason (documented in `custody label verify --help`).
EXIT_CODES: dict[type[errors.CustodyError], int] = {
    errors.InputError: 3,
    errors.NotFoundError: 4,
    errors.ConflictError: 5,
    errors.StorageError: 6,
    errors.ConfigurationError: 7,
    errors.AuditInterrupted: 8,
    errors.EvidenceError: 10,
    errors.NotALabel: 11,
    errors.LabelMalformed: 12,
    errors.LabelSchemaUnsupported: 13,
    errors.KeyUnknown: 14,
    errors.KeyRevoked: 15,
    errors.KeyNotValidAtIssue: 16,
    errors.SignatureInvalid: 17,
    errors.KeyOwnerMismatch: 18,
    errors.TrustBundleInvalid: 19,
    errors.EventMalformed: 20,
    errors.ChainBroken: 21,
    errors.NoteMalformed: 22,
    errors.CheckpointMalformed: 22,
    errors.ProofInvalid: 23,
    errors.LedgerTampered: 24,
    errors.BundleInvalid: 25,
}


def exit_code_of(
    exc: errors.CustodyError, extra: Mapping[type[errors.CustodyError], int] | None = None
) -> int:
    """The exit code for an error: its nearest listed ancestor's (``extra`` first), or 1."""
    for cls in type(exc).__mro__:
        if extra and cls in extra:
            return extra[cls]
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return 1


@contextmanager
def reported(
    lines: Callable[[errors.CustodyError], list[str]] | None = None,
    codes: Mapping[type[errors.CustodyError], int] | None = None,
) -> Iterator[None]:
    """Render a domain error for people (with ``lines`` of detail) and exit with its code."""
    try:
        yield
    except errors.CustodyError as exc:
        typer.secho(f"错误 Error [{exc.code}]", fg=typer.colors.RED, err=True)
        typer.echo(exc.diagnostics(), err=True)
        for text in lines(exc) if lines else []:
            typer.echo(text, err=True)
        raise typer.Exit(exit_code_of(exc, codes)) from None


def display_width(text: str) -> int:
    """Columns a terminal gives ``text``: two for each wide (CJK) character."""
    return sum(2 if unicodedata.east_asian_width(c) in {"W", "F"} else 1 for c in text)


def pad(text: str, width: int) -> str:
    """``text`` padded to ``width`` columns, and at least one space after it."""
    return text + " " * max(width - display_width(text), 1)


def clip(text: str, width: int) -> str:
    """``text`` in exactly ``width`` columns: cut with an ellipsis, or padded."""
    out, used = "", 0
    for char in text:
        wide = display_width(char)
        if used + wide > width:
            return out[:-1] + "…" + " " * (width - used)
        out, used = out + char, used + wide
    return out + " " * (width - used)


def table(heads: list[str], rows: list[list[str]]) -> None:
    """Aligned columns (wide characters counted twice); the last column is not padded."""
    widths = [
        max(display_width(cell) for cell in column) + 1 for column in zip(heads, *rows, strict=True)
    ]
    for cells in [heads, *rows]:
        start = "".join(pad(cell, width) for cell, width in zip(cells[:-1], widths, strict=False))
        typer.echo((start + cells[-1]).rstrip())


def line(label: str, value: object) -> None:
    """One ``label value`` line, aligned by display width (Chinese labels count double)."""
    typer.echo(pad(label, 28) + str(value))


def print_label(payload: LabelPayload, key_name: str, bundle_note: str) -> None:
    """What a genuine label says, Chinese first."""
    p = payload
    typer.secho("真实有效 Genuine label", fg=typer.colors.GREEN)
    line("数字识别码 Digital id", p.digital_id.display)
    line("产生单位 Generator", p.digital_id.unit_code)
    line("废物代码 Waste code", f"{p.digital_id.waste_code} ({p.edition}年版)")
    line("危险特性 Hazards", " ".join(f"{h.value}({h.zh})" for h in sorted(p.hazards, key=str)))
    line("形态 Form", p.form.value)
    line("申报净重 Declared mass", f"{p.net_mass_g / 1000:g} kg")
    line("容器 Container", f"{p.container_type.value} ({p.container_type.zh})")
    line("封签号 Seal", p.seal_no or "-")
    line("签发时间 Issued", f"{p.issued_at:%Y-%m-%d %H:%M} UTC")
    line("签名密钥 Key", f"{key_name} ({bundle_note})")
