"""Debian's packages for the stack and its tests, installed with apt-get (as root) when missing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from stack_manager.layout import Layout, StackError
from stack_manager.steps import run_logged

# Debian packages (a command, or a file path, that shows each is installed -> the package).
STACK_PACKAGES = {"redis-server": "redis-server"}
TEST_TOOL_PACKAGES = {
    "chromium": "chromium",
    "chromedriver": "chromium-driver",
    "wrk": "wrk",
    # A CJK font, so screenshots of non-Latin titles show glyphs, not boxes.
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc": "fonts-wqy-zenhei",
}


def install_debian_packages(layout: Layout, commands: dict[str, str], what: str) -> None:
    """Install Debian packages (command or file path -> package) that are missing; needs root."""

    def present(probe: str) -> bool:
        return Path(probe).exists() if probe.startswith("/") else shutil.which(probe) is not None

    missing = sorted({package for probe, package in commands.items() if not present(probe)})
    if not missing:
        return
    if os.geteuid() != 0:
        raise StackError(
            f"{what} needs Debian's {' '.join(missing)}. Install as root: "
            f"apt-get update && apt-get install -y {' '.join(missing)}"
        )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run_logged(
        ["apt-get", "update"],
        layout.logs / "install-apt-update.log",
        "Updating Debian's package lists",
        "Check that Debian's mirrors are reachable.",
        env=env,
    )
    run_logged(
        ["apt-get", "install", "-y", "--no-install-recommends", *missing],
        layout.logs / f"install-{missing[0]}.log",
        f"Installing Debian's {' '.join(missing)}",
        "Check that Debian's mirrors are reachable.",
        env=env,
    )


def install_test_tools(layout: Layout) -> None:
    """What only the tests and benchmarks need: Chromium and its driver, wrk, a CJK font."""
    install_debian_packages(layout, TEST_TOOL_PACKAGES, "The browser tests")
