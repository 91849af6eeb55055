"""A headless Chromium on the dashboard page (Selenium + Debian's chromium-driver), with the few
actions the tests need and a screenshot per page into a directory."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Callable, Optional, TypeVar

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

T = TypeVar("T")

WAIT = 20.0


class DashboardBrowser:
    def __init__(self, base_url: str, shots: Optional[Path] = None):
        self.base_url = base_url
        self.shots = shots
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,800",
                     "--no-proxy-server"):
            options.add_argument(flag)
        service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
        self.driver = webdriver.Chrome(options=options, service=service)

    def close(self) -> None:
        self.driver.quit()

    # -- waiting and finding -------------------------------------------------------------------------

    def wait(self, condition: Callable[[], T], description: str, timeout: float = WAIT) -> T:
        """The first truthy value of `condition`; a StaleElement or missing element counts as not yet."""
        deadline = time.monotonic() + timeout
        last_error: Optional[Exception] = None
        while True:
            try:
                value = condition()
                if value:
                    return value
            except Exception as exc:  # the page re-renders under us; try again
                last_error = exc
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {description} (last error: {last_error})")
            time.sleep(0.1)

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self, css: str) -> str:
        """The element's text as written (not as styled: headings are upper-cased by CSS)."""
        return self.find(css).get_attribute("textContent")

    # -- actions ---------------------------------------------------------------------------------

    def open(self) -> None:
        self.driver.get(self.base_url + "/dashboard")
        self.wait(lambda: self.find("#signin").is_displayed() or self.find("#app").is_displayed(), "the page to load")

    def sign_in(self, key: str) -> None:
        self.open()
        self.find("#key").clear()
        self.find("#key").send_keys(key)
        self.find("#signin-button").click()

    def signed_in(self) -> bool:
        return self.find("#app").is_displayed()

    def tab(self, name: str) -> None:
        self.find(f'nav button[data-tab="{name}"]').click()
        self.wait(lambda: self.find(f"#tab-{name}").is_displayed(), f"the {name} tab")

    def fill(self, css: str, text: str) -> None:
        """Sets a field's content at once and tells the page, as typing would (`input`)."""
        self.driver.execute_script(
            "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input'));", self.find(css), text)

    def screenshot(self, name: str) -> None:
        if self.shots is None:
            return
        self.shots.mkdir(parents=True, exist_ok=True)
        self.driver.execute_script("window.scrollTo(0, 0); for (const e of document.querySelectorAll('.scroll')) e.scrollTo(0, 0);")
        self.driver.save_screenshot(str(self.shots / f"dashboard-{name}.png"))


def shots_directory(default: Path) -> Path:
    """RIPPLE_DASHBOARD_SHOTS (`docs/images` to refresh the committed set), else `default`."""
    value = os.environ.get("RIPPLE_DASHBOARD_SHOTS")
    return Path(value).resolve() if value else default
