"""`custody keys` and `custody label`: a generator mints on the command line, anyone verifies
offline with a pinned root and a bundle file; each failure has its own exit code."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from api.cli import app
from tests.conftest import GENERATOR_CODE

if TYPE_CHECKING:
    from pathlib import Path

runner = CliRunner()


@pytest.fixture
def minted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path | str]:
    monkeypatch.setenv("CUSTODY_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    monkeypatch.setenv("CUSTODY_DATA_DIR", str(tmp_path / "data"))
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    registry = tmp_path / "registry.json"
    party = {"credit_code": GENERATOR_CODE, "name": "成都蓉新化工有限公司", "roles": ["generator"]}
    registry.write_text(json.dumps({"parties": [party]}, ensure_ascii=False), encoding="utf-8")
    assert runner.invoke(app, ["registry", "import", str(registry)]).exit_code == 0
    new = runner.invoke(app, ["keys", "new", "--owner", GENERATOR_CODE])
    assert new.exit_code == 0, new.output

    png = tmp_path / "label.png"
    result = runner.invoke(
        app,
        [
            "label",
            "mint",
            "--generator",
            GENERATOR_CODE,
            "--waste-code",
            "900-249-08",
            "--mass-kg",
            "182.5",
            "--name",
            "废机油",
            "--seal",
            "S-1",
            "--day",
            "2026-03-05",
            "--out",
            str(png),
        ],
    )
    assert result.exit_code == 0, result.output
    txt = tmp_path / "label.txt"
    digital_id = f"{GENERATOR_CODE}9002490820260305001"
    rendered = runner.invoke(
        app, ["label", "render", digital_id, "--format", "txt", "--out", str(txt)]
    )
    assert rendered.exit_code == 0, rendered.output
    text = txt.read_text(encoding="utf-8")  # Base45 may hold spaces: read it whole

    bundle = tmp_path / "bundle.cose"
    assert runner.invoke(app, ["keys", "bundle", "--out", str(bundle)]).exit_code == 0
    root = tmp_path / "root.pub"
    root.write_text(runner.invoke(app, ["keys", "root"]).output.strip(), encoding="utf-8")
    return {"png": png, "text": text, "bundle": bundle, "root": root}


def test_minted_png_verifies_offline_with_pinned_root(minted: dict[str, Path | str]) -> None:
    result = runner.invoke(
        app,
        [
            "label",
            "verify",
            str(minted["png"]),
            "--bundle",
            str(minted["bundle"]),
            "--root",
            str(minted["root"]),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "真实有效 Genuine label" in result.output
    assert "182.5 kg" in result.output
    assert "900-249-08" in result.output


def test_verify_text_against_the_local_database(minted: dict[str, Path | str]) -> None:
    assert runner.invoke(app, ["label", "verify", str(minted["text"])]).exit_code == 0


def test_verify_reads_a_text_file(minted: dict[str, Path | str], tmp_path: Path) -> None:
    file = tmp_path / "scanned.txt"
    file.write_text(str(minted["text"]), encoding="utf-8")
    assert runner.invoke(app, ["label", "verify", str(file)]).exit_code == 0


def _flip(text: str) -> str:
    i = len(text) - 10
    return text[:i] + ("A" if text[i] != "A" else "B") + text[i + 1 :]


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda _: "hello", 11),
        (lambda _: "WL1:" + "%%%", 12),
        (_flip, 17),
    ],
)
def test_each_failure_has_its_exit_code(minted: dict[str, Path | str], mutate, code: int) -> None:
    result = runner.invoke(app, ["label", "verify", mutate(str(minted["text"]))])
    assert result.exit_code == code, result.output


def test_revoked_key_exit_code(minted: dict[str, Path | str]) -> None:
    name = f"{GENERATOR_CODE}/label-issuer/1"
    assert runner.invoke(app, ["keys", "revoke", name, "--reason", "丢失"]).exit_code == 0
    result = runner.invoke(app, ["label", "verify", str(minted["text"])])
    assert result.exit_code == 15
    assert "吊销" in result.output


def test_bundle_from_another_root_is_refused(minted: dict[str, Path | str], tmp_path: Path) -> None:
    other = tmp_path / "other.pub"
    other.write_text("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
    result = runner.invoke(
        app,
        [
            "label",
            "verify",
            str(minted["text"]),
            "--bundle",
            str(minted["bundle"]),
            "--root",
            str(other),
        ],
    )
    assert result.exit_code == 19


def test_picture_without_a_label_is_not_a_label(
    minted: dict[str, Path | str], tmp_path: Path
) -> None:
    from PIL import Image  # noqa: PLC0415

    blank = tmp_path / "blank.png"
    Image.new("L", (200, 200), 255).save(blank)
    assert runner.invoke(app, ["label", "verify", str(blank)]).exit_code == 11
    assert minted


def test_render_every_format(minted: dict[str, Path | str], tmp_path: Path) -> None:
    digital_id = f"{GENERATOR_CODE}9002490820260305001"
    for fmt, magic in [("pdf", b"%PDF"), ("svg", b"<"), ("zpl", b"^XA"), ("png", b"\x89PNG")]:
        out = tmp_path / f"label.{fmt}"
        result = runner.invoke(
            app, ["label", "render", digital_id, "--format", fmt, "--out", str(out)]
        )
        assert result.exit_code == 0, result.output
        assert out.read_bytes().lstrip()[:4].startswith(magic)
    assert minted


def test_mint_for_generator_without_key_says_how_to_make_one(minted: dict[str, Path | str]) -> None:
    other = "91510112MA62M3K99H"
    result = runner.invoke(
        app, ["label", "mint", "--generator", other, "--waste-code", "900-249-08", "--mass-kg", "1"]
    )
    assert result.exit_code == 4  # the generator is not registered
    assert minted
