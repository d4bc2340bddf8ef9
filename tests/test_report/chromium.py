"""Headless Chromium with no network: the page must render from the file alone."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

OFFLINE_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
    "--disable-default-apps",
    # Any host name fails to resolve: a page that needed a CDN would come out without its script.
    "--host-resolver-rules=MAP * ~NOTFOUND",
]


def chromium(page: Path, *args: str, profile: Path) -> str:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.fail("chromium is not installed: run scripts/setup.sh as root, or `apt-get install chromium`")
    done = subprocess.run([binary, *OFFLINE_FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
                          capture_output=True, text=True, timeout=180, check=False)
    if done.returncode != 0:
        pytest.fail(f"chromium exited with {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def dump_dom(page: Path, *, profile: Path) -> str:
    return chromium(page, "--dump-dom", profile=profile)


def screenshot(page: Path, out: Path, *, profile: Path, size: str = "1400,2600") -> None:
    chromium(page, "--hide-scrollbars", f"--window-size={size}", f"--screenshot={out}", profile=profile)
