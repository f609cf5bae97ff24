"""A real custody service on localhost, seeded for the pages, and the Chromium to look at it.

Shared by the browser tests and ``docs/screenshots.py``: one SQLite database in a folder of
its own, seeded through the API (a registered generator with a key, a container and its signed
label, a commissioning scan) and the alert store (a hand-off alert and an off-route alert with
map layers), then served by uvicorn in a thread on a free port.
"""

from __future__ import annotations

import base64
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import uvicorn
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import Session

from api.app import create_app
from api.settings import Settings
from custody.access import Principal, Role
from custody.alerts import Alert, Alerts, Severity
from custody.events import Step
from storage.alert_store import SqlAlertStore
from tests.api.test_labels import DRUM
from tests.conftest import GENERATOR_CODE, TRANSPORTER_CODE
from tests.ledger_fixtures import Scanner, enroll_scanners
from tests.support.access import PASSWORD, sign_in, token_for
from tests.support.alerts import T0, handoff_alert

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import BrowserContext, Page

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling Google on a closed network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
KEK = SecretStr("tests-only key-encryption key")
GENERATOR_NAME = "成都蓉新化工有限公司"
LAYERS = {
    "route": {"type": "LineString", "coordinates": [[104.0, 30.6], [104.1, 30.65]]},
    "corridor": {
        "type": "Polygon",
        "coordinates": [[[103.99, 30.59], [104.11, 30.59], [104.11, 30.66], [103.99, 30.59]]],
    },
    "episode": {"type": "LineString", "coordinates": [[104.05, 30.62], [104.06, 30.64]]},
    "stop": {"type": "Point", "coordinates": [104.06, 30.64]},
    "sightings": {"type": "MultiPoint", "coordinates": [[104.0, 30.6], [104.1, 30.65]]},
}


#: The officer who uses the pages in the browser tests (a police officer for Sichuan).
OFFICER = Principal("police.li", Role.POLICE, districts=("51",))
#: The generator's clerk who registers containers and prints their labels.
GENERATOR = Principal("rongxin.clerk", Role.GENERATOR, party=GENERATOR_CODE)


@dataclass(frozen=True)
class Site:
    """The running service and what was seeded into it."""

    base_url: str
    digital_id: str
    label: str
    route_alert: str
    handoff_alert: str


def _alert(n: int, **changes: object) -> Alert:
    return handoff_alert(n, **{"entries": (1,)} | changes)


def _seed(settings: Settings) -> tuple[str, str, str, str]:
    """Parties, a key, a labelled container with one scan, and two alerts."""
    with TestClient(create_app(settings)) as client:
        sign_in(client)
        with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
            token_for(session, OFFICER, password=PASSWORD)
            token_for(session, GENERATOR, password=PASSWORD)
        for code, name, role in [
            (GENERATOR_CODE, GENERATOR_NAME, "generator"),
            (TRANSPORTER_CODE, "四川危运物流有限公司", "transporter"),
        ]:
            party = {"credit_code": code, "name": name, "roles": [role]}
            assert client.post("/parties", json=party).status_code == 201
        engine = client.app.state.engine  # type: ignore[attr-defined]
        enroll_scanners(engine, KEK.get_secret_value().encode(), drums=0)
        assert client.post("/keys", json={"owner": GENERATOR_CODE}).status_code == 201
        made = client.post("/containers", json=DRUM)
        assert made.status_code == 201, made.text
        digital_id = str(made.json()["digital_id"])
        label = str(client.post(f"/containers/{digital_id}/labels").json()["text"])
        scanner = Scanner(GENERATOR_CODE)
        scan = scanner.scan(Step.COMMISSIONING, digital_id)
        body = {"events": [base64.b64encode(scan.message).decode()]}
        assert client.post("/events", json=body).status_code == 201
        _seed_loaded(client, scanner)
        route = _alert(
            7,
            rule="off-route",
            severity=Severity.MEDIUM,
            summary_zh="车辆偏离批准路线 1.2 公里",
            summary="the vehicle left the approved route for 1.2 km",
            facts={"detour_m": 1200, "layers": LAYERS},
        )
        handoff = _alert(3)
        Alerts(SqlAlertStore(engine)).raise_all([route, handoff], T0 + timedelta(days=1))
    return digital_id, label, route.alert_id, handoff.alert_id


def _seed_loaded(client: TestClient, scanner: Scanner) -> None:
    """A second labelled container, on the transporter's truck (for the generator's list)."""
    bags = {**DRUM, "waste_code": "900-041-49", "waste_name": "废弃包装物", "form": "S",
            "container_type": "BG", "capacity_l": 500, "declared_net_mass_kg": 86}  # fmt: skip
    made = client.post("/containers", json=bags)
    assert made.status_code == 201, made.text
    loaded = str(made.json()["digital_id"])
    assert client.post(f"/containers/{loaded}/labels").status_code == 201
    transporter = Scanner(TRANSPORTER_CODE)
    filled = scanner.scan(Step.COMMISSIONING, loaded, minutes=5)
    transporter.follow(scanner)
    on_truck = transporter.scan(Step.LOADING, loaded, minutes=90, vehicle="川A12345",
                                counterparty=GENERATOR_CODE)  # fmt: skip
    body = {"events": [base64.b64encode(s.message).decode() for s in (filled, on_truck)]}
    assert client.post("/events", json=body).status_code == 201


@contextmanager
def serve(folder: Path) -> Iterator[Site]:
    """Seed a database in ``folder`` and serve it with uvicorn until the block ends."""
    os.environ["CUSTODY_CHECKER"] = "false"
    settings = Settings(
        data_dir=folder,
        database_url=f"sqlite:///{folder / 'browser.sqlite3'}",
        key_encryption_key=KEK,
        log_origin="custody.test/log",
        checker=False,
    )
    digital_id, label, route_alert, handoff_alert = _seed(settings)
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Site(f"http://127.0.0.1:{port}", digital_id, label, route_alert, handoff_alert)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def open_as_officer(browser: BrowserContext, site: Site, path: str) -> Page:
    """A page at ``path``, logging the officer in on the way if the site asks (it does once)."""
    return open_as(browser, site, path, OFFICER)


def open_as_generator(browser: BrowserContext, site: Site, path: str) -> Page:
    """A page at ``path``, logging the generator's clerk in on the way if the site asks."""
    return open_as(browser, site, path, GENERATOR)


def open_as(browser: BrowserContext, site: Site, path: str, who: Principal) -> Page:
    """A page at ``path``, logging ``who`` in on the way if the site asks for a login."""
    page = browser.new_page()
    page.goto(site.base_url + path)
    if "/login" in page.url:
        page.locator('input[name="name"]').fill(who.name)
        page.locator('input[name="password"]').fill(PASSWORD)
        page.locator('form.login button[type="submit"]').click()
        page.wait_for_url(f"**{path}")
    return page


@contextmanager
def chromium(profile: Path) -> Iterator[BrowserContext]:
    """Debian's headless Chromium driven by Playwright, on a fresh profile folder."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415  # optional: skip without it

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield context
        finally:
            context.close()
