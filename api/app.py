"""The FastAPI application, built by a factory from explicit settings (never at import time)."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from anyio import to_thread
from fastapi_offline import FastAPIOffline

from api import problems
from api.auth import install_read_log
from api.checking import LiveChecker, load_network
from api.endpoints import (
    accounts,
    alerts,
    devices,
    generator_pages,
    health,
    labels,
    ledger,
    login_pages,
    manifests,
    officer_pages,
    pages,
    queries,
    reference,
    registry,
    reports,
    sightings,
)
from api.openapi import complete_openapi
from api.ratelimit import WriteLimiter
from api.secrets import key_encryption_key
from api.settings import Settings
from storage.engine import make_engine
from storage.migrate import upgrade

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from fastapi import FastAPI

__all__ = ["WORKER_THREADS", "create_app"]

WORKER_THREADS = 32

_DESCRIPTION = """\
危险废物全链条追溯：电子标识、防篡改的交接账本与道路卡口核查。

Custody of hazardous waste containers from the drum to the incinerator: signed labels, a
tamper-evident custody ledger and road-network checks. Errors are RFC 9457 problem details
(`application/problem+json`) with a stable `code` and Chinese text in `title_zh`/`detail_zh`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service. ``settings`` defaults to what the environment says."""
    settings = settings or Settings()
    url = settings.effective_database_url

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.should_migrate_on_start:
            upgrade(url)
        app.state.kek = key_encryption_key(settings)
        # Sync endpoints run on worker threads; a request holds its session's connection while
        # a store opens a second one, so the pool must hold two per thread or they deadlock.
        to_thread.current_default_thread_limiter().total_tokens = WORKER_THREADS
        app.state.engine = make_engine(url, connections=2 * WORKER_THREADS + 4)
        app.state.checker = None
        if settings.checker:
            app.state.checker = LiveChecker(
                app.state.engine,
                load_network=lambda: load_network(settings),
                interval_s=settings.check_interval_s,
                sweep_s=settings.check_sweep_s,
            )
            app.state.checker.start()
        try:
            yield
        finally:
            if app.state.checker is not None:
                app.state.checker.stop()
            app.state.engine.dispose()

    logging.getLogger("custody").setLevel(settings.log_level.upper())
    # The service must work with no internet: /docs serves Swagger UI from local files.
    app = FastAPIOffline(
        title="custody",
        summary="危险废物容器追溯 · Hazardous waste chain of custody",
        description=_DESCRIPTION,
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.write_limiter = WriteLimiter(settings.write_rate_per_minute, settings.write_burst)
    app.state.login_limiter = WriteLimiter(per_minute=10, burst=10)
    problems.install(app)
    install_read_log(app)
    login_pages.install(app)
    app.include_router(health.router)
    app.include_router(reference.router)
    app.include_router(registry.router)
    app.include_router(labels.router)
    app.include_router(ledger.router)
    app.include_router(devices.router)
    app.include_router(sightings.router)
    app.include_router(manifests.router)
    app.include_router(queries.router)  # before alerts: /alerts/near, not /alerts/{alert_id}
    app.include_router(reports.router)  # before alerts: /alerts/{id}/report.pdf is its own
    app.include_router(alerts.router)
    app.include_router(pages.router)
    app.include_router(officer_pages.router, include_in_schema=False)
    app.include_router(generator_pages.router, include_in_schema=False)
    app.include_router(login_pages.router)
    app.include_router(accounts.router)
    complete_openapi(app)
    return app
