"""`custody gateway`: starts on the configured database, answers terminals, stops on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from typer.testing import CliRunner

from api.gateway_cli import gateway

if TYPE_CHECKING:
    import pytest

ROOT = Path(__file__).resolve().parents[2]
# The command is mounted in api/cli.py by its owner; run it on its own here.
LAUNCH = "import typer; from api.gateway_cli import gateway; typer.run(gateway)"
HEARTBEAT = bytes.fromhex("7E00020000012345678900000A817E")  # SmallChi/JT808 0x0002 Test2


def test_gateway_migrates_listens_answers_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    env = {**os.environ, "CUSTODY_DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    env.pop("CUSTODY_DATABASE_URL", None)
    process = subprocess.Popen(  # noqa: S603  # our own interpreter and a fixed script
        [sys.executable, "-c", LAUNCH, "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("JT/T 808 网关正在监听 127.0.0.1:")
        assert "JT/T 808 gateway listening on 127.0.0.1:" in first
        port = int(re.findall(r":(\d+)", first)[0])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as terminal:
            terminal.sendall(HEARTBEAT)
            reply = terminal.recv(100)
        assert reply.startswith(b"\x7e\x80\x01")  # platform general reply
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert "网关已停止 · Gateway stopped" in out
    assert process.returncode == 0
    assert (tmp_path / "custody.sqlite3").exists()  # migrated the embedded database


def test_port_in_use_is_reported_in_both_languages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUSTODY_DATABASE_URL", f"sqlite:///{tmp_path / 'gw.sqlite3'}")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        app_result = CliRunner().invoke(_app(), ["--port", str(port)])
    assert app_result.exit_code == 1
    assert f"无法监听 127.0.0.1:{port} · Cannot listen on 127.0.0.1:{port}" in app_result.output


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(gateway)
    return app
