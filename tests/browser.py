"""Debian's Chromium as the browser tests drive it (Playwright cannot download a browser here)."""

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
# Flags that keep Chromium off the (closed) network and quiet as root in a container.
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
