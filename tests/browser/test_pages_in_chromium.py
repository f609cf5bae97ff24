"""The main paths through the pages in real headless Chromium against the real service."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import quote

from tests.browser.site import OFFICER, open_as_officer

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

    from tests.browser.site import Site


def test_genuine_label_shows_verdict_and_digital_id(site: Site, browser: BrowserContext) -> None:
    page = browser.new_page()
    page.goto(f"{site.base_url}/verify?label={quote(site.label, safe='')}")
    body = page.locator("body")
    assert "真实有效" in body.inner_text()
    assert page.get_by_text(site.digital_id).first.is_visible()
    assert "标签不可信" not in body.inner_text()
    page.close()


def test_officer_opens_an_alert_from_the_list_and_sees_its_map(
    site: Site, browser: BrowserContext
) -> None:
    page = open_as_officer(browser, site, "/officer/alerts")
    page.locator(f'tr[id="{site.route_alert}"] a').first.click()
    page.wait_for_url(f"**/officer/alerts/{site.route_alert}")
    svg = page.locator("svg.alert-map")
    svg.wait_for(state="visible")
    box = svg.bounding_box()
    assert box is not None
    assert box["width"] > 100
    assert box["height"] > 50
    assert page.locator('svg.alert-map [data-layer="route"]').count() == 1
    page.close()


def test_dismissing_with_a_reason_records_it(site: Site, browser: BrowserContext) -> None:
    page = open_as_officer(browser, site, f"/officer/alerts/{site.handoff_alert}")
    form = page.locator('form.change:has(input[name="state"][value="dismissed"])')
    form.locator('input[name="reason"]').fill("车辆维修，已核实")
    form.locator('button[type="submit"]').click()
    page.wait_for_load_state()
    assert page.locator("#state").inner_text() == "已排除"
    history = page.locator("table.history").inner_text()
    assert re.search(rf"{OFFICER.name}\s+已排除.*车辆维修，已核实", history)
    page.close()


def test_dismissing_without_a_reason_is_refused(site: Site, browser: BrowserContext) -> None:
    page = open_as_officer(browser, site, f"/officer/alerts/{site.route_alert}")
    form = page.locator('form.change:has(input[name="state"][value="dismissed"])')
    form.locator('button[type="submit"]').click()
    # The browser's own check stops it first: the reason field is required.
    assert form.evaluate("f => f.checkValidity()") is False
    assert page.locator("#error").count() == 0
    # Without that check (an old browser, a hand-made request) the service refuses it.
    form.evaluate("f => { f.noValidate = true; }")
    with page.expect_response(re.compile(r"/changes$")) as answer:
        form.locator('button[type="submit"]').click()
    assert answer.value.status == 409
    error = page.locator("#error").inner_text()
    assert "排除或重新打开告警须填写理由" in error
    assert page.locator("#state").inner_text() != "已排除"
    page.close()
