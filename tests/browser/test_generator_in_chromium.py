"""A generator's main path in real headless Chromium: register, mint, see the label, print A4."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from tests.browser.site import GENERATOR_NAME, open_as_generator
from tests.conftest import GENERATOR_CODE
from tests.support.label_readers import decoded, pdf_pages

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

    from tests.browser.site import Site


def test_generator_sees_the_seeded_container_and_where_it_is(
    site: Site, browser: BrowserContext
) -> None:
    page = open_as_generator(browser, site, "/generator")
    row = page.locator(f'li[id="{site.digital_id}"]')
    text = row.inner_text()
    assert "未出厂" in text
    assert "贴标启用" in text  # the seeded commissioning scan
    assert GENERATOR_NAME in text
    assert page.locator('header a[href="/generator"]').is_visible()
    page.close()


def test_register_mint_and_print_a4(site: Site, browser: BrowserContext) -> None:
    page = open_as_generator(browser, site, "/generator")
    page.locator('a[href="/generator/containers/new"]').click()
    page.wait_for_url("**/generator/containers/new")
    page.locator('select[name="waste_code"]').select_option("900-041-49")
    page.locator('input[name="waste_name"]').fill("废弃包装桶")
    page.locator('select[name="form"]').select_option("S")
    page.locator('select[name="container_type"]').select_option("BX")
    page.locator('input[name="capacity_l"]').fill("60")
    page.locator('input[name="declared_net_mass_kg"]').fill("12.5")
    page.locator('input[name="generated_on"]').fill("2026-03-06")
    page.locator('form.register button[type="submit"]').click()
    page.wait_for_url(re.compile(r"/generator/containers/\w{37}$"))
    digital_id = page.locator("#digital-id").inner_text().strip()
    assert digital_id.startswith(GENERATOR_CODE)
    assert "尚未签发标签" in page.locator("main").inner_text()

    page.locator("#mint").click()
    page.wait_for_url(f"**/generator/containers/{digital_id}#label")
    label = page.locator("figure.label svg")
    label.wait_for(state="visible")
    box = label.bounding_box()
    assert box is not None
    assert box["width"] > 100

    with page.expect_download() as download:
        page.locator("#print-a4").click()
    pdf = Path(download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    (qr,) = [t for _, images in pdf_pages(pdf) for i in images for t in decoded(i)["QRCode"]]
    # The printed QR verifies against the service's trust bundle (the login cookie carries).
    answer = page.request.post(f"{site.base_url}/labels/verifications", data={"text": qr})
    assert answer.status == 200, answer.text()
    assert answer.json()["digital_id"] == digital_id

    page.goto(f"{site.base_url}/generator")
    row = page.locator(f'li[id="{digital_id}"]').inner_text()
    assert "已签发标签" in row
    page.close()
