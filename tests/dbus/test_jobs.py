#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Job.Cancel on a real evacuation. Runs inside the VM kernels
(tests/dbus/vm-devices.sh), where a missing precondition fails; elsewhere
it skips.

The set: data $DMREMAP_JOBS_DATA (4 KiB blocks, no internal spare), and
spare $DMREMAP_JOBS_SLOW, a dm-delay device
whose reads take 50 ms: the kernel reads each block it evacuates, one at a
time, 64 to a batch, so a batch takes seconds and the library's progress
reports (every 250 ms) show the job midway. Once one has, the test holds
the job there by suspending $DMREMAP_JOBS_SLOW (its reads wait for the
resume), cancels, then resumes it: the cancel is sent while the job cannot
have finished, twice (test_2, then test_3 on what is left).
$DMREMAP_JOBS_FAST is the spare they move to.
"""
import json
import os
import pwd
import random
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import dbus
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

import dbus_env as E
from dbus_call import plain
from dbus_env import DEV_IF, DMREMAPCTL, ERR, JOB_IF, NAME, OM_IF, PROPS_IF, ROOT, DBusTest, as_nobody

DATA = os.environ.get("DMREMAP_JOBS_DATA", "")
SLOW = os.environ.get("DMREMAP_JOBS_SLOW", "")
FAST = os.environ.get("DMREMAP_JOBS_FAST", "")
SET = "jt"
DEV = ROOT + "/devices/" + SET
NODE = "/dev/mapper/" + SET
BLOCK = 4096
ON_SLOW = 400               # blocks remapped onto the slow spare: two cancels, a batch or two in, leave some

PROBLEM = E.require(E.precondition_problem(["DMREMAP_JOBS_DATA", "DMREMAP_JOBS_SLOW", "DMREMAP_JOBS_FAST"]),
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


def majmin(dev):
    rdev = os.stat(dev).st_rdev
    return "%d:%d" % (os.major(rdev), os.minor(rdev))


# A non-root uid other than the starter's (65534). One with a passwd entry:
# the bus daemon refuses a connection whose uid it cannot look up.
OTHER_UID = pwd.getpwnam("daemon").pw_uid


def as_uid(uid, path, iface, method, sig, args):
    """One call as `uid` in a process of its own: dbus_call.py's JSON."""
    r = subprocess.run(["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups", E.PYTHON, E.DBUS_CALL,
                        E.ENV.address, path, iface, method, sig, json.dumps(args)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def dm_state(name):
    """'ACTIVE' or 'SUSPENDED', as dmsetup info says."""
    r = subprocess.run(["dmsetup", "info", name], capture_output=True, text=True, check=True)
    for line in r.stdout.splitlines():
        if line.startswith("State:"):
            return line.split()[1]
    raise AssertionError("no State in dmsetup info: " + r.stdout)


class Signals:
    """org.dmremap1's signals, in order, on a connection of its own."""

    def __init__(self):
        self.bus = dbus.bus.BusConnection(E.ENV.address, mainloop=DBusGMainLoop())
        self.log = []
        self.bus.add_signal_receiver(self._got, bus_name=NAME, path_keyword="path", member_keyword="member")

    def _got(self, *args, path=None, member=None):
        self.log.append((str(path), str(member), args))

    def wait(self, pred, timeout=120.0, what="signal"):
        ctx = GLib.MainContext.default()
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            while ctx.iteration(False):
                pass
            for s in self.log:
                if pred(s):
                    return s
            time.sleep(0.1)  # not flat out: under TCG the daemon it waits on needs the CPU
        raise AssertionError("no %s; got %s" % (what, [s[:2] for s in self.log]))


def dmsetup(*args):
    subprocess.run(["dmsetup"] + list(args), check=True)


def progress_of(s, path):
    """The Progress a signal of the job at `path` reports, or None."""
    if s[0] != path or s[1] != "PropertiesChanged":
        return None
    return plain(s[2][1]).get("Progress")


@unittest.skipIf(PROBLEM, PROBLEM)
class TestCancel(DBusTest):
    refilled = 0  # blocks test_3 remapped onto the slow spare besides ON_SLOW

    @classmethod
    def setUpClass(cls):
        ctl("create", "--name", SET, "--block-size", str(BLOCK), "--internal-spare", "0", "--max-remaps", "4096",
            DATA, SLOW)
        E.wait_for(lambda: DEV in cls.managed(cls), timeout=30, what="the Device object")
        with open(NODE, "rb") as f:
            size = f.seek(0, os.SEEK_END)
        cls.pattern = random.Random(7).randbytes(size)
        with open(NODE, "r+b") as f:
            f.write(cls.pattern)
            f.flush()
            os.fsync(f.fileno())
        dev = dbus.Interface(E.ENV.bus.get_object(NAME, DEV), DEV_IF)
        # No internal spare: every remap goes to SLOW, the only spare yet.
        for b in range(ON_SLOW):
            assert dev.Remap(dbus.UInt64(b), {})
        dev.AddSpare(FAST, {})

    @classmethod
    def tearDownClass(cls):
        ctl("stop", SET)

    def managed(self):
        om = dbus.Interface(E.ENV.bus.get_object(NAME, ROOT), OM_IF)
        return {str(p): plain(ifs) for p, ifs in om.GetManagedObjects().items()}

    def live(self):
        """Live blocks by member device (by major:minor: a dm device's node
        shows as /dev/dm-N)."""
        spares = plain(self.obj(DEV).Get(DEV_IF, "Spares", dbus_interface=PROPS_IF))
        by_majmin = {row[2]: row[5] for row in spares}
        return {d: by_majmin[majmin(d)] for d in (DATA, SLOW, FAST) if majmin(d) in by_majmin}

    def device(self):
        return dbus.Interface(self.obj(DEV), DEV_IF)

    def job(self, path):
        return dbus.Interface(self.obj(path, introspect=False), JOB_IF)

    def assertDataIntact(self):
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        with open(NODE, "rb") as f:
            got = f.read()
        self.assertEqual(len(got), len(self.pattern))
        bad = [i // BLOCK for i in range(0, len(got), BLOCK) if got[i:i + BLOCK] != self.pattern[i:i + BLOCK]]
        self.assertEqual(bad, [], "blocks that no longer read what was written")

    def hold_midway(self, signals, path):
        """Waits for a Progress strictly between 0 and 1, then suspends the
        slow spare so the job can move no further; returns the Progress.
        The caller resumes it (an added cleanup does too)."""
        s = signals.wait(lambda s: (progress_of(s, path) or 0) > 0, what="Progress above 0")
        progress = progress_of(s, path)
        self.assertLess(progress, 1.0, "the evacuation ended before it could be held midway")
        dmsetup("suspend", os.path.basename(SLOW))
        self.addCleanup(self.release)
        # Every report so far: none said the job was done.
        last = max(p for p in (progress_of(s, path) for s in signals.log) if p is not None)
        self.assertLess(last, 1.0, "the evacuation ended before it was held")
        self.assertIn(path, self.managed(), "the job ended before it was held")
        return last

    def release(self):
        if dm_state(os.path.basename(SLOW)) == "SUSPENDED":
            dmsetup("resume", os.path.basename(SLOW))

    def release_after_cancel(self):
        """Cancel answers at once and interrupts the job from a thread of
        its own, which suspends the set. Released before that thread got
        to its suspend (a guest of one CPU, a busy machine), the
        evacuation runs on and may end before the cancel takes: wait until
        a thread of dm-remapd waits inside dm_suspend past the targets'
        presuspend (which tells the evacuation to stop), then release.
        There it waits for the message that runs the evacuation
        (synchronize_srcu), for bios in flight, or for the target's
        worker (flush_workqueue)."""
        task = "/proc/%d/task" % E.ENV.daemon.pid

        def waits():
            out = []
            for tid in os.listdir(task):
                try:
                    with open("%s/%s/wchan" % (task, tid)) as f:
                        out.append(f.read())
                except OSError:
                    pass  # the thread ended
            return out
        past_presuspend = ("synchronize_srcu", "dm_wait_for", "flush_workqueue")
        try:
            E.wait_for(lambda: any(p in w for w in waits() for p in past_presuspend),
                       what="dm-remapd's suspend of the set to wait for the held read")
        except AssertionError as e:
            raise AssertionError("%s; its threads wait in %s" % (e, waits())) from None
        self.release()

    def test_1_cancel_unknown_job(self):
        name, _ = self.call_error(self.job(ROOT + "/jobs/999999").Cancel, dbus.Dictionary({}, signature="sv"))
        self.assertEqual(name, "org.freedesktop.DBus.Error.UnknownObject")

    def start_removal(self, signals, call):
        """The job of the RemoveSpare `call` (a process of its own: the
        call returns only when the spare is gone): its path and properties."""
        self.addCleanup(call.kill)
        added = signals.wait(lambda s: s[1] == "InterfacesAdded" and "/jobs/" in str(s[2][0]), what="the job")
        props = plain(added[2][1])[JOB_IF]
        self.assertEqual(props["Objects"], [DEV])
        return str(added[2][0]), props

    def test_2_cancel_midway(self):
        self.assertEqual(self.live()[SLOW], ON_SLOW)
        signals = Signals()
        call = E.root_call(DEV, DEV_IF, "RemoveSpare", "sa{sv}", [SLOW, {"evacuate": True}])
        path, props = self.start_removal(signals, call)
        self.assertEqual((props["Operation"], props["Cancelable"], props["StartedByUID"]),
                         ("spare-evacuate", True, 0))

        # Someone else, without polkit's word: refused, and the job goes on.
        self.set_polkit([])
        r = as_nobody(path, JOB_IF, "Cancel", "a{sv}", [{}])
        self.assertEqual(r.get("error"), ERR + "NotAuthorized", r)
        self.assertIn(path, self.managed(), "the job ended before the cancel; it must take longer")

        # Once some blocks moved, held midway, the starter cancels. Cancel
        # answers at once (the job is interrupted from a thread of its own,
        # which suspends the set: that waits for the held read).
        progress = self.hold_midway(signals, path)
        t = time.monotonic()
        self.job(path).Cancel(dbus.Dictionary({}, signature="sv"))
        self.release_after_cancel()
        print("canceled at Progress %.3f" % progress)
        done = signals.wait(lambda s: s[0] == path and s[1] == "Completed", what="Completed")
        success, message = plain(done[2])
        self.assertFalse(success, message)
        self.assertTrue(message.startswith(ERR + "Cancelled: "), message)
        signals.wait(lambda s: s[1] == "InterfacesRemoved" and str(s[2][0]) == path, what="the job's removal")
        print("canceled after %.1f s: %s" % (time.monotonic() - t, message))
        # The method's own reply says the same.
        r = json.loads(call.communicate(timeout=60)[0])
        self.assertEqual((r.get("error"), r.get("message")), (ERR + "Cancelled", message[len(ERR + "Cancelled: "):]))

        self.assertEqual(dm_state(SET), "ACTIVE", "the cancel left the device suspended")
        E.wait_for(lambda: self.obj(DEV).Get(DEV_IF, "State", dbus_interface=PROPS_IF) == "active",
                   what="State active")
        self.assertNotIn(path, self.managed())
        live = self.live()
        self.assertIn(SLOW, live, "the spare was removed although canceled")
        self.assertGreater(live[SLOW], 0, "every block moved: the cancel came too late")
        # Progress went above 0 before the cancel: what moved stays moved.
        self.assertLess(live[SLOW], ON_SLOW, "nothing moved off the slow spare, or the cancel undid it")
        print("blocks still on the slow spare: %d of %d" % (live[SLOW], ON_SLOW))
        self.assertDataIntact()
        # Gone once finished: nothing left to cancel.
        name, _ = self.call_error(self.job(path).Cancel, dbus.Dictionary({}, signature="sv"))
        self.assertEqual(name, "org.freedesktop.DBus.Error.UnknownObject")

    def test_3_starter_cancels_without_polkit(self):
        """A job started by uid 65534 (polkit allowing spares) may be
        canceled by that uid with polkit denying everything; another
        non-root uid may not."""
        before = self.live()[SLOW]
        self.assertGreater(before, 0, "test_2 left nothing on the slow spare")
        # How much test_2's evacuation moved before its cancel took depends
        # on the machine's load. Filled up to ON_SLOW again (the slow spare
        # is the first with room, as it is first by index). With half of it
        # (four batches of 64, the last of 8), a CI run saw the evacuation
        # end before the spare was held: Progress comes a batch at a time.
        dev = self.device()
        for b in range(2 * ON_SLOW, 2 * ON_SLOW + ON_SLOW - before):
            self.assertTrue(dev.Remap(dbus.UInt64(b), {}))
            type(self).refilled += 1
        before = self.live()[SLOW]
        signals = Signals()
        self.set_polkit([E.SPARE])
        call = E.nobody_call(DEV, DEV_IF, "RemoveSpare", "sa{sv}", [SLOW, {"evacuate": True}])
        path, props = self.start_removal(signals, call)
        self.assertEqual((props["Operation"], props["Cancelable"], props["StartedByUID"]),
                         ("spare-evacuate", True, E.NOBODY))

        # polkit now denies everything: another non-root uid is refused.
        self.set_polkit([])
        r = as_uid(OTHER_UID, path, JOB_IF, "Cancel", "a{sv}", [{}])
        self.assertEqual(r.get("error"), ERR + "NotAuthorized", r)
        self.assertIn(path, self.managed(), "the job ended before the cancel; it must take longer")

        progress = self.hold_midway(signals, path)
        # The starter, still denied by polkit: allowed as the job's owner,
        # without asking polkit at all.
        self.set_polkit([])
        r = as_nobody(path, JOB_IF, "Cancel", "a{sv}", [{}])
        self.assertNotIn("error", r, r)
        self.release_after_cancel()
        print("canceled at Progress %.3f" % progress)
        self.assertEqual(self.polkit_calls(), [], "the starter's Cancel asked polkit")
        done = signals.wait(lambda s: s[0] == path and s[1] == "Completed", what="Completed")
        success, message = plain(done[2])
        # The daemon's own words on the cancel, if it did not take.
        self.assertFalse(success, message + "\ndm-remapd's log:\n" + E.ENV.log()[-3000:])
        self.assertTrue(message.startswith(ERR + "Cancelled: "), message)
        signals.wait(lambda s: s[1] == "InterfacesRemoved" and str(s[2][0]) == path, what="the job's removal")
        r = json.loads(call.communicate(timeout=60)[0])
        self.assertEqual(r.get("error"), ERR + "Cancelled", r)

        self.assertEqual(dm_state(SET), "ACTIVE", "the cancel left the device suspended")
        E.wait_for(lambda: self.obj(DEV).Get(DEV_IF, "State", dbus_interface=PROPS_IF) == "active",
                   what="State active")
        live = self.live()
        self.assertIn(SLOW, live, "the spare was removed although canceled")
        self.assertGreater(live[SLOW], 0, "every block moved: the cancel came too late")
        self.assertLess(live[SLOW], before, "nothing moved off the slow spare, or the cancel undid it")
        print("blocks still on the slow spare: %d of %d" % (live[SLOW], before))
        self.assertDataIntact()

    def test_4_run_again_finishes(self):
        left = self.live()[SLOW]
        signals = Signals()
        # Returns when the spare is gone, with what moved.
        r = plain(self.device().RemoveSpare(SLOW, {"evacuate": True}, timeout=600))
        self.assertEqual((r["moved"], r["lost"]), (left, 0))
        self.assertEqual(os.path.realpath(r["device"]), os.path.realpath(SLOW))
        done = signals.wait(lambda s: s[1] == "Completed", what="Completed")
        success, message = plain(done[2])
        self.assertTrue(success, message)
        self.assertIn("%d blocks moved, 0 lost" % left, message)
        self.assertNotIn(SLOW, self.live())
        self.assertEqual(self.live()[FAST], ON_SLOW + type(self).refilled)
        self.assertEqual(dm_state(SET), "ACTIVE")
        self.assertDataIntact()


if __name__ == "__main__":
    import testmain
    sys.exit(testmain.main())
