#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""dm-remapd's health model on a real device (docs/HEALTH.md): HealthState,
HealthReasons, Forecast and LastScan as properties, HealthChanged when a
remap storm crosses a threshold, StartScan as a Job with progress and
Cancel, the history and health surviving a restart, the Prometheus
textfile (checked by promtool, values equal to `dmremapctl status
--json`), and no wake-ups while idle with a device present; then
Device.Replace and its Cancel (test_replace.py's cases, run here).

Runs in the VM kernels (tests/dbus/vm-devices.sh gives it a null_blk disk
$DMREMAP_HEALTH_DATA, null_blk name $DMREMAP_HEALTH_NULLB); the steps run
in order on one set.
"""
import json
import os
import re
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import dbus

import dbus_env as E
from dbus_call import plain
from dbus_env import DEV_IF, DMREMAPCTL, ERR, JOB_IF, NAME, OM_IF, PROPS_IF, ROOT, DBusTest, wait_for
from test_devices import Signals
import test_replace

DATA = os.environ.get("DMREMAP_HEALTH_DATA", "")
NULLB = os.environ.get("DMREMAP_HEALTH_NULLB", "")
SET = "ht"
DEV = ROOT + "/devices/" + SET
SPARE_BLOCKS = 256                 # --internal-spare 1M of 4 KiB blocks
STORM = range(1000, 1000 + 215)    # 84% of the spare blocks: past the 80% threshold
UNREADABLE = [3000, 3001, 3002]    # never written: the scan finds them

PROBLEM = E.require(E.precondition_problem(["DMREMAP_HEALTH_DATA", "DMREMAP_HEALTH_NULLB"]),
                    "tests/dbus/vm-devices.sh runs this in the VM kernels")


def setUpModule():
    if not PROBLEM:
        E.start()


def tearDownModule():
    E.stop()


def ctl(*args):
    r = subprocess.run([DMREMAPCTL] + list(args), capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError("dmremapctl %s: %s" % (" ".join(args), r.stderr))
    return r.stdout


def badblocks(blocks, sign):
    """Makes data blocks fail ("+") or work again ("-") on the null_blk disk."""
    off = json.loads(ctl("dump", "--json", DATA))["data_offset_sectors"]
    path = "/sys/kernel/config/nullb/%s/badblocks" % NULLB
    for b in blocks:
        with open(path, "w") as f:
            f.write("%s%d-%d" % (sign, off + b * 8, off + b * 8 + 7))


@unittest.skipIf(PROBLEM, PROBLEM)
class TestHealth(DBusTest):
    @classmethod
    def setUpClass(cls):
        ctl("create", "--name", SET, "--internal-spare", "1M", "--max-remaps", "4096", DATA)
        cls.signals = Signals()

    @classmethod
    def tearDownClass(cls):
        subprocess.run([DMREMAPCTL, "stop", SET], capture_output=True)

    def props(self):
        wait_for(lambda: DEV in self.device_paths(), what="the Device object of " + SET)
        return plain(self.obj(DEV).GetAll(DEV_IF, dbus_interface=PROPS_IF))

    def device(self):
        return dbus.Interface(self.obj(DEV), DEV_IF)

    def codes(self, p=None):
        return [r[0] for r in (p or self.props())["HealthReasons"]]

    def history(self):
        uuid = self.props()["SetUUID"]
        with open(os.path.join(E.ENV.state_dir, uuid, "history.jsonl")) as f:
            return [json.loads(line) for line in f]

    def test_1_new_device_is_ok(self):
        p = self.props()
        self.assertEqual(p["HealthState"], "ok", p["HealthReasons"])
        self.assertEqual(p["HealthReasons"], [])
        self.assertEqual(p["Forecast"]["kind"], "not-enough-data", p["Forecast"])
        self.assertEqual(p["LastScan"], {})
        # The daemon recorded the device as it first saw it.
        h = self.history()
        self.assertGreaterEqual(len(h), 1)
        self.assertEqual((h[-1]["remapped"], h[-1]["spare_total"]), (0, SPARE_BLOCKS))

    def test_2_storm_crosses_threshold(self):
        """Writes to 215 bad blocks: the kernel remaps them all (84% of the
        spares), and the daemon tells of the new state with HealthChanged
        and PropertiesChanged, from the kernel's events alone."""
        self.signals.clear()
        badblocks(STORM, "+")
        subprocess.run(["dd", "if=/dev/urandom", "of=/dev/mapper/" + SET, "bs=4096", "seek=%d" % STORM[0],
                        "count=%d" % len(STORM), "oflag=direct", "status=none"], check=True)
        badblocks(STORM, "-")
        st = json.loads(ctl("status", "--json", SET))[0]
        self.assertEqual(st["remapped"], len(STORM), st)   # the storm really happened in the kernel
        _, sig = self.signals.wait(lambda s: s[0] == DEV and s[2] == "HealthChanged", what="HealthChanged")
        state, reasons = str(sig[3][0]), [str(r[0]) for r in sig[3][1]]
        self.assertEqual(state, "warning", sig)
        self.assertIn("spare-use-high", reasons)
        p = self.props()
        self.assertEqual((p["HealthState"], p["SpareUsed"]), ("warning", len(STORM)))
        [msg] = [r[2] for r in p["HealthReasons"] if r[0] == "spare-use-high"]
        self.assertIn(str(len(STORM)), msg)          # the evidence, not a score
        self.assertTrue(any("HealthState" in plain(s[3][1]) for s in self.signals.log
                            if s[0] == DEV and s[2] == "PropertiesChanged"))
        self.assertGreater(self.history()[-1]["remapped"], 0)

    def metrics(self):
        with open(os.path.join(E.ENV.metrics_dir, "dm_remap.prom")) as f:
            return f.read()

    def test_2a_history_for_a_chart(self):
        """GetHistory gives the history file's samples (the storm's among
        them) to anyone, thinned to the count asked for."""
        fields = ("time", "spare_used", "spare_total", "remapped", "pending")
        want = [tuple(h[f] for f in fields) for h in self.history()]
        got = [tuple(int(v) for v in row) for row in self.device().GetHistory(dbus.Int64(0), dbus.UInt32(1000), {})]
        self.assertEqual(got, want)
        self.assertEqual(got[-1][1], len(STORM))
        # A user who may change nothing reads it too.
        self.assertEqual(E.as_nobody(DEV, DEV_IF, "GetHistory", "xua{sv}", [0, 1000, {}]),
                         {"result": [list(w) for w in want]})
        # Thinned: the first and the newest kept; since the newest: only it.
        if len(want) > 2:
            two = [tuple(int(v) for v in r) for r in self.device().GetHistory(dbus.Int64(0), dbus.UInt32(2), {})]
            self.assertEqual(two, [want[0], want[-1]])
        last = self.device().GetHistory(dbus.Int64(want[-1][0]), dbus.UInt32(10), {})
        self.assertEqual(tuple(int(v) for v in last[-1]), want[-1])
        name, msg = self.call_error(self.device().GetHistory, dbus.Int64(0), dbus.UInt32(1001), {})
        self.assertEqual((name, msg), (ERR + "InvalidArgument", "count: 1001 is above 1000"))

    def test_3_metrics_textfile(self):
        text = self.metrics()
        r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, "promtool: " + r.stdout + r.stderr)
        st = json.loads(ctl("status", "--json", SET))[0]

        def value(metric):
            m = re.search(r'^%s\{[^}]*device="%s"[^}]*\} (\S+)$' % (metric, SET), text, re.M)
            self.assertIsNotNone(m, metric + " for " + SET + " in\n" + text)
            return float(m.group(1))
        for metric, key in (("dm_remap_remapped_blocks", "remapped"), ("dm_remap_pending_blocks", "pending"),
                            ("dm_remap_spare_used_blocks", "spare_used"),
                            ("dm_remap_spare_total_blocks", "spare_total"),
                            ("dm_remap_write_errors_total", "write_errors"),
                            ("dm_remap_block_size_bytes", "block_size")):
            self.assertEqual(value(metric), st[key], metric)
        self.assertRegex(text, r'dm_remap_health_state\{[^}]*device="ht"[^}]*state="warning"[^}]*\} 1')

    def scan_job(self):
        om = dbus.Interface(self.obj(ROOT), OM_IF)
        for path, ifs in om.GetManagedObjects().items():
            if JOB_IF in ifs and ifs[JOB_IF]["Operation"] == "scan":
                return str(path), plain(ifs[JOB_IF])
        return None

    def start_scan(self, options):
        """StartScan on a thread of its own; returns (thread, outcome dict)."""
        out = {}

        def run():
            try:
                bus = dbus.bus.BusConnection(E.ENV.address)
                dev = dbus.Interface(bus.get_object(NAME, DEV), DEV_IF)
                out["job"], out["result"] = dev.StartScan(options, timeout=600)
            except dbus.DBusException as e:
                out["error"] = (e.get_dbus_name(), e.get_dbus_message())
        t = threading.Thread(target=run)
        t.start()
        return t, out

    def test_4_scan_finds_unreadable_blocks(self):
        badblocks(UNREADABLE, "+")
        self.signals.clear()
        t, out = self.start_scan({})
        t.join(600)
        self.assertNotIn("error", out)
        r = plain(out["result"])
        self.assertTrue(r["complete"], r)
        self.assertEqual([f[0] for f in r["found"]], UNREADABLE)
        off = json.loads(ctl("dump", "--json", DATA))["data_offset_sectors"]
        self.assertEqual([f[1:] for f in r["found"]], [[off + b * 8, 8] for b in UNREADABLE])
        self.assertEqual(r["blocks_read"], r["blocks"])
        # The Job existed for the scan, and is gone now.
        self.signals.sync()
        self.assertTrue(any(s[2] == "InterfacesAdded" and JOB_IF in s[3][1] and s[3][1][JOB_IF]["Operation"] == "scan"
                            for s in self.signals.log))
        self.assertIsNone(self.scan_job())
        p = self.props()
        self.assertEqual(p["LastScan"]["bad_blocks"], UNREADABLE)
        self.assertEqual(p["Pending"], len(UNREADABLE))
        self.assertIn("scan-errors-first", self.codes(p))
        self.assertIn("pending-blocks", self.codes(p))

    def test_5_scan_cancel_resumes(self):
        badblocks(UNREADABLE, "-")
        t, out = self.start_scan({"rate": dbus.Double(2.0), "restart": True})
        wait_for(lambda: self.scan_job() and self.scan_job()[1]["ProgressValid"], timeout=120,
                 what="the scan Job with progress")
        path, job = self.scan_job()
        self.assertGreater(job["Progress"], 0.0)
        dbus.Interface(self.obj(path), JOB_IF).Cancel({})
        t.join(120)
        self.assertEqual(out.get("error", ("",))[0], ERR + "Cancelled", out)
        pos = self.props()["LastScan"]["position"]
        self.assertGreater(pos, 0)
        t, out = self.start_scan({})
        t.join(600)
        r = plain(out["result"])
        self.assertEqual((r["first_block"], r["complete"]), (pos, True), r)
        self.assertEqual(r["blocks_read"], r["blocks"] - pos)   # nothing read twice
        self.assertNotIn("position", self.props()["LastScan"])

    def test_6_restart_keeps_history_and_health(self):
        before = self.props()
        lines = len(self.history())
        self.assertEqual(E.ENV.stop_daemon(), 0, E.ENV.log())
        E.ENV.start_daemon()
        after = self.props()
        for k in ("HealthState", "HealthReasons", "LastScan"):
            self.assertEqual(after[k], before[k], k)
        self.assertEqual(after["Forecast"]["kind"], before["Forecast"]["kind"])
        self.assertGreaterEqual(len(self.history()), lines)

    def test_7_idle_with_a_device(self):
        pid = E.ENV.daemon.pid
        self.props()
        time.sleep(1)
        before = E.context_switches(pid)
        time.sleep(10)
        self.assertEqual(E.context_switches(pid) - before, 0, "dm-remapd woke up while idle")


class TestReplace(test_replace.TestReplace):
    """Device.Replace (test_replace.py) on this module's daemon: one
    Python start and one daemon start fewer in the guest."""


if __name__ == "__main__":
    import testmain
    sys.exit(testmain.main())
