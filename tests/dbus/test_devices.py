#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""dm-remapd with real dm-remap devices: Device and Job objects, the
signals, every Device method, and errors that need the kernel target
(SpareExhausted). Runs inside the VM kernels (tests/dbus/vm-devices.sh
gives it null_blk disks), where a missing precondition fails; elsewhere it
skips.

The steps run in order (test_NN_...) on one set made from the disks in
$DMREMAP_TEST_DATA (data, null_blk $DMREMAP_TEST_NULLB) and
$DMREMAP_TEST_SPARES (two spares).
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import dbus
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

import dbus_env as E
from dbus_call import plain  # D-Bus values as plain JSON-like Python
from dbus_env import (DEV_IF, DMREMAPCTL, ERR, JOB_IF, MANAGER, MGR_IF, NAME, OM_IF, PROPS_IF, ROOT, DBusTest,
                      as_nobody, parse_node, xml_interfaces)

DATA = os.environ.get("DMREMAP_TEST_DATA", "")
NULLB = os.environ.get("DMREMAP_TEST_NULLB", "")
SPARES = os.environ.get("DMREMAP_TEST_SPARES", "").split()
TINY = os.environ.get("DMREMAP_TEST_TINY", "")  # too small to be a spare
FLOOD = os.environ.get("DMREMAP_TEST_FLOOD", "")  # TestContention's set
SET = "vt"
DEV = ROOT + "/devices/" + SET
BLOCK = 4096                # the set's block size
SPARE_BLOCKS = 256          # internal spare: 1 MiB, the smallest allowed
BLOCK_SECTORS = BLOCK // 512
MARKER_FIRST = 1000         # blocks the markers remap (see TestDevices.marker)

PROBLEM = E.require(E.precondition_problem(["DMREMAP_TEST_DATA", "DMREMAP_TEST_NULLB", "DMREMAP_TEST_SPARES",
                                            "DMREMAP_TEST_TINY", "DMREMAP_TEST_FLOOD"]),
                    "tests/dbus/vm-devices.sh runs this in the VM kernels")


def setUpModule():
    if not PROBLEM:
        E.start()


def tearDownModule():
    E.stop()


class Signals:
    """Every signal org.dmremap1 sends, in order, on a connection of its own."""

    def __init__(self):
        self.bus = dbus.bus.BusConnection(E.ENV.address, mainloop=DBusGMainLoop())
        self.log = []
        self.bus.add_signal_receiver(self._got, bus_name=NAME, path_keyword="path", interface_keyword="iface",
                                     member_keyword="member")

    def _got(self, *args, path=None, iface=None, member=None):
        self.log.append((str(path), str(iface), str(member), args))

    def pump(self):
        """Handles the signals already received."""
        ctx = GLib.MainContext.default()
        while ctx.iteration(False):
            pass

    def wait(self, pred, timeout=60.0, what="signal"):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.pump()
            for i, s in enumerate(self.log):
                if pred(s):
                    return i, s
            time.sleep(0.1)  # not flat out: under TCG the daemon it waits on needs the CPU
        raise AssertionError("no %s; got %s" % (what, [s[:3] for s in self.log]))

    def sync(self):
        """Every signal org.dmremap1 sent before its last reply to this
        process is in the log: the bus forwards a sender's messages in the
        order sent, and a round trip on this connection comes back behind
        whatever the bus had queued for it."""
        self.bus.call_blocking("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetId",
                               "", ())
        self.pump()

    def clear(self):
        self.sync()
        self.log.clear()


def ctl(*args):
    r = subprocess.run([DMREMAPCTL] + list(args), capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError("dmremapctl %s: %s" % (" ".join(args), r.stderr))
    return r.stdout


def data_offset():
    """Sectors from the start of DATA to the data area: the layout's, never
    assumed (the metadata mirror moved it once; test_01 checks the rule)."""
    return json.loads(ctl("dump", "--json", DATA))["data_offset_sectors"]


@unittest.skipIf(PROBLEM, PROBLEM)
class TestDevices(DBusTest):
    @classmethod
    def setUpClass(cls):
        cls.signals = Signals()
        cls.markers = []    # blocks remapped by marker()

    def props(self, path=DEV):
        return plain(self.obj(path).GetAll(DEV_IF, dbus_interface=PROPS_IF))

    def device(self):
        return dbus.Interface(self.obj(DEV), DEV_IF)

    def changes_follow_values(self, before, after, path=DEV):
        """Every PropertiesChanged since clear() names only properties whose
        value changed, and together they name every one that did."""
        model = dict(before)
        named = set()
        for p, iface, member, args in self.signals.log:
            if p != path or member != "PropertiesChanged" or args[0] != DEV_IF:
                continue
            changed = plain(args[1])
            for k, v in changed.items():
                self.assertNotEqual(model[k], v, "PropertiesChanged named %s with its old value" % k)
                model[k] = v
                named.add(k)
        self.assertEqual(model, after)
        self.assertEqual(named, {k for k in after if before[k] != after[k]})

    def changes(self, path=DEV):
        return [plain(s[3][1]) for s in self.signals.log
                if s[0] == path and s[2] == "PropertiesChanged" and s[3][0] == DEV_IF]

    def marker(self):
        """Returns once every uevent the kernel sent for the set so far has
        been handled, with its signals in the log: a remap made directly
        (not through the daemon) commits, so its uevent comes after them
        (udevd hands on a device's events in order, the daemon refreshes a
        device in the order they arrive) and is the only thing that can
        tell the daemon Remapped grew. Its own PropertiesChanged is left in
        the log, last."""
        remapped = self.props()["Remapped"]
        block = MARKER_FIRST + len(self.markers)
        ctl("remap", SET, str(block))
        self.markers.append(block)
        self.signals.wait(lambda s: s[0] == DEV and s[2] == "PropertiesChanged"
                          and plain(s[3][1]).get("Remapped") == remapped + 1, what="the marker's PropertiesChanged")
        self.signals.sync()

    def test_01_device_made_behind_the_back_appears(self):
        self.signals.clear()
        ctl("create", "--name", SET, "--internal-spare", "1M", "--max-remaps", "4096",
            DATA)
        i, (path, iface, member, args) = self.signals.wait(
            lambda s: s[2] == "InterfacesAdded" and str(s[3][0]) == DEV, what="InterfacesAdded for " + DEV)
        self.assertEqual(path, ROOT)
        added = plain(args[1])
        self.assertEqual(set(added[DEV_IF]), set(xml_interfaces("org.dmremap1.Device")[DEV_IF]["properties"]))
        # The daemon may see the device between its creation and its resume
        # (State "suspended"); the resume's uevent brings it up to date. A
        # client following the signals ends where the properties are.
        model = dict(added[DEV_IF])

        def follow():
            model.update(added[DEV_IF])
            for p_, _, m_, a_ in self.signals.log[i + 1:]:
                if p_ == DEV and m_ == "PropertiesChanged" and a_[0] == DEV_IF:
                    model.update(plain(a_[1]))
            return model["State"] == "active"
        # Until the signals have caught up with what a read of the
        # properties shows: a client following them ends where they are.
        self.signals.wait(lambda s: follow() and model == self.props(), what="State active, signals caught up")
        # Two copies of the metadata area, then the data area at the next
        # 1 MiB boundary (docs/FORMAT.md).
        dump = json.loads(ctl("dump", "--json", DATA))
        self.assertEqual(dump["metadata_copies"], 2)
        md_end = dump["member"]["metadata_offset_sectors"] + dump["member"]["metadata_sectors"]
        self.assertEqual(dump["data_offset_sectors"], -(-md_end // 2048) * 2048)
        st = json.loads(ctl("status", "--json", SET))[0]
        p = self.props()
        self.assertEqual(p, model)
        self.assertEqual(p["Name"], SET)
        self.assertEqual("REMAP-" + p["SetUUID"], st["uuid"])
        self.assertEqual(p["DeviceNode"], st["device"])
        self.assertEqual(p["DataDevice"], DATA)
        self.assertEqual(p["BlockSize"], BLOCK)
        self.assertEqual((p["Remapped"], p["Pending"], p["SpareUsed"], p["SpareTotal"]), (0, 0, 0, SPARE_BLOCKS))
        self.assertEqual(p["State"], "active")
        self.assertEqual(len(p["Spares"]), 1)
        idx, node, majmin, total, used, live, state = p["Spares"][0]
        self.assertEqual((idx, node, total, used, live, state), (0, DATA, SPARE_BLOCKS, 0, 0, "ok"))
        self.assertEqual(majmin, st["spares"][0]["device"])

    def test_02_introspection_matches_xml(self):
        got = parse_node(ET.fromstring(self.obj(DEV).Introspect(
            dbus_interface="org.freedesktop.DBus.Introspectable")))
        self.assertEqual(got[DEV_IF], xml_interfaces("org.dmremap1.Device")[DEV_IF])
        objs = dbus.Interface(self.obj(ROOT), OM_IF).GetManagedObjects()
        self.assertIn(DEV_IF, objs[DEV])

    def test_03_remap_changes_only_what_changed(self):
        before = self.props()
        self.signals.clear()
        self.assertTrue(self.device().Remap(dbus.UInt64(5), {}))
        # Sent before the reply: the daemon re-reads the device first.
        self.signals.sync()
        self.assertEqual(len(self.changes()), 1, "the Remap's re-read: one PropertiesChanged, before the reply")
        mid = self.props()
        self.assertEqual((mid["Remapped"], mid["SpareUsed"]), (1, 1))
        # The kernel's uevent for the same commit, handled before the
        # marker's, must not repeat it.
        self.marker()
        after = self.props()
        self.assertEqual((after["Remapped"], after["SpareUsed"]), (2, 2))
        self.changes_follow_values(before, after)
        self.assertEqual(len(self.changes()), 2, "one commit, one PropertiesChanged (then the marker's)")

    def test_04_kernel_remap_followed_through_uevent(self):
        # A write to a failing block: the kernel remaps it on its own, the
        # daemon hears of it only through the uevent.
        first = data_offset() + 9 * BLOCK_SECTORS
        with open("/sys/kernel/config/nullb/%s/badblocks" % NULLB, "w") as f:
            f.write("+%d-%d" % (first, first + BLOCK_SECTORS - 1))
        before = self.props()
        self.signals.clear()
        subprocess.run(["dd", "if=/dev/zero", "of=/dev/mapper/" + SET, "bs=%d" % BLOCK, "seek=9", "count=1",
                        "oflag=direct", "status=none"], check=True)
        self.signals.wait(lambda s: s[0] == DEV and s[2] == "PropertiesChanged"
                          and "Remapped" in plain(s[3][1]), what="PropertiesChanged with Remapped")
        self.marker()
        after = self.props()
        self.assertEqual(after["Remapped"], before["Remapped"] + 2)
        self.assertEqual(after["WriteErrors"], before["WriteErrors"] + 1)
        self.changes_follow_values(before, after)

    def test_05_get_remaps(self):
        entries = plain(self.device().GetRemaps(dbus.UInt64(0), dbus.UInt32(1000), {}))
        self.assertEqual([(e[0], e[1], e[2], e[4]) for e in entries],
                         [(b, False, 0, False) for b in [5, 9] + self.markers])
        self.assertEqual(sorted(e[3] for e in entries), list(range(len(entries))))
        self.assertEqual(plain(self.device().GetRemaps(dbus.UInt64(6), dbus.UInt32(1), {})), [[9, False, 0,
                                                                                           entries[1][3], False]])
        self.assertEqual(plain(self.device().GetRemaps(dbus.UInt64(0), dbus.UInt32(0), {})), [])
        name, msg = self.call_error(self.device().GetRemaps, dbus.UInt64(0), dbus.UInt32(1001), {})
        self.assertEqual(name, ERR + "InvalidArgument")
        self.assertIn("count", msg)
        name, msg = self.call_error(self.device().GetRemaps, dbus.UInt64(0), dbus.UInt32(10), {"x": True})
        self.assertEqual((name, "'x'" in msg), (ERR + "InvalidArgument", True))

    def test_06_device_methods_authorized(self):
        E.require_root()
        calls = (("AddSpare", "sa{sv}", ["/dev/nonexistent", {}]),
                 ("RemoveSpare", "sa{sv}", ["/dev/nonexistent", {}]),
                 ("Remap", "ta{sv}", [1 << 40, {}]),
                 ("Stop", "a{sv}", [{}]))
        self.set_polkit([])
        for method, sig, args in calls:
            r = as_nobody(DEV, DEV_IF, method, sig, args)
            self.assertEqual(r.get("error"), ERR + "NotAuthorized", (method, r))
        self.assertEqual(len(self.polkit_calls()), 4)
        # Arguments are checked before authorization: no polkit call.
        r = as_nobody(DEV, DEV_IF, "Stop", "a{sv}", [{"bogus": True}])
        self.assertEqual(r.get("error"), ERR + "InvalidArgument", r)
        self.assertEqual(len(self.polkit_calls()), 4)
        self.assertTrue(os.path.exists("/dev/mapper/" + SET))
        r = as_nobody(DEV, DEV_IF, "GetRemaps", "tua{sv}", [0, 10, {}])
        self.assertEqual(len(r.get("result", [])), 2 + len(self.markers), r)
        self.set_polkit(E.ACTIONS)
        r = as_nobody(DEV, DEV_IF, "AddSpare", "sa{sv}", ["/dev/nonexistent", {}])
        self.assertEqual(r.get("error"), ERR + "NotFound", r)
        r = as_nobody(DEV, DEV_IF, "Remap", "ta{sv}", [1 << 40, {}])
        self.assertEqual(r.get("error"), ERR + "InvalidArgument", r)
        self.set_polkit([])

    def test_07_add_spare(self):
        before = self.props()
        self.signals.clear()
        index, blocks = self.device().AddSpare(SPARES[0], {})
        self.assertEqual(index, 1)
        self.assertGreater(blocks, 0)
        after = self.props()
        self.assertEqual(len(after["Spares"]), 2)
        self.assertEqual(after["Spares"][1][:2], [1, SPARES[0]])
        self.assertEqual(after["SpareTotal"], SPARE_BLOCKS + blocks)
        # The spare's uevent must not repeat what the reply's re-read said.
        self.marker()
        self.changes_follow_values(before, self.props())
        name, _ = self.call_error(self.device().AddSpare, SPARES[0], {})
        self.assertEqual(name, ERR + "AlreadyExists")
        name, msg = self.call_error(self.device().AddSpare, "", {})
        self.assertEqual((name, "device" in msg), (ERR + "InvalidArgument", True))
        # Images only where assembly attaches them again: directly in the
        # spare directory (root's alone: no other user can swap a path component).
        img = "refused-%d.img" % os.getpid()
        for bad in ("/tmp/" + img, "/var/lib/dm-remap/spares/../../../tmp/" + img, "/var/lib/dm-remap/spares/",
                    "/var/lib/dm-remap/" + img, "/var/lib/dm-remap/spares/sub/" + img):
            name, msg = self.call_error(self.device().AddSpare, "",
                                        {"image": bad, "size": dbus.UInt64(16 << 20)})
            self.assertEqual((name, "live directly in /var/lib/dm-remap/spares/" in msg),
                             (ERR + "InvalidArgument", True), msg)
        self.assertFalse(os.path.exists("/tmp/" + img), "a refused image was created")

    def job_signals(self):
        """The job's path and its signals, in order, from the last RemoveSpare."""
        _, added = self.signals.wait(lambda s: s[2] == "InterfacesAdded" and "/jobs/" in str(s[3][0]),
                                     what="a job's InterfacesAdded")
        job = str(added[3][0])
        self.signals.wait(lambda s: s[2] == "InterfacesRemoved" and str(s[3][0]) == job,
                          what="the job's InterfacesRemoved")
        seq = [s for s in self.signals.log if s[0] == job or (s[2].startswith("Interfaces") and str(s[3][0]) == job)]
        return job, plain(added[3][1]), seq

    def test_08_remove_spare_job(self):
        self.signals.clear()
        before = time.time()
        # Returns when done, with the result; the job shows meanwhile.
        r = plain(self.device().RemoveSpare(SPARES[0], {"evacuate": True}))
        self.assertEqual(r, {"device": SPARES[0], "moved": 0, "lost": 0})
        job, props, seq = self.job_signals()
        self.assertTrue(job.startswith(ROOT + "/jobs/"))
        self.assertEqual(set(props[JOB_IF]), set(xml_interfaces("org.dmremap1.Job")[JOB_IF]["properties"]))
        start = props[JOB_IF].pop("StartTime") / 1e6
        self.assertTrue(before - 1 <= start <= time.time() + 1, (before, start))
        # Nothing lived on the spare: no progress to tell.
        self.assertEqual(props[JOB_IF], {"Operation": "spare-evacuate", "Progress": 0.0, "ProgressValid": False,
                                         "Bytes": 0, "Rate": 0, "ExpectedEndTime": 0, "Objects": [DEV],
                                         "StartedByUID": 0, "Cancelable": True, "Phase": ""})
        self.assertEqual([s[2] for s in seq], ["InterfacesAdded", "Completed", "InterfacesRemoved"])
        success, message = plain(seq[1][3])
        self.assertTrue(success, message)
        self.assertIn("removed: 0 blocks moved, 0 lost", message)
        self.assertEqual(len(self.props()["Spares"]), 1)
        # A refusal is the method's error, and the job's Completed(false, "NAME: text").
        self.signals.clear()
        name, msg = self.call_error(self.device().RemoveSpare, SPARES[1], {})
        self.assertEqual(name, ERR + "NotFound", msg)
        _, _, seq = self.job_signals()
        success, message = plain([s for s in seq if s[2] == "Completed"][0][3])
        self.assertEqual((success, message), (False, name + ": " + msg))

    def test_09_spare_exhausted(self):
        # The internal spare's free blocks fit (first fit: the spare added
        # in test_07 is gone), the next does not.
        dev = self.device()
        p = self.props()
        self.assertEqual(len(p["Spares"]), 1)
        last = 100 + SPARE_BLOCKS - p["SpareUsed"]
        for b in range(100, last):
            self.assertTrue(dev.Remap(dbus.UInt64(b), {}))
        name, msg = self.call_error(dev.Remap, dbus.UInt64(last), {})
        self.assertEqual(name, ERR + "SpareExhausted", msg)
        self.assertEqual(self.props()["State"], "spare-exhausted")
        # Out of room too, but not for lack of spares: plain NoSpace.
        name, msg = self.call_error(dev.AddSpare, TINY, {})
        self.assertEqual(name, ERR + "NoSpace", msg)

    def test_09b_get_remaps_spans_pages(self):
        # More entries than the library reads per kernel message (250).
        p = self.props()
        entries = plain(self.device().GetRemaps(dbus.UInt64(0), dbus.UInt32(1000), {}))
        self.assertEqual(len(entries), p["Remapped"] + p["Pending"])
        self.assertGreater(len(entries), 250)
        blocks = [e[0] for e in entries]
        self.assertEqual(blocks, sorted(set(blocks)))
        self.assertEqual(plain(self.device().GetRemaps(dbus.UInt64(0), dbus.UInt32(251), {})), entries[:251])
        rest = plain(self.device().GetRemaps(dbus.UInt64(blocks[250] + 1), dbus.UInt32(1000), {}))
        self.assertEqual(rest, entries[251:])

    def test_09c_evacuation_progress(self):
        dev = self.device()
        dev.AddSpare(SPARES[0], {})
        self.assertEqual(self.props()["State"], "active", "a spare clears exhausted")
        for b in range(400, 410):
            self.assertTrue(dev.Remap(dbus.UInt64(b), {}))
        live = {row[1]: row[5] for row in self.props()["Spares"]}
        self.assertEqual(live[SPARES[0]], 10, "the internal spare is full: they went to the new spare")
        dev.AddSpare(SPARES[1], {})
        self.signals.clear()
        r = plain(dev.RemoveSpare(SPARES[0], {"evacuate": True}))
        self.assertEqual(r, {"device": SPARES[0], "moved": 10, "lost": 0})
        job, props, seq = self.job_signals()
        kinds = [s[2] for s in seq]
        self.assertEqual(kinds[0], "InterfacesAdded")
        self.assertEqual(kinds[-2:], ["Completed", "InterfacesRemoved"])
        self.assertEqual(set(kinds[1:-2]), {"PropertiesChanged"})
        changes = [plain(s[3][1]) for s in seq[1:-2]]
        progress = [c["Progress"] for c in changes]
        self.assertEqual(progress, sorted(set(progress)), "Progress only grows")
        self.assertEqual(progress[-1], 1.0)
        # udisks' observer properties: what the job works through, how fast.
        last = changes[-1]
        self.assertEqual((last["ProgressValid"], last["Bytes"]), (True, 10 * BLOCK))
        self.assertGreater(last["Rate"], 0)
        self.assertGreaterEqual(last["ExpectedEndTime"], props[JOB_IF]["StartTime"])
        success, message = plain(seq[-2][3])
        self.assertTrue(success, message)
        self.assertIn("10 blocks moved, 0 lost", message)
        live = {row[1]: row[5] for row in self.props()["Spares"]}
        self.assertNotIn(SPARES[0], live)
        self.assertEqual(live[SPARES[1]], 10)

    def test_09d_refresh_shows_counters_no_event_moved(self):
        # A read of a pending block counts a read error and commits
        # nothing: no uevent, so the cache keeps the old count until a
        # Refresh (which dmremapctl run by a user makes before printing).
        block = 700
        first = data_offset() + block * BLOCK_SECTORS
        bad = "/sys/kernel/config/nullb/%s/badblocks" % NULLB

        def read():
            return subprocess.run(["dd", "if=/dev/mapper/" + SET, "of=/dev/null", "bs=%d" % BLOCK,
                                   "skip=%d" % block, "count=1", "iflag=direct", "status=none"],
                                  capture_output=True).returncode

        def kernel_read_errors():
            out = subprocess.run(["dmsetup", "status", SET], capture_output=True, text=True, check=True).stdout
            return int([t for t in out.split() if t.startswith("read_errors=")][0].split("=")[1])

        pending = self.props()["Pending"]
        with open(bad, "w") as f:
            f.write("+%d-%d" % (first, first + BLOCK_SECTORS - 1))
        try:
            self.assertNotEqual(read(), 0, "a failing block read back")
            self.signals.wait(lambda s: self.props()["Pending"] == pending + 1, what="the block pending")
            self.signals.clear()
            self.assertNotEqual(read(), 0, "a pending block read back")
        finally:
            with open(bad, "w") as f:
                f.write("-%d-%d" % (first, first + BLOCK_SECTORS - 1))
        count = kernel_read_errors()
        # The daemon polls nothing: the cache keeps the old count until
        # asked. (Checked now, which is all the rest needs: stale before
        # the Refresh below, current after it.)
        self.assertLess(self.props()["ReadErrors"], count, "the cache already moved: nothing left to show")
        # dmremapctl prints the same through the daemon as directly: it
        # has the daemon read the device again first.
        bus = subprocess.run([DMREMAPCTL, "status", "--json", SET], capture_output=True, text=True,
                             env=dict(E.ENV.env, DMREMAPCTL_BACKEND="bus"))
        self.assertEqual(bus.returncode, 0, bus.stderr)
        direct = json.loads(ctl("status", "--json", SET))
        self.assertEqual(direct[0]["read_errors"], count)
        self.assertEqual(json.loads(bus.stdout), direct)
        self.assertEqual(self.props()["ReadErrors"], count)
        # dmremapctl's Refresh was answered after its signal went out.
        self.signals.sync()
        # The new count is a new history sample, so the forecast built on
        # the history moved with it (its sample count); nothing else did.
        [changed] = self.changes()
        changed.pop("Forecast", None)
        self.assertEqual(changed, {"ReadErrors": count})
        # Nothing moved since: a Refresh changes nothing and says nothing.
        self.device().Refresh({})
        self.signals.sync()
        self.assertEqual(len(self.changes()), 1, self.changes())

    def test_10_members(self):
        members = [plain(m) for m in dbus.Interface(self.obj(MANAGER), MGR_IF).ListMembers({})]
        mine = [m for m in members if m["device"] == DATA]
        self.assertEqual(len(mine), 1, members)
        self.assertEqual((mine[0]["set_name"], mine[0]["role"], mine[0]["active"]), (SET, "data", SET))
        # No udevd in the guest: root's answer came from reading the disks,
        # while uid 65534 gets udev's database alone (empty), no disk read.
        self.assertEqual(mine[0]["source"], "superblock")
        self.assertEqual(as_nobody(MANAGER, MGR_IF, "ListMembers", "a{sv}", [{}]), {"result": []})

    def test_11_stop(self):
        self.signals.clear()
        self.device().Stop({})
        # Removed before the reply.
        self.assertNotIn(DEV, dbus.Interface(self.obj(ROOT), OM_IF).GetManagedObjects())
        self.signals.wait(lambda s: s[2] == "InterfacesRemoved" and str(s[3][0]) == DEV, what="InterfacesRemoved")
        self.assertFalse(os.path.exists("/dev/mapper/" + SET))

    def test_12_assemble_and_remove_behind_the_back(self):
        m = dbus.Interface(self.obj(MANAGER), MGR_IF)
        path, r = m.Assemble([DATA], {})
        self.assertEqual((str(path), str(r["name"]), bool(r["already_active"])), (DEV, SET, False))
        self.assertEqual(self.props()["Name"], SET)
        self.assertEqual(str(r["set_uuid"]), self.props()["SetUUID"])
        self.assertEqual([str(x) for x in r["members"]][0], DATA)
        # Already active: the same device again, not an error.
        path, r = m.Assemble([DATA], {})
        self.assertEqual((str(path), bool(r["already_active"])), (DEV, True))
        self.signals.clear()
        subprocess.run(["dmsetup", "remove", SET], check=True)
        self.signals.wait(lambda s: s[2] == "InterfacesRemoved" and str(s[3][0]) == DEV,
                          what="InterfacesRemoved after dmsetup remove")

    def test_12b_lost_uevents_reread_everything(self):
        # While the daemon does not read its uevent socket, a burst of
        # events overflows it and the kernel drops the rest, among them the
        # ones announcing a new device. The daemon must notice the loss
        # (ENOBUFS) and look at every device again. As root libudev asks
        # for a 128 MiB socket buffer; under its unit (no CAP_NET_ADMIN)
        # the daemon gets net.core.rmem_max: run it that way here.
        self.assertEqual(E.ENV.stop_daemon(), 0, E.ENV.log())
        with open(E.ENV.daemon_log, "a") as log:
            E.ENV.daemon = subprocess.Popen(["setpriv", "--bounding-set=-net_admin", E.DMREMAPD], env=E.ENV.env,
                                            stdout=log, stderr=log)
        E.wait_for(lambda: E.ENV.has_owner(E.NAME), what="the restarted daemon's name")
        tiny = os.path.basename(os.path.realpath(TINY))
        os.kill(E.ENV.daemon.pid, signal.SIGSTOP)
        try:
            with open("/sys/block/%s/uevent" % tiny, "w") as f:
                for _ in range(3000):
                    f.write("change")
                    f.flush()
            self.signals.clear()
            ctl("assemble", DATA)
        finally:
            os.kill(E.ENV.daemon.pid, signal.SIGCONT)
        self.signals.wait(lambda s: s[2] == "InterfacesAdded" and str(s[3][0]) == DEV,
                          what="InterfacesAdded after the lost uevents")
        self.assertIn("events were lost", E.ENV.log())
        self.assertEqual(self.props()["Name"], SET)
        subprocess.run(["dmsetup", "remove", SET], check=True)
        self.signals.wait(lambda s: s[2] == "InterfacesRemoved" and str(s[3][0]) == DEV,
                          what="InterfacesRemoved")

    def test_12c_corrupt(self):
        # Superblocks intact, every copy of the remap table zeroed (each
        # member keeps one): the set is found but cannot be trusted to start.
        for dev in (DATA, SPARES[1]):
            member = json.loads(ctl("dump", "--json", dev))["member"]
            with open(dev, "r+b", buffering=0) as f:
                f.seek(member["metadata_offset_sectors"] * 512)
                f.write(bytes(member["metadata_sectors"] * 512))
                os.fsync(f.fileno())
        name, msg = self.call_error(dbus.Interface(self.obj(MANAGER), MGR_IF).Assemble, [DATA], {})
        self.assertEqual(name, ERR + "Corrupt", msg)
        self.assertIn("no readable metadata", msg)
        self.assertNotIn(DEV, dbus.Interface(self.obj(ROOT), OM_IF).GetManagedObjects())
        self.assertFalse(os.path.exists("/dev/mapper/" + SET))
        self.assertAlive()

    def test_13_create(self):
        m = dbus.Interface(self.obj(MANAGER), MGR_IF)
        # The evacuated spare: its superblocks were wiped.
        path, r = m.Create([SPARES[0]], {"name": "vc", "max_remaps": dbus.UInt32(4096),
                                         "internal_spare": dbus.UInt64(1 << 20)})
        path, r = str(path), plain(r)
        self.assertEqual(path, ROOT + "/devices/vc")
        p = self.props(path)
        self.assertEqual((p["DataDevice"], p["SpareTotal"]), (SPARES[0], SPARE_BLOCKS))
        # What was written, as dmremapctl dump reads it back.
        self.assertEqual((r["name"], r["set_uuid"], len(r["members"])), ("vc", p["SetUUID"], 1))
        dump = json.loads(ctl("dump", "--json", SPARES[0]))
        for k in ("data_offset_sectors", "max_entries", "block_size"):
            self.assertEqual(r["members"][0][k], dump[k], k)
        self.assertEqual(r["members"][0]["role"], "data")
        # Another set with vc's UUID: refused before a disk is opened, the disk untouched.
        before = plain(m.Probe(SPARES[1], {}))
        name, msg = self.call_error(m.Create, [SPARES[1]], {"name": "vc3", "uuid": p["SetUUID"]})
        self.assertEqual((name, msg), (ERR + "AlreadyExists", "uuid %s: the set active as vc has it" % p["SetUUID"]))
        self.assertEqual(plain(m.Probe(SPARES[1], {})), before)
        name, _ = self.call_error(m.Create, [SPARES[0]], {"name": "vc2"})
        self.assertEqual(name, ERR + "Busy")
        dbus.Interface(self.obj(path), DEV_IF).Stop({})
        self.assertAlive()

    def test_14_io_error(self):
        # A disk that fails every write where the set's metadata goes.
        spare = SPARES[1]
        bad = "/sys/kernel/config/nullb/%s/badblocks" % os.path.basename(os.path.realpath(spare))
        ranges = ["%d-%d" % (s, s + 511) for s in range(0, 8192, 512)]  # 6.1: at most 512 per range
        for r in ranges:
            with open(bad, "w") as f:
                f.write("+" + r)
        try:
            name, msg = self.call_error(dbus.Interface(self.obj(MANAGER), MGR_IF).Create, [spare],
                                        {"name": "vio", "force": True, "max_remaps": dbus.UInt32(4096),
                                         "internal_spare": dbus.UInt64(1 << 20)})
        finally:
            for r in ranges:
                with open(bad, "w") as f:
                    f.write("-" + r)
        self.assertEqual(name, ERR + "Io", msg)
        self.assertIn(spare, msg)
        self.assertFalse(os.path.exists("/dev/mapper/vio"))
        self.assertAlive()


def held_reads(name):
    """Reads a dm-delay device holds now: its status counts them."""
    out = subprocess.run(["dmsetup", "status", name], capture_output=True, text=True, check=True).stdout.split()
    assert out[2] == "delay", out
    return int(out[3])


class Flood(threading.Thread):
    """uid 65534 calling ListMembers without pause from one connection, 20
    calls at a time, until stop(); counts the replies by kind."""

    def __init__(self):
        super().__init__(daemon=True)
        self.burst = E.Burst(MANAGER, MGR_IF, "ListMembers", "a{sv}", [{}])
        self.replies = {"result": 0, "busy": 0}
        self.other = []
        self.halt = threading.Event()
        self.start()

    def run(self):
        while not self.halt.is_set():
            self.burst.send(20)
            for r in self.burst.replies(20, timeout=60):
                if "result" in r:
                    self.replies["result"] += 1
                elif r.get("error") == ERR + "Busy":
                    self.replies["busy"] += 1
                else:
                    self.other.append(r)

    def count(self):
        return sum(self.replies.values()) + len(self.other)

    def stop(self):
        self.halt.set()
        self.join(120)
        self.burst.close()


class TestContention(DBusTest):
    """Unprivileged reads and devices that never answer do not hold up
    anyone else (the pool: a limit per user, a deadline per call)."""

    SET = "vf"
    PATH = ROOT + "/devices/vf"

    @classmethod
    def setUpClass(cls):
        ctl("create", "--name", cls.SET, "--internal-spare", "1M", "--max-remaps", "4096", FLOOD)
        E.wait_for(lambda: cls.PATH in dbus.Interface(E.ENV.bus.get_object(NAME, ROOT), OM_IF).GetManagedObjects(),
                   what="the Device object")

    @classmethod
    def tearDownClass(cls):
        ctl("stop", cls.SET)

    def remapped(self):
        return int(self.obj(self.PATH).Get(DEV_IF, "Remapped", dbus_interface=PROPS_IF))

    def test_1_read_flood(self):
        flood = Flood()
        self.addCleanup(flood.stop)
        E.wait_for(lambda: flood.replies["busy"] > 0 and flood.replies["result"] > 0, timeout=60,
                   what="the flood to reach the per-user limit")
        dev = dbus.Interface(self.obj(self.PATH), DEV_IF)
        # A change by root, then a refresh only a kernel uevent can cause
        # (a remap made behind the daemon's back), while the flood goes on.
        before, t = flood.count(), time.monotonic()
        self.assertTrue(dev.Remap(dbus.UInt64(5), {}, timeout=120))
        remapped = self.remapped()
        ctl("remap", self.SET, "6")
        E.wait_for(lambda: self.remapped() == remapped + 1, timeout=120, what="the uevent's refresh")
        took, during = time.monotonic() - t, flood.count() - before
        flood.stop()
        print("change and uevent refresh in %.2f s while %d flood calls were answered (%s)"
              % (took, during, flood.replies))
        self.assertEqual(flood.other, [])
        self.assertGreater(during, 0, "the flood was not running during the change")
        # Bounded: the per-user limit keeps the flood to a few pool threads.
        self.assertLess(took, 30)
        self.assertAlive()

    def test_2_device_that_never_answers(self):
        # Reads of vhung take an hour: a disk that stopped answering.
        size = subprocess.run(["blockdev", "--getsz", TINY], capture_output=True, text=True, check=True).stdout.strip()
        subprocess.run(["dmsetup", "create", "vhung", "--table", "0 %s delay %s 0 3600000" % (size, TINY)],
                       check=True)
        hung = "/dev/mapper/vhung"
        self.addCleanup(subprocess.run, ["dmsetup", "remove", "vhung"])
        self.addCleanup(lambda: [subprocess.run(["dmsetup", c, "vhung"]) for c in ("suspend", "resume")])
        t = time.monotonic()
        probe = E.root_call(MANAGER, MGR_IF, "Probe", "sa{sv}", [hung, {}])
        self.addCleanup(probe.kill)
        E.wait_for(lambda: probe.poll() is not None or held_reads("vhung") > 0, timeout=30,
                   what="root's Probe reading vhung")
        if probe.poll() is not None:
            self.fail("root's Probe of vhung ended: %s" % probe.communicate()[0])
        held = held_reads("vhung")
        # Everyone else is answered meanwhile, a change included, while
        # root's Probe still waits for vhung.
        t_others = time.monotonic()
        dev = dbus.Interface(self.obj(self.PATH), DEV_IF)
        self.assertTrue(dev.Remap(dbus.UInt64(7), {}, timeout=60))
        self.assertGreater(len(plain(dev.GetRemaps(dbus.UInt64(0), dbus.UInt32(10), {}, timeout=60))), 0)
        dev.Refresh({}, timeout=60)
        others = time.monotonic() - t_others
        if probe.poll() is not None:
            self.fail("root's Probe ended after %.1f s, while the others were answered (%.2f s): %s"
                      % (time.monotonic() - t, others, probe.communicate()[0]))
        self.assertEqual(held_reads("vhung"), held, "root's read of vhung ended")
        # uid 65534 (each call a Python start: slow in a guest): answered,
        # and nothing asked of the device, udev's record or nothing.
        r = as_nobody(MANAGER, MGR_IF, "ListMembers", "a{sv}", [{}])
        self.assertIn("result", r)
        r = as_nobody(MANAGER, MGR_IF, "Probe", "sa{sv}", [hung, {}])
        self.assertEqual(r.get("error"), ERR + "NotFound", r)
        self.assertIn("udev has no record", r["message"])
        self.assertEqual(held_reads("vhung"), held, "a read of vhung made for uid 65534")
        # Root's Probe ends at its deadline, with an error that says why.
        r = json.loads(probe.communicate(timeout=E.IO_TIMEOUT + 60)[0])
        waited = time.monotonic() - t
        print("Remap, GetRemaps, Refresh answered in %.2f s; root's Probe of vhung: %.1f s: %s" % (others, waited, r))
        self.assertEqual(r.get("error"), ERR + "TimedOut", r)
        self.assertIn("Probe " + hung, r["message"])
        self.assertGreaterEqual(waited, E.IO_TIMEOUT - 1)
        # The stuck thread was replaced: the pool still serves several at once.
        calls = [E.root_call(MANAGER, MGR_IF, "Probe", "sa{sv}", [FLOOD, {}]) for _ in range(6)]
        for c in calls:
            r = json.loads(c.communicate(timeout=60)[0])
            self.assertEqual(r.get("result", {}).get("set_name"), self.SET, r)
        # The disk comes back (dm-delay hands its held reads on at a suspend):
        # the stuck thread returns, nothing breaks.
        subprocess.run(["dmsetup", "suspend", "vhung"], check=True)
        subprocess.run(["dmsetup", "resume", "vhung"], check=True)
        E.wait_for(lambda: held_reads("vhung") == 0, timeout=30, what="the held read to complete")
        self.assertAlive()


if __name__ == "__main__":
    import testmain
    sys.exit(testmain.main())
