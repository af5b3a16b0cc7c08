"""The report page in a real browser: headless Chromium (Debian's package, /usr/bin/chromium).

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``:
JSON messages ending in NUL on file descriptors 3 and 4), so the test needs no
browser driver package and downloads nothing. ``.ci/setup_chromium.sh`` installs
chromium; where it is absent the test is skipped and says why.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

import sim.api
from sim.analysis.chart_labels import from_attributes, label_problems
from sim.analysis.report import write_report

CHROMIUM = Path("/usr/bin/chromium")
#: Every image of the page with the data attributes of the <figure> around it (the labels
#: sim.analysis.chart_labels read from the chart's matplotlib Figure).
FIGURE_LABELS = """JSON.stringify(Array.from(document.images).map(img => {
  const figure = img.closest('figure');
  const attributes = {};
  if (figure) { for (const a of figure.attributes) { attributes[a.name] = a.value; } }
  return {alt: img.alt, inFigure: figure !== null, attributes: attributes};
}))"""
TINY = Path(__file__).parent / "data" / "tiny" / "tiny.yaml"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="/usr/bin/chromium is absent: run .ci/setup_chromium.sh (apt-get install chromium)",
)


class Browser:
    """A minimal DevTools-protocol client over Chromium's debugging pipe."""

    def __init__(self, profile: Path) -> None:
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        flags = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--remote-debugging-pipe",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            f"--user-data-dir={profile}",
            "about:blank",
        ]
        # Chromium reads commands on fd 3 and writes replies on fd 4: bash puts them there.
        redirect = f'exec "$0" "$@" 3<&{to_child_r} 4>&{from_child_w}'
        self.proc = subprocess.Popen(
            ["/bin/bash", "-c", redirect, str(CHROMIUM), *flags],
            pass_fds=(to_child_r, from_child_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None, **extra: Any) -> Any:
        self._next += 1
        message = {"id": self._next, "method": method, "params": params or {}, **extra}
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        reply = self._read(lambda m: m.get("id") == self._next)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def wait_event(self, method: str, timeout: float = 30.0) -> dict[str, Any]:
        for event in self.events:
            if event.get("method") == method:
                return event
        return self._read(lambda m: m.get("method") == method, timeout)

    def _read(self, wanted: Any, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "method" in message:
                    self.events.append(message)
                if wanted(message):
                    return message
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_child], [], [], left)[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self._buffer += chunk

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.send("Browser.close")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_child)
        os.close(self._from_child)


def test_report_page_renders_in_chromium(tmp_path: Path) -> None:
    """The page renders offline, every image loads, and every chart is labelled: a title,
    x and y labels with a unit, and a legend entry per series (checked on the labels each
    chart's <figure> carries, in the page as the browser has it)."""
    data = yaml.safe_load(TINY.read_text())
    data["calibration"] = {
        "targets": [{"kind": "turnover", "regions": ["A", "B"], "year": 2021, "value": 140}]
    }
    base = sim.api.run(data, base_dir=TINY.parent, replicas=8)
    data["policies"][0]["value"] = 0.1
    variant = sim.api.run(data, base_dir=TINY.parent, replicas=8)
    page = write_report(variant, tmp_path / "report", compare_with=base)
    # the page must stand alone: open a copy without the PNG files next to it
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(page, alone / "report.html")

    browser = Browser(tmp_path / "profile")
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.send(f"{domain}.enable", sessionId=session)
        browser.send("Page.navigate", {"url": (alone / "report.html").as_uri()}, sessionId=session)
        browser.wait_event("Page.loadEventFired")
        result = browser.send(
            "Runtime.evaluate",
            {
                "expression": "JSON.stringify(Array.from(document.images).map("
                "i => [i.complete, i.naturalWidth, i.naturalHeight, i.alt]))",
                "returnByValue": True,
            },
            sessionId=session,
        )
        images = json.loads(result["result"]["value"])
        # every chart's <figure>, with the labels read from its Figure when it was saved
        figures = json.loads(
            browser.send(
                "Runtime.evaluate",
                {"expression": FIGURE_LABELS, "returnByValue": True},
                sessionId=session,
            )["result"]["value"]
        )
        title = browser.send(
            "Runtime.evaluate",
            {"expression": "document.title", "returnByValue": True},
            sessionId=session,
        )["result"]["value"]
        shot = browser.send("Page.captureScreenshot", {"format": "png"}, sessionId=session)
        time.sleep(0.3)  # let late console messages arrive
        with contextlib.suppress(TimeoutError):
            browser._read(lambda m: False, timeout=0.2)
    finally:
        browser.close()

    errors = [
        e
        for e in browser.events
        if (
            e["method"] == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert")
        )
        or e["method"] == "Runtime.exceptionThrown"
        or (e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
    ]
    assert errors == [], errors
    requests = [
        e["params"]["request"]["url"]
        for e in browser.events
        if e["method"] == "Network.requestWillBeSent"
    ]
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    assert title == "tiny"
    # 3 turnover fans, 2 jobs, capital, pipeline, 9 economic charts, 3 differences
    assert len(images) == 19
    for complete, width, height, alt in images:
        assert complete and width > 0 and height > 0, alt
    assert len(figures) == len(images)
    problems = {
        f["attributes"].get("data-chart", f["alt"]): label_problems(
            from_attributes(f["attributes"])
        )
        for f in figures
    }
    assert all(f["inFigure"] for f in figures), figures
    assert {k: v for k, v in problems.items() if v} == {}
    charts = {f["attributes"].get("data-chart") for f in figures}
    assert {"real_income", "gdp", "trade_balance", "jobs_by_region", "jobs_in_year"} <= charts
    assert len(shot["data"]) > 10_000
