# SPDX-License-Identifier: GPL-2.0-or-later
"""Headless Chromium driven over the DevTools protocol (python3-websocket):
just what browser.py needs. Every request the page makes and every console
error or uncaught exception is recorded, so that a test can fail on them."""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

import websocket


class BrowserError(AssertionError):
    pass


class Browser:
    def __init__(self, width=1280, height=900):
        self.profile = tempfile.mkdtemp(prefix="dmremap-chromium-")
        binary = shutil.which("chromium") or "/usr/bin/chromium"
        self.proc = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-default-apps", "--mute-audio", f"--user-data-dir={self.profile}",
             "--remote-debugging-port=0", f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + 60
        while not (os.path.exists(port_file) and open(port_file).read().count("\n") >= 1):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise BrowserError("chromium did not start (no DevToolsActivePort)")
            time.sleep(0.2)
        port = int(open(port_file).read().split("\n")[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as r:
            page = [t for t in json.load(r) if t["type"] == "page"][0]
        # Chromium refuses DevTools sockets that send an Origin.
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], suppress_origin=True, timeout=300)
        self.next_id = 0
        self.requests, self.problems = [], []
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.cdp(domain + ".enable")

    def close(self):
        try:
            self.ws.close()
        finally:
            self.proc.kill()
            self.proc.wait()
            shutil.rmtree(self.profile, ignore_errors=True)

    def cdp(self, method, **params):
        self.next_id += 1
        my = self.next_id
        self.ws.send(json.dumps({"id": my, "method": method, "params": params}))
        while True:
            m = json.loads(self.ws.recv())
            if m.get("id") == my:
                if "error" in m:
                    raise BrowserError(f"{method}: {m['error']}")
                return m["result"]
            self.event(m)

    def event(self, m):
        method, p = m.get("method"), m.get("params", {})
        if method == "Network.requestWillBeSent":
            self.requests.append(p["request"]["url"])
        elif method == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            self.problems.append("exception: " + d.get("exception", {}).get("description", d.get("text", "")))
        elif method == "Runtime.consoleAPICalled" and p.get("type") == "error":
            self.problems.append("console.error: " + " ".join(str(a.get("value", a.get("description")))
                                                              for a in p.get("args", [])))
        elif method == "Log.entryAdded" and p["entry"]["level"] == "error":
            self.problems.append("log: " + p["entry"]["text"] + " " + p["entry"].get("url", ""))

    def js(self, expr):
        """The value of EXPR in the page (awaited if a promise)."""
        r = self.cdp("Runtime.evaluate", expression=expr, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise BrowserError(f"{expr[:120]}: " + d.get("exception", {}).get("description", d.get("text", "")))
        return r["result"].get("value")

    def wait(self, expr, what, timeout=120):
        """Polls EXPR until it is truthy; its value (true for an element,
        which returnByValue would give as an empty, falsy object)."""
        deadline = time.monotonic() + timeout
        while True:
            # nodeType, not instanceof Node: an element of a frame is a
            # Node of another realm.
            v = self.js("(() => { const v = (%s); return v && typeof v === 'object' && 'nodeType' in v ? true : v; })()"
                        % expr)
            if v:
                return v
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out after {timeout} s waiting for {what} ({expr[:160]})")
            time.sleep(0.25)

    def navigate(self, url):
        self.cdp("Page.navigate", url=url)

    def viewport(self, width, height, mobile=False):
        self.cdp("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=mobile)

    def screenshot(self, path):
        data = self.cdp("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return path
