"""Open a page in headless Chromium and report what a user's browser would show: whether it rendered,
whether each image decoded, and every console error, exception and failed load.

It speaks the DevTools protocol over ``--remote-debugging-pipe`` (JSON messages ended by a NUL byte on
file descriptors 3 and 4), so it needs no driver package and no network port.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Runs in the page once it has loaded: the facts the tests check.
PAGE_FACTS = """JSON.stringify({
  title: document.title,
  text: document.body ? document.body.innerText.length : 0,
  height: document.documentElement.scrollHeight,
  tables: document.querySelectorAll('table').length,
  images: Array.from(document.images).map(i => ({
    src: i.getAttribute('src').slice(0, 60), complete: i.complete,
    width: i.naturalWidth, height: i.naturalHeight,
  })),
})"""


@dataclass
class PageReport:
    facts: dict[str, Any]
    errors: list[str] = field(default_factory=list)  # console errors, exceptions, failed loads


class Chromium:
    """One headless browser; ``open(path)`` loads a local file in a fresh tab."""

    def __init__(self, binary: str, *, timeout: float = 20.0) -> None:
        self.timeout = timeout
        self.profile = tempfile.TemporaryDirectory(prefix="fer3d-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        args = [
            binary,
            "--headless",
            "--remote-debugging-pipe",
            "--no-sandbox",  # the sandbox cannot start as root (CI)
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            f"--user-data-dir={self.profile.name}",
            "about:blank",
        ]
        # the browser reads commands on fd 3 and writes replies and events on fd 4
        self.process = subprocess.Popen(
            ["bash", "-c", f'exec "$0" "$@" 3<&{to_browser_r} 4>&{from_browser_w}', *args],
            pass_fds=(to_browser_r, from_browser_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._send("Browser.close")
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)
        self.profile.cleanup()

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self, path: Path) -> PageReport:
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=session)
        self.events.clear()
        self.call("Page.navigate", {"url": Path(path).resolve().as_uri()}, session=session)
        self._wait_for(lambda e: e.get("method") == "Page.loadEventFired" and e.get("sessionId") == session)
        facts = self.call(
            "Runtime.evaluate", {"expression": PAGE_FACTS, "returnByValue": True}, session=session
        )["result"]["value"]
        report = PageReport(json.loads(facts))
        for event in self.events:
            if event.get("sessionId") != session:
                continue
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                report.errors.append(details.get("exception", {}).get("description") or details["text"])
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                args = params.get("args", [])
                report.errors.append(
                    "console: " + " ".join(str(a.get("value", a.get("description"))) for a in args)
                )
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                report.errors.append(f"{params['entry'].get('text')} ({params['entry'].get('url')})")
        self.call("Target.closeTarget", {"targetId": target})
        return report

    def call(self, method: str, params: dict | None = None, *, session: str | None = None) -> dict:
        """Send one command and wait for its reply; events that arrive meanwhile are kept."""
        ident = self._send(method, params, session)
        reply = self._wait_for(lambda m: m.get("id") == ident)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def _send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        return self._next_id

    def _wait_for(self, wanted) -> dict:
        deadline = time.monotonic() + self.timeout
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "method" in message:
                    self.events.append(message)
                if wanted(message):
                    return message
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise TimeoutError(f"Chromium did not answer within {self.timeout:.0f} s")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError(f"Chromium exited (code {self.process.poll()})")
            self._buffer += chunk
