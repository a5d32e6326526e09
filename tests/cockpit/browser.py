#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The Cockpit page in headless Chromium, against the guest of
tests/cockpit/cockpit.sh (device "web" on a null_blk, /dev/vda unused):

  browser.py --admin URL --user URL --screenshots DIR

Administrative session (root's cockpit-ws):
  1. the card of web shows the numbers of `dmremapctl status --json`, its
     data disk and the spare-use chart from the history;
  2. adding /dev/vda as a spare through the dialog puts it into the kernel's
     table (dmsetup table) and onto the page;
  3. a bad block written in the guest is remapped by the kernel and shows on
     the page (count and remap table) with no reload;
  4. the daemon's error for a bad request shows inline in its dialog;
  5. at 360 px nothing is wider than the screen;
  6. in the shell, the data disk's link jumps to the Storage page.
Read-only session (tester's cockpit-ws): the same card, no action, a notice.
Everywhere: no request leaves the cockpit-ws origin, no console error, no
uncaught exception. Screenshots of each step land in DIR.

What the guest runs for a check (dmremapctl, dmsetup, dd) goes through the
session's own cockpit.spawn: the guest is reached through cockpit-ws alone.
"""
import argparse
import json
import os
import re
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp import Browser, BrowserError  # noqa: E402

PAGE = "/cockpit/@localhost/dm-remap/index.html"
VM_PID = 0  # --vm-pid: the guest's vmtest; gone, nothing more to wait for
CARD = 'document.querySelector(\'[data-test=device][data-name="web"]\')'


def log(msg):
    print("browser.py: " + msg, flush=True)


def q(sel):
    return "document.querySelector(%s)" % json.dumps(sel)


def text_of(b, sel):
    return b.js("(%s || {}).textContent" % q(sel))


def digits(text):
    return int(re.sub(r"[^0-9]", "", text))


def guest(b, argv, superuser=True):
    """Runs ARGV in the guest through the page's cockpit session; its stdout."""
    opts = {"err": "message"}
    if superuser:
        opts["superuser"] = "require"
    return b.js("cockpit.spawn(%s, %s)" % (json.dumps(argv), json.dumps(opts)))


def serving(base, timeout):
    """Waits until cockpit-ws answers: the guest boots meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        if VM_PID and not os.path.exists(f"/proc/{VM_PID}"):
            raise BrowserError("the guest ended before cockpit-ws answered")
        try:
            with urllib.request.urlopen(base + PAGE, timeout=30) as r:
                if r.status == 200:
                    return
        except OSError as e:
            if time.monotonic() > deadline:
                raise BrowserError(f"{base}: cockpit-ws did not answer within {timeout} s ({e})") from None
        time.sleep(1)


def open_page(b, base, what):
    serving(base, 600)
    b.navigate(base + PAGE)
    b.wait("document.body && document.body.dataset.ready === '1' && %s" % CARD, what, timeout=180)


def check_numbers(b, superuser=True):
    # As tester, dmremapctl reads through dm-remapd and prints what root's does.
    st = json.loads(guest(b, ["dmremapctl", "status", "--json", "web"], superuser))[0]
    card = "[data-test=device][data-name=web] "
    seen = {
        "remapped": digits(text_of(b, card + "[data-test=remapped]")),
        "pending": digits(text_of(b, card + "[data-test=pending]")),
    }
    use = text_of(b, card + "[data-test=spare-use] .pf-c-progress__measure")
    m = re.fullmatch(r"([\d,]+) of ([\d,]+) blocks", use.strip())
    if not m:
        raise BrowserError(f"spare use reads {use!r}")
    seen["spare_used"], seen["spare_total"] = digits(m.group(1)), digits(m.group(2))
    errors = text_of(b, card + "[data-test=errors]")
    m = re.fullmatch(r"([\d,]+) read, ([\d,]+) write", errors.strip())
    if not m:
        raise BrowserError(f"errors read {errors!r}")
    seen["read_errors"], seen["write_errors"] = digits(m.group(1)), digits(m.group(2))
    want = {k: st[k] for k in seen}
    if seen != want:
        raise BrowserError(f"the page shows {seen}, dmremapctl status --json {want}")
    spares = b.js("[...document.querySelectorAll('%s[data-test=spare]')].map(r => r.dataset.node)" % card)
    want_spares = [sp["node"] or "" for sp in st["spares"]]
    if spares != want_spares:
        raise BrowserError(f"the page lists spares {spares}, dmremapctl {want_spares}")
    return st


def admin(b, base, shots):
    open_page(b, base, "the page with device web (admin)")
    b.js("window.dmrLoaded = 1")  # gone if the page reloads
    st = check_numbers(b)
    data = text_of(b, "[data-test=device][data-name=web] [data-test=data-disk]")
    node = guest(b, ["cat", "/run/dmremap-test-data"]).strip()
    if data.split(" ")[0] != node:
        raise BrowserError(f"data disk reads {data!r}, not {node}")
    b.wait(q("[data-test=chart] polyline"), "the spare-use chart")
    log(f"numbers equal dmremapctl status --json: remapped {st['remapped']}, spare {st['spare_used']}/"
        f"{st['spare_total']}; chart of {b.js(q('[data-test=chart]') + '.dataset.samples')} samples")
    b.screenshot(os.path.join(shots, "device.png"))

    # 2. A spare through the dialog, then in the kernel's table. The
    # dialog lists the disks UDisks2 knows: once it answered (udisks2 is
    # started on demand), the data disk has a size.
    b.wait("(%s || {}).textContent.includes('MiB')" % q("[data-test=device][data-name=web] [data-test=data-disk]"),
           "UDisks2's view of the data disk", 120)
    majmin = guest(b, ["cat", "/sys/block/vda/dev"]).strip()
    if majmin in guest(b, ["dmsetup", "table", "web"]):
        raise BrowserError("vda is in web's table before it was added")
    b.wait(q("[data-test=add-spare]"), "the actions of an administrator")
    b.js(q("[data-test=add-spare]") + ".click()")
    b.wait(q("[data-test=spare-dialog]"), "the add-spare dialog")
    b.js("""(() => { const s = %s; s.value = '/dev/vda'; return s.value; })()""" % q("[data-test=spare-disk]"))
    if b.js(q("[data-test=spare-disk]") + ".value") != "/dev/vda":
        raise BrowserError("the dialog does not offer /dev/vda: " +
                           b.js("[...%s.options].map(o => o.textContent).join('; ')" % q("[data-test=spare-disk]")))
    b.screenshot(os.path.join(shots, "add-spare.png"))
    b.js(q("[data-test=dialog-apply]") + ".click()")
    b.wait("!%s || %s" % (q("[data-test=spare-dialog]"), q("[data-test=dialog-error]")), "the dialog to finish", 180)
    err = text_of(b, "[data-test=dialog-error]")
    if err:
        raise BrowserError("adding vda failed: " + err)
    if majmin not in guest(b, ["dmsetup", "table", "web"]):
        raise BrowserError(f"vda ({majmin}) is not in web's table after the dialog")
    b.wait(q("[data-test=device][data-name=web] [data-test=spare][data-node='/dev/vda']"), "vda on the page")
    check_numbers(b)
    log(f"the dialog added vda ({majmin}): in the kernel's table and on the page")

    # 3. A remap by the kernel, shown live.
    before = digits(text_of(b, "[data-test=device][data-name=web] [data-test=remapped]"))
    sector = int(guest(b, ["cat", "/run/dmremap-test-bad-sector"]))
    guest(b, ["sh", "-c", "echo +%d-%d > /sys/kernel/config/nullb/c0/badblocks && "
                          "dd if=/dev/zero of=/dev/mapper/web bs=4096 seek=300 count=1 oflag=direct status=none"
                          % (sector, sector + 7)])
    b.wait("(%s || {}).textContent == %s" % (q("[data-test=device][data-name=web] [data-test=remapped]"),
                                             json.dumps(str(before + 1))), "the new remap on the page", 120)
    b.wait(q("[data-test=remap-row][data-block='300']"), "block 300 in the remap table")
    if b.js("window.dmrLoaded") != 1:
        raise BrowserError("the page was reloaded")
    check_numbers(b)
    log(f"block 300 went bad and was remapped: {before} -> {before + 1} remapped, live")
    b.screenshot(os.path.join(shots, "remapped.png"))
    # The whole card in one picture (the README's): Cockpit's page scrolls
    # inside its main section, so the viewport is made tall.
    b.viewport(1280, 1700)
    b.wait("innerHeight === 1700", "a tall viewport", 30)
    b.screenshot(os.path.join(shots, "page.png"))
    b.cdp("Emulation.clearDeviceMetricsOverride")

    # 4. The daemon's error inline: a block past the end.
    b.js(q("[data-test=device][data-name=web] [data-test=remap]") + ".click()")
    b.wait(q("[data-test=remap-dialog]"), "the remap dialog")
    b.js("(() => { const i = %s; i.value = '99999999'; })()" % q("[data-test=remap-block]"))
    b.js(q("[data-test=dialog-apply]") + ".click()")
    err = b.wait("(%s || {}).textContent" % q("[data-test=dialog-error]"), "the daemon's error in the dialog")
    if "web: block 99999999 is past the end" not in err:
        raise BrowserError(f"the dialog's error does not name the block: {err!r}")
    log(f"the daemon's error shows in the dialog: {err!r}")
    b.screenshot(os.path.join(shots, "error.png"))
    b.js(q("[data-test=dialog-cancel]") + ".click()")

    # 5. Phone width.
    b.viewport(360, 740, mobile=True)
    # Nothing wider than the screen, scrolled or clipped.
    b.wait("innerWidth === 360 && document.documentElement.scrollWidth <= 360", "the page at 360 px", 30)
    b.screenshot(os.path.join(shots, "phone.png"))
    wide = b.js("""[...document.querySelectorAll('body *')].filter(e => {
                       const r = e.getBoundingClientRect();
                       return r.width > 0 && r.height > 0 && (r.right > innerWidth + 1 || r.left < -1);
                   }).slice(0, 5).map(e => e.tagName + '.' + e.className + ': ' + Math.round(e.getBoundingClientRect().right))""")
    if wide:
        raise BrowserError("at 360 px these reach past the screen: " + "; ".join(wide))
    log("at 360 px every element fits the screen")
    b.cdp("Emulation.clearDeviceMetricsOverride")

    # 6. The shell: the disk link jumps to the Storage page.
    b.navigate(base + "/dm-remap")
    # The shell shows each page in a frame of its own (same origin).
    doc = ("[...document.querySelectorAll('iframe')].map(f => f.contentDocument)"
           ".find(d => d && d.location.pathname.endsWith('/dm-remap/index.html'))")
    b.wait("(() => { const d = %s; return d && d.body && d.body.dataset.ready === '1' &&"
           " d.querySelector('[data-test=disk-link]'); })()" % doc, "the page inside the shell", 180)
    b.js("(%s).querySelector('[data-test=disk-link]').click()" % doc)
    where = b.wait("location.pathname.startsWith('/storage') && location.pathname + location.hash",
                   "the jump to the Storage page", 60)
    kernel = node.replace("/dev/", "")
    if where != "/storage#/" + kernel:
        raise BrowserError(f"the data disk's link leads to {where}, not /storage#/{kernel}")
    log(f"the data disk's link leads to {where}")
    # The disk's own page in Storage's frame, not its overview.
    b.wait("[...document.querySelectorAll('iframe')].map(f => f.contentDocument).some(d => d && d.body &&"
           " d.location.pathname.endsWith('/storage/index.html') && d.location.hash === %s &&"
           " d.body.textContent.includes(%s))" % (json.dumps("#/" + kernel), json.dumps(node)),
           "the Storage page of " + node, 180)
    b.screenshot(os.path.join(shots, "storage.png"))
    # The shell's Overview and Storage keep the guest busy (metrics, udisks
    # queries): leave them for the rest of the run, a TCG guest's CPU.
    b.navigate("about:blank")


def read_only(b, base, shots):
    open_page(b, base, "the page with device web (read-only)")
    b.wait(q("[data-test=read-only]"), "the read-only notice")
    present = b.js("[...document.querySelectorAll('[data-test=add-spare], [data-test=remap], [data-test=replace],"
                   " [data-test=start-scan], [data-test=remove-spare]')].length")
    if present or not b.js(q("#create") + ".hidden"):
        raise BrowserError(f"a read-only session sees {present} action buttons")
    check_numbers(b, superuser=False)
    log("the unprivileged session sees the device read-only, numbers equal")
    b.screenshot(os.path.join(shots, "read-only.png"))


def check_clean(b, base):
    foreign = [u for u in b.requests
               if not (u.startswith(base + "/") or u.startswith(base.replace("http", "ws", 1) + "/")
                       or u.startswith("data:") or u == "about:blank")]
    if foreign:
        raise BrowserError("requests outside cockpit-ws: " + ", ".join(sorted(set(foreign))[:10]))
    if b.problems:
        raise BrowserError("console errors or exceptions: " + " | ".join(b.problems[:10]))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--admin", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--screenshots", required=True)
    p.add_argument("--vm-pid", type=int, default=0)
    a = p.parse_args()
    global VM_PID
    VM_PID = a.vm_pid
    os.makedirs(a.screenshots, exist_ok=True)
    b = Browser()
    rc = 0
    try:
        admin(b, a.admin, a.screenshots)
        check_clean(b, a.admin)
        u = Browser()
        try:
            read_only(u, a.user, a.screenshots)
            check_clean(u, a.user)
        except BrowserError:
            u.screenshot(os.path.join(a.screenshots, "failure-read-only.png"))
            raise
        finally:
            u.close()
    except BrowserError as e:
        b.screenshot(os.path.join(a.screenshots, "failure.png"))
        log(f"FAIL: {e}")
        rc = 1
    finally:
        # The guest waits for this (else for its timeout).
        try:
            b.navigate("about:blank")
            b.wait("location.href === 'about:blank'", "the old page to go", 30)
            open_page(b, a.admin, "the page, to end the guest")
            guest(b, ["sh", "-c", "echo browser > /run/dmremap-cockpit-done"])
        except Exception as e:
            log(f"could not tell the guest to end: {e}")
            rc = rc or 1
        b.close()
    if rc == 0:
        log(f"PASS; screenshots in {a.screenshots}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
