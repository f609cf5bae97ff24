"""The service on localhost and headless Chromium for the browser tests.

Without ``/usr/bin/chromium`` (Debian's ``chromium``) or the ``playwright`` package the tests
skip and say why; under ``CI=true`` they fail instead, so CI can never pass by skipping them.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

import pytest

from tests.browser.site import CHROMIUM, Site, chromium, serve
from tests.conftest import IN_CI

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import BrowserContext


def _require_browser() -> None:
    missing = [
        what
        for what, there in [
            (f"{CHROMIUM} (apt-get install -y chromium)", CHROMIUM.exists()),
            ("the playwright package (make install)", importlib.util.find_spec("playwright")),
        ]
        if not there
    ]
    if missing:
        message = f"browser tests need {' and '.join(missing)}"
        if IN_CI:
            pytest.fail(f"{message}. Under CI=true the browser tests must run.")
        pytest.skip(message)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    _require_browser()
    with serve(tmp_path_factory.mktemp("site")) as running:
        yield running


@pytest.fixture(scope="module")
def browser(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    assert site.base_url
    with chromium(tmp_path_factory.mktemp("profile")) as context:
        context.set_default_timeout(10_000)
        yield context
