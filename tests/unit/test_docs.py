"""Documents that must stay in step with the code."""

from __future__ import annotations

from pathlib import Path

from api.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented() -> None:
    text = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"`CUSTODY_{name.upper()}`" in text, name


def test_every_scanner_setting_is_documented() -> None:
    from api.scan_cli import ScannerSettings  # noqa: PLC0415  # only this test needs it

    text = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    for name in ScannerSettings.model_fields:
        assert f"`CUSTODY_SCANNER_{name.upper()}`" in text, name


def test_readme_quick_start_is_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    quick_start = text.split("## Quick start", 1)[1].split("##", 1)[0]
    assert "make run" in quick_start
    assert "make test" in quick_start
