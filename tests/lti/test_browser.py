"""The launched page in a real browser (Debian's chromium, driven by playwright; never a
downloaded browser), inside an iframe of the fake LMS's course page on another site: the login,
the form_post launch, the iframe cookies, the frame-ancestors policy, a submitted answer and its
report. Skipped with the reason where chromium or playwright is missing, failed then under
GRADER_TEST_STRICT=1 (make ci; `make chromium` installs it)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.lti.conftest import MCQ, Tool
from tests.lti.platform import FakePlatform, LaunchSpec

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def chromium():
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        pytest.skip("no chromium at /usr/bin/chromium for the browser test: run `make chromium`")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')"
    )
    with sync_api.sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        yield browser
        browser.close()


def test_a_student_answers_inside_the_lms_iframe(
    chromium, tool: Tool, platform: FakePlatform
) -> None:
    # The course page is served as `localhost`, the tool as `127.0.0.1`: two sites, so the
    # tool's cookies are third-party cookies in the iframe, as in a real LMS.
    lms_web = platform.url.replace("127.0.0.1", "localhost")
    platform.web_url = lms_web
    platform.next_launch = LaunchSpec(
        sub="student-9", custom={"item": MCQ}, lineitem=platform.lineitem_url(3)
    )
    page = chromium.new_page()
    try:
        page.goto(f"{lms_web}/courses/7/page?tool={tool.url}")
        frame = page.frame_locator("#tool")
        frame.locator('input[name="choice"][value="B"]').check(timeout=20_000)
        frame.locator('button[type="submit"]').click()
        frame.get_by_text("PASSED").wait_for(timeout=20_000)
        assert "Score: 1 / 1" in frame.locator("body").inner_text()
    finally:
        page.close()
