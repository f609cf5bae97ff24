"""Screenshots of the pages for the docs: ``.venv/bin/python docs/screenshots.py``.

Starts the service on a seeded database in a temporary folder (as the browser tests do, see
``tests/browser/site.py``) and saves whole-page PNGs at phone size (390×844) and desktop
size (1280×800) to ``docs/img/pages/``: the label check, the status page and the login page
(signed out); the officers' alert list and an alert with its map (logged in as the officer);
a generator's container list, its register form and a container with its label (logged in as
the generator's clerk). Needs Debian's ``chromium`` and the ``playwright`` package (dev extra).
"""  # noqa: INP001  # a script beside the docs, not a package

from __future__ import annotations

import os
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "img" / "pages"
SIZES = {"phone": (390, 844), "desktop": (1280, 800)}
FONTS_CONF = """<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<fontconfig>
  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>
  <dir>{fonts}</dir>
  <cachedir>{cache}</cachedir>
</fontconfig>
"""


def _cjk_fonts(folder: Path) -> None:
    """Point Chromium's fontconfig at the Noto Sans CJK the labels use, so Chinese renders.

    The pages load no web fonts; a machine without a CJK system font would draw boxes.
    """
    fonts = resources.files("manimgx_fonts_cjk")
    conf = folder / "fonts.conf"
    conf.write_text(FONTS_CONF.format(fonts=fonts, cache=folder / "fontcache"), "utf-8")
    os.environ["FONTCONFIG_FILE"] = str(conf)


def main() -> None:
    """Serve, open each page at each size, save the PNGs."""
    sys.path.insert(0, str(ROOT))
    from tests.browser.site import (  # noqa: PLC0415  # needs ROOT on the path
        GENERATOR,
        OFFICER,
        chromium,
        open_as,
        serve,
    )

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _cjk_fonts(folder)
        with serve(folder / "site") as site, chromium(folder / "profile") as browser:
            signed_out = {
                "verify": f"/verify?label={quote(site.label, safe='')}",
                "status": "/status",
                "login": "/login",
            }
            officer = {
                "officer-alerts": "/officer/alerts",
                "officer-alert": f"/officer/alerts/{site.route_alert}",
            }
            generator = {
                "generator-containers": "/generator",
                "generator-new": "/generator/containers/new",
                "generator-container": f"/generator/containers/{site.digital_id}",
            }
            for who, pages in [(None, signed_out), (OFFICER, officer), (GENERATOR, generator)]:
                browser.clear_cookies()  # log out whoever was in
                if who is not None:
                    open_as(browser, site, next(iter(pages.values())), who).close()
                _shoot(site.base_url, pages, browser)


def _shoot(base_url: str, pages: dict[str, str], browser: BrowserContext) -> None:
    for size, (width, height) in SIZES.items():
        page = browser.new_page()
        page.set_viewport_size({"width": width, "height": height})
        for name, path in pages.items():
            page.goto(base_url + path)
            target = OUT / f"{name}-{size}.png"
            page.screenshot(path=str(target), full_page=True)
            sys.stdout.write(f"{target.relative_to(ROOT)} {target.stat().st_size} B\n")
        page.close()


if __name__ == "__main__":
    main()
