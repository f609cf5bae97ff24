"""``custody gateway``: run the JT/T 808 vehicle terminal gateway until Ctrl-C."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

import typer

from api.console import exit_code_of
from api.settings import Settings
from custody.errors import CustodyError
from scanners.jt808.gateway import DEFAULT_IDLE_TIMEOUT, Gateway
from storage.engine import make_engine
from storage.migrate import upgrade
from storage.track_store import SqlTrackStore

__all__ = ["gateway"]


async def _run(gateway: Gateway, host: str) -> None:
    async with gateway:
        typer.echo(
            f"JT/T 808 网关正在监听 {host}:{gateway.port}，按 Ctrl-C 停止 · "
            f"JT/T 808 gateway listening on {host}:{gateway.port}, Ctrl-C to stop"
        )
        await asyncio.Event().wait()  # until Ctrl-C cancels this task


def gateway(
    host: Annotated[
        str,
        typer.Option(help="Listen address; 0.0.0.0 to accept terminals from the network."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Listen port.")] = 8808,
    idle_timeout: Annotated[
        float, typer.Option(min=1.0, help="Seconds of silence before a connection is closed.")
    ] = DEFAULT_IDLE_TIMEOUT,
) -> None:
    """启动 JT/T 808 车载终端网关 · Run the JT/T 808 vehicle terminal gateway."""
    settings = Settings()
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("custody").setLevel(settings.log_level.upper())
    url = settings.effective_database_url
    engine = None
    try:
        if settings.should_migrate_on_start:
            upgrade(url)
        engine = make_engine(url)
        server = Gateway(SqlTrackStore(engine), host=host, port=port, idle_timeout=idle_timeout)
        asyncio.run(_run(server, host))
    except KeyboardInterrupt:
        typer.echo("网关已停止 · Gateway stopped")
    except CustodyError as exc:
        typer.secho(f"错误 Error [{exc.code}]", fg=typer.colors.RED, err=True)
        typer.echo(exc.diagnostics(), err=True)
        raise typer.Exit(exit_code_of(exc)) from None
    except OSError as exc:  # the port is taken, or the address is not ours
        typer.secho(f"无法监听 {host}:{port} · Cannot listen on {host}:{port}: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        if engine is not None:
            engine.dispose()
