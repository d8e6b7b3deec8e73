"""`make screenshots`: the README's pictures, taken from the real dashboard.

Starts a throwaway broker and registry, the three services, traffic at 1,000 events/s with
anomalies and a few poison messages, places and moves an order through the API, then
photographs the page in headless Chromium (Debian's `chromium`):

    python -m tests.api.screenshots [FOLDER]     # default docs/screenshots
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import httpx

from pipeline.devstack.testing import running_test_broker
from pipeline.registry.embedded import embedded_registry
from tests.api.browser import browser_page
from tests.api.live_stack import live_stack

WARM_UP_S = 45


def main(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with (
            running_test_broker(work / "kafka") as bootstrap,
            embedded_registry(bootstrap) as registry,
            live_stack(bootstrap, registry.url, work, rate=1000) as stack,
        ):
            stack.traffic.poison(3)
            order_id = _an_order(stack.url)
            print(f"dashboard at {stack.url}/ (warming up {WARM_UP_S} s)", flush=True)
            time.sleep(WARM_UP_S)
            with browser_page(work / "chromium") as page:
                page.set_viewport_size({"width": 1440, "height": 1000})
                page.goto(stack.url)
                page.wait_for_selector("#windows-status .bar-row", timeout=30_000)
                time.sleep(6)
                page.screenshot(path=str(folder / "dashboard.png"), full_page=True)
                page.fill("#search-text", order_id)
                page.click("#search button")
                page.wait_for_selector("#timeline-table tr[data-status='SHIPPED']")
                page.locator("#timeline").locator("..").screenshot(
                    path=str(folder / "order-timeline.png")
                )
    for name in ("dashboard.png", "order-timeline.png"):
        print(f"wrote {folder / name}")


def _an_order(url: str) -> str:
    with httpx.Client(base_url=url, timeout=30) as http:
        body = {"user_id": "user-04242", "source": "WEB", "amount": 129.0, "currency": "EUR"}
        order_id = str(http.post("/orders", json=body).json()["order_id"])
        for status in ("CONFIRMED", "SHIPPED"):
            http.post(f"/orders/{order_id}/status", json={"status": status}).raise_for_status()
    return order_id


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
